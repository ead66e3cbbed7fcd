//! The Intune Data Warehouse model (collections, properties, references, reference rows) and its
//! EDM projection per API version.

use odata::edm::{
    EntitySet, EntityType, Model, NavigationProperty, PrimitiveType, Property, TemporalSupport,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The model document, embedded so the binary is self-contained. A test checks it is identical
/// to the shared reference copy.
pub const MODEL_JSON: &str = include_str!("../model/intune-dw-model.json");

/// Name of the entity container, as in the Intune service URL.
pub const CONTAINER: &str = "DataWarehouseFEService";

/// A published API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `v1.0`: stable.
    V1,
    /// `beta`: v1.0 plus preview collections.
    Beta,
}

impl ApiVersion {
    /// All versions in the order they are listed to users.
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V1, ApiVersion::Beta];

    /// The `api-version` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }

    /// Parses an `api-version` value (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Dimension or fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Descriptive rows with a surrogate key.
    Dimension,
    /// Measurements over time.
    Fact,
}

/// One property of a collection.
#[derive(Debug, Clone, Deserialize)]
pub struct PropertyDef {
    /// camelCase name.
    pub name: String,
    /// EDM type name.
    #[serde(rename = "type")]
    pub ty: String,
    /// Nullability.
    pub nullable: bool,
}

/// One collection of the warehouse.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    /// Entity set name.
    pub name: String,
    /// Dimension or fact.
    pub kind: Kind,
    /// Key property names.
    pub key: Vec<String>,
    /// Properties in order.
    pub properties: Vec<PropertyDef>,
    /// People-facing description.
    pub description: String,
    /// Property name -> referenced collection.
    pub references: BTreeMap<String, String>,
    /// Default history kept, in days (facts).
    pub retention_days: Option<u32>,
    /// Pre-filled rows of lookup dimensions (key assigned by the warehouse).
    pub reference_rows: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Versions that publish the collection.
    pub versions: Vec<String>,
    /// Property name -> position, filled when the model is parsed.
    #[serde(skip)]
    positions: foldhash::HashMap<String, usize>,
    /// The daily fact that records a dimension's changing properties, filled when the model is
    /// parsed ([`Collection::daily_states`]).
    #[serde(skip)]
    daily_states: Option<DailyStates>,
}

/// The daily fact that records some of a dimension's properties each day
/// (`devicePropertyHistories` of `devices`): `collection` holds a row per entity per day with
/// the dimension's key, and `properties` are the dimension's properties it records too.
#[derive(Debug, Clone)]
pub struct DailyStates {
    /// The fact.
    pub collection: String,
    /// The properties both hold (not the key), in the dimension's order.
    pub properties: Vec<String>,
}

impl Collection {
    /// Whether the collection is published in `version`.
    pub fn in_version(&self, version: ApiVersion) -> bool {
        self.versions.iter().any(|v| v == version.as_str())
    }

    /// Index of a property.
    pub fn property_index(&self, name: &str) -> Option<usize> {
        self.positions.get(name).copied()
    }

    /// Position of the `dateKey` property, when the collection has one.
    pub fn date_key_index(&self) -> Option<usize> {
        self.property_index("dateKey")
    }

    /// Whether facts of this collection are filtered by `maxhistorydays`.
    pub fn has_date_key(&self) -> bool {
        self.kind == Kind::Fact && self.property_index("dateKey").is_some()
    }

    /// What bounds each row's validity, for a collection that keeps a row per state (a
    /// dimension's versions, a user's association with a device): when it began
    /// (`startDateInclusiveUTC`, `createdDateTimeUTC`, or for `users` the start the warehouse
    /// records, [`ValidFrom::Recorded`]) and ended (`endDateExclusiveUTC`, `deletedDateUTC`,
    /// `endedDateTimeUTC`, none while it lasts; for `users` the recorded end of a deleted row,
    /// else the time it was written, [`ValidUntil::WhenDeleted`]). Daily facts have none.
    pub fn validity(&self) -> Option<Validity> {
        if self.has_date_key() {
            return None;
        }
        if RECORDED_STATES.contains(&self.name.as_str()) {
            return Some(Validity {
                start: ValidFrom::Recorded,
                end: ValidUntil::WhenDeleted {
                    deleted: self.property_index("isDeleted")?,
                    at: self.property_index("rowLastModifiedDateTimeUTC")?,
                },
            });
        }
        let start = self
            .property_index("startDateInclusiveUTC")
            .or_else(|| self.property_index("createdDateTimeUTC"))?;
        let end = ["endDateExclusiveUTC", "deletedDateUTC", "endedDateTimeUTC"]
            .iter()
            .find_map(|name| self.property_index(name))?;
        Some(Validity {
            start: ValidFrom::Property(start),
            end: ValidUntil::Property(end),
        })
    }

    /// The daily fact that records the dimension's changing properties, which reads it as it
    /// was at the end of a day (`$at`).
    pub fn daily_states(&self) -> Option<&DailyStates> {
        self.daily_states.as_ref()
    }

    /// How the collection keeps its history, as `$metadata` describes it: a dimension's rows
    /// are the states of the object its natural id names (else its key but the state's start),
    /// each during its validity; a daily fact's rows are an object's days (its key without
    /// `dateKey`); a dimension with daily states is read as it was at the end of a day.
    pub fn temporal_support(&self) -> Option<TemporalSupport> {
        let name = |i: usize| self.properties[i].name.clone();
        if self.has_date_key() {
            return Some(TemporalSupport::Days {
                day: "dateKey".into(),
                object_key: self
                    .key
                    .iter()
                    .filter(|k| *k != "dateKey")
                    .cloned()
                    .collect(),
            });
        }
        if let Some(states) = &self.daily_states {
            return Some(TemporalSupport::DailySnapshots {
                as_of_day: states.properties.clone(),
            });
        }
        let validity = self.validity()?;
        let (ValidFrom::Property(start), ValidUntil::Property(end)) =
            (validity.start, validity.end)
        else {
            // states whose bounds are not properties: read at a point in time, each entity as
            // the state of its object that held then
            return Some(TemporalSupport::States {
                object_key: self.natural_id().map(name).into_iter().collect(),
            });
        };
        let object_key = match self.natural_id() {
            Some(id) => vec![name(id)],
            // the key but the state's start (a user's association with a device)
            None => self
                .key
                .iter()
                .filter(|k| **k != name(start))
                .cloned()
                .collect(),
        };
        Some(TemporalSupport::Periods {
            period_start: name(start),
            period_end: name(end),
            object_key,
        })
    }

    /// The property that holds the source's id of a dimension's object (whose states its rows
    /// are): the key's name with `Id` for `Key` (`policyKey`: `policyId`), else its only
    /// property named `...Id`.
    pub(crate) fn natural_id(&self) -> Option<usize> {
        let from_key = self
            .key
            .first()
            .and_then(|k| k.strip_suffix("Key"))
            .and_then(|stem| self.property_index(&format!("{stem}Id")));
        let mut ids = self
            .properties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.name.ends_with("Id"));
        from_key.or_else(|| match (ids.next(), ids.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        })
    }
}

/// The dimensions whose rows are states without properties that say when they began: a change
/// ends the live row (`isDeleted`, at `rowLastModifiedDateTimeUTC`) and adds a new one, whose
/// start the warehouse records ([`crate::sql::validity::VALID_FROM_COLUMN`]).
const RECORDED_STATES: &[&str] = &["users"];

/// What bounds when a dimension's row held its state: from `start` (inclusive) to `end`
/// (exclusive; none while it lasts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// When the state began.
    pub start: ValidFrom,
    /// When it ended.
    pub end: ValidUntil,
}

/// Where a row's state begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidFrom {
    /// The property at this position.
    Property(usize),
    /// The column the warehouse records it in (null: before it recorded starts).
    Recorded,
}

/// Where a row's state ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidUntil {
    /// The property at this position (null while it lasts).
    Property(usize),
    /// The recorded end ([`crate::sql::validity::VALID_UNTIL_COLUMN`]), else the time at
    /// position `at`, of a row whose flag at position `deleted` is set (a row not deleted
    /// lasts).
    WhenDeleted {
        /// The flag's position.
        deleted: usize,
        /// The time's position.
        at: usize,
    },
}

#[derive(Debug, Deserialize)]
struct Document {
    namespace: String,
    collections: Vec<Collection>,
}

/// The warehouse model with its per-version EDM models.
#[derive(Debug)]
pub struct Warehouse {
    /// Schema namespace.
    pub namespace: String,
    /// All collections (all versions).
    pub collections: Vec<Collection>,
    /// Collection name -> position in `collections`.
    positions: foldhash::HashMap<String, usize>,
    v1: Model,
    beta: Model,
}

impl Warehouse {
    /// The process-wide model, parsed once.
    pub fn get() -> &'static Warehouse {
        static MODEL: OnceLock<Warehouse> = OnceLock::new();
        MODEL.get_or_init(|| Warehouse::parse(MODEL_JSON).expect("embedded model is valid"))
    }

    /// Parses a model document.
    pub fn parse(json: &str) -> Result<Warehouse, String> {
        let mut doc: Document = serde_json::from_str(json).map_err(|e| e.to_string())?;
        for c in &mut doc.collections {
            for (i, p) in c.properties.iter().enumerate() {
                if PrimitiveType::from_name(&p.ty).is_none() {
                    return Err(format!("{}.{}: unknown type {}", c.name, p.name, p.ty));
                }
                c.positions.insert(p.name.clone(), i);
            }
        }
        link_daily_states(&mut doc.collections);
        let v1 = edm(&doc, ApiVersion::V1);
        let beta = edm(&doc, ApiVersion::Beta);
        let positions = doc
            .collections
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Ok(Warehouse {
            namespace: doc.namespace,
            collections: doc.collections,
            positions,
            v1,
            beta,
        })
    }

    /// The EDM model of a version.
    pub fn edm(&self, version: ApiVersion) -> &Model {
        match version {
            ApiVersion::V1 => &self.v1,
            ApiVersion::Beta => &self.beta,
        }
    }

    /// A collection by exact name (any version).
    pub fn collection(&self, name: &str) -> Option<&Collection> {
        self.positions.get(name).map(|i| &self.collections[*i])
    }
}

/// Gives each dimension whose changing properties a daily fact records (`devices`:
/// `devicePropertyHistories`, named after its entity type and keyed by its key and `dateKey`)
/// that fact and the properties both hold.
fn link_daily_states(collections: &mut [Collection]) {
    let links: Vec<(usize, DailyStates)> = collections
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == Kind::Dimension && c.key.len() == 1)
        .filter_map(|(i, c)| {
            let name = format!("{}PropertyHistories", entity_type_name(&c.name));
            let fact = collections.iter().find(|f| {
                f.name == name && f.has_date_key() && f.key.len() == 2 && f.key.contains(&c.key[0])
            })?;
            let properties = c
                .properties
                .iter()
                .map(|p| p.name.clone())
                .filter(|p| *p != c.key[0] && fact.property_index(p).is_some())
                .collect();
            Some((
                i,
                DailyStates {
                    collection: fact.name.clone(),
                    properties,
                },
            ))
        })
        .collect();
    for (i, states) in links {
        collections[i].daily_states = Some(states);
    }
}

/// Entity type name of a collection: the singular of its set name (`devices` -> `device`).
pub fn entity_type_name(collection: &str) -> String {
    if collection.ends_with("termsAndConditions") {
        return collection.to_string();
    }
    if let Some(stem) = collection.strip_suffix("ies") {
        return format!("{stem}y");
    }
    if let Some(stem) = collection.strip_suffix("uses") {
        return format!("{stem}us");
    }
    collection
        .strip_suffix('s')
        .unwrap_or(collection)
        .to_string()
}

/// Navigation property name for a reference property (`deviceTypeKey` -> `deviceType`).
pub fn navigation_name(property: &str) -> String {
    property.strip_suffix("Key").unwrap_or(property).to_string()
}

/// Whether entities of `target` get a collection-valued navigation property to the rows of
/// `source` that refer to them (`devices` -> `devicePropertyHistories`): `source` is a fact (or
/// association) and `target` a dimension of its own entities, not a lookup of fixed rows or the
/// calendar, whose collections would hold a large part of every fact.
fn has_facts_navigation(source: &Collection, target: &Collection) -> bool {
    source.kind == Kind::Fact
        && target.kind == Kind::Dimension
        && target.reference_rows.is_empty()
        && target.name != "dates"
}

fn edm(doc: &Document, version: ApiVersion) -> Model {
    let collections: Vec<&Collection> = doc
        .collections
        .iter()
        .filter(|c| c.in_version(version))
        .collect();
    let mut entity_types = Vec::new();
    let mut entity_sets = Vec::new();
    for (i, c) in collections.iter().enumerate() {
        let mut navigation = Vec::new();
        let mut bindings = Vec::new();
        for (prop, target) in &c.references {
            let Some(t) = collections.iter().find(|x| &x.name == target) else {
                continue;
            };
            let p = &c.properties[c.property_index(prop).expect("reference names a property")];
            let name = navigation_name(prop);
            navigation.push(NavigationProperty {
                name: name.clone(),
                target_type: entity_type_name(&t.name),
                nullable: p.nullable,
                property: prop.clone(),
                referenced_property: t.key[0].clone(),
                collection: false,
                partner: has_facts_navigation(c, t).then(|| c.name.clone()),
            });
            bindings.push((name, t.name.clone()));
        }
        // the facts and associations that refer to this entity
        for f in &collections {
            for (prop, target) in &f.references {
                if target == &c.name && has_facts_navigation(f, c) {
                    navigation.push(NavigationProperty {
                        name: f.name.clone(),
                        target_type: entity_type_name(&f.name),
                        nullable: false,
                        property: c.key[0].clone(),
                        referenced_property: prop.clone(),
                        collection: true,
                        partner: Some(navigation_name(prop)),
                    });
                    bindings.push((f.name.clone(), f.name.clone()));
                }
            }
        }
        entity_types.push(EntityType {
            name: entity_type_name(&c.name),
            key: c.key.clone(),
            properties: c
                .properties
                .iter()
                .map(|p| Property {
                    name: p.name.clone(),
                    ty: PrimitiveType::from_name(&p.ty).expect("checked"),
                    nullable: p.nullable,
                })
                .collect(),
            navigation,
        });
        entity_sets.push(EntitySet {
            name: c.name.clone(),
            entity_type: i,
            navigation_bindings: bindings,
            temporal: c.temporal_support(),
        });
    }
    Model {
        namespace: doc.namespace.clone(),
        container: CONTAINER.to_string(),
        entity_types,
        entity_sets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_names() {
        let w = Warehouse::get();
        assert!(w.edm(ApiVersion::Beta).entity_set("currentUsers").is_some());
        assert!(w.edm(ApiVersion::V1).entity_set("currentUsers").is_none());
        assert_eq!(entity_type_name("policies"), "policy");
        assert_eq!(
            entity_type_name("enrollmentEventStatuses"),
            "enrollmentEventStatus"
        );
        assert_eq!(entity_type_name("devices"), "device");
        for v in ApiVersion::ALL {
            let m = w.edm(v);
            let mut names: Vec<_> = m.entity_types.iter().map(|t| t.name.clone()).collect();
            names.sort();
            names.dedup();
            assert_eq!(
                names.len(),
                m.entity_types.len(),
                "entity type names are unique"
            );
            for t in &m.entity_types {
                for n in &t.navigation {
                    assert!(
                        t.property_index(&n.name).is_none(),
                        "{}.{} collides",
                        t.name,
                        n.name
                    );
                }
            }
        }
    }
}
