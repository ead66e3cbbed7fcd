//! The Entity Data Model: the typed description of a service that `$metadata` publishes and the
//! binder checks queries against.

use std::fmt;

/// A primitive EDM type. Only the types a query can produce or a property can have are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrimitiveType {
    /// `Edm.Boolean`
    Boolean,
    /// `Edm.Byte`
    Byte,
    /// `Edm.SByte`
    SByte,
    /// `Edm.Int16`
    Int16,
    /// `Edm.Int32`
    Int32,
    /// `Edm.Int64`
    Int64,
    /// `Edm.Decimal`
    Decimal,
    /// `Edm.Single`
    Single,
    /// `Edm.Double`
    Double,
    /// `Edm.String`
    String,
    /// `Edm.Date`
    Date,
    /// `Edm.DateTimeOffset`
    DateTimeOffset,
    /// `Edm.TimeOfDay`
    TimeOfDay,
    /// `Edm.Duration`
    Duration,
    /// `Edm.Guid`
    Guid,
    /// `Edm.Binary`
    Binary,
}

impl PrimitiveType {
    /// All primitive types, in a stable order.
    pub const ALL: [PrimitiveType; 16] = [
        Self::Boolean,
        Self::Byte,
        Self::SByte,
        Self::Int16,
        Self::Int32,
        Self::Int64,
        Self::Decimal,
        Self::Single,
        Self::Double,
        Self::String,
        Self::Date,
        Self::DateTimeOffset,
        Self::TimeOfDay,
        Self::Duration,
        Self::Guid,
        Self::Binary,
    ];

    /// The qualified name, e.g. `Edm.Int32`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "Edm.Boolean",
            Self::Byte => "Edm.Byte",
            Self::SByte => "Edm.SByte",
            Self::Int16 => "Edm.Int16",
            Self::Int32 => "Edm.Int32",
            Self::Int64 => "Edm.Int64",
            Self::Decimal => "Edm.Decimal",
            Self::Single => "Edm.Single",
            Self::Double => "Edm.Double",
            Self::String => "Edm.String",
            Self::Date => "Edm.Date",
            Self::DateTimeOffset => "Edm.DateTimeOffset",
            Self::TimeOfDay => "Edm.TimeOfDay",
            Self::Duration => "Edm.Duration",
            Self::Guid => "Edm.Guid",
            Self::Binary => "Edm.Binary",
        }
    }

    /// Parses a qualified name such as `Edm.Int32` (case-sensitive, as in CSDL).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the type is numeric (takes part in arithmetic and numeric promotion).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::Byte
                | Self::SByte
                | Self::Int16
                | Self::Int32
                | Self::Int64
                | Self::Decimal
                | Self::Single
                | Self::Double
        )
    }

    /// Whether the type is an integer type.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Self::Byte | Self::SByte | Self::Int16 | Self::Int32 | Self::Int64
        )
    }

    /// Rank in OData's numeric promotion order (higher wins), `None` for non-numeric types.
    pub fn numeric_rank(self) -> Option<u8> {
        Some(match self {
            Self::Byte | Self::SByte => 0,
            Self::Int16 => 1,
            Self::Int32 => 2,
            Self::Int64 => 3,
            Self::Decimal => 4,
            Self::Single => 5,
            Self::Double => 6,
            _ => return None,
        })
    }
}

impl fmt::Display for PrimitiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A structural property of an entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Name as it appears in payloads and queries.
    pub name: String,
    /// Primitive type of the property.
    pub ty: PrimitiveType,
    /// Whether the property may be null.
    pub nullable: bool,
}

/// A navigation property. Single-valued: a reference from one entity type to another, resolved
/// through a referential constraint from a local property to the target's key. Collection-valued
/// (`collection`): the entities of the target type whose `referenced_property` holds this
/// entity's `property` (its key): the partner of their single-valued reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavigationProperty {
    /// Name of the navigation property.
    pub name: String,
    /// Unqualified name of the target entity type.
    pub target_type: String,
    /// Whether the reference may be absent (single-valued only).
    pub nullable: bool,
    /// Local property: the foreign key (single-valued) or this entity's key (collection-valued).
    pub property: String,
    /// The target's property it is compared with: its key (single-valued) or its foreign key
    /// (collection-valued).
    pub referenced_property: String,
    /// Whether it leads to a collection of entities.
    pub collection: bool,
    /// The navigation property of the target that leads back, if there is one.
    pub partner: Option<String>,
}

/// An entity type: named properties with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityType {
    /// Unqualified type name.
    pub name: String,
    /// Names of the key properties, in key order.
    pub key: Vec<String>,
    /// Structural properties, in declaration order.
    pub properties: Vec<Property>,
    /// Navigation properties.
    pub navigation: Vec<NavigationProperty>,
}

impl EntityType {
    /// Index of a property by exact name.
    pub fn property_index(&self, name: &str) -> Option<usize> {
        self.properties.iter().position(|p| p.name == name)
    }

    /// The property a client means by `name`: the exact name, else the one property whose name
    /// differs only in case ([`lookup`]).
    pub fn find_property(&self, name: &str) -> Lookup<'_> {
        lookup(self.properties.iter().map(|p| p.name.as_str()), name)
    }

    /// The navigation property a client means by `name` (as [`EntityType::find_property`]).
    pub fn find_navigation(&self, name: &str) -> Lookup<'_> {
        lookup(self.navigation.iter().map(|n| n.name.as_str()), name)
    }

    /// Indices of the key properties in key order.
    pub fn key_indices(&self) -> Vec<usize> {
        self.key
            .iter()
            .map(|k| self.property_index(k).expect("key names a property"))
            .collect()
    }
}

/// An entity set: a named collection of entities of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySet {
    /// Name used in URLs.
    pub name: String,
    /// Index of its entity type in [`Model::entity_types`].
    pub entity_type: usize,
    /// Navigation property bindings: (navigation property name, target entity set name).
    pub navigation_bindings: Vec<(String, String)>,
    /// How it keeps its history, so that it can be read as of a point or over a period of time
    /// (`$at`, `$from`, `$to`); none when it does not.
    pub temporal: Option<TemporalSupport>,
}

/// How an entity set keeps its history (OData Temporal's `Temporal.ApplicationTimeSupport`):
/// its entities are time slices, each an object's state during a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemporalSupport {
    /// Each entity holds a state during a closed-open period of instants (`DateTimeOffset`) its
    /// properties `period_start` and `period_end` bound (null: not ended); `object_key` names the
    /// object whose states they are.
    Periods {
        /// The property that holds when the state began.
        period_start: String,
        /// The property that holds when it ended.
        period_end: String,
        /// The properties that identify the object.
        object_key: Vec<String>,
    },
    /// Each entity is one day's row of an object: its property `day` holds the day (a
    /// `yyyymmdd` integer) as the start and the end of a closed-closed period of one day.
    Days {
        /// The property that names the day.
        day: String,
        /// The properties that identify the object.
        object_key: Vec<String>,
    },
    /// Each entity is one state of an object, which held during a period of instants its
    /// properties do not show: read at a point in time (`$at`), the set holds the states that
    /// held then (a snapshot of the objects), and over a period (`$from`) every state that held
    /// during it. `object_key` names the object whose states they are.
    States {
        /// The properties that identify the object.
        object_key: Vec<String>,
    },
    /// Each entity is an object as it is now, and as it was at the end of any past day
    /// (`$at`; a snapshot set, of days): `as_of_day` names the properties that hold that day's
    /// values, the others keep their current ones.
    DailySnapshots {
        /// The properties read as of the day.
        as_of_day: Vec<String>,
    },
}

impl TemporalSupport {
    /// Whether the set's entities are time slices whose periods `$from`/`$to` select (a
    /// timeline), rather than snapshots read at one point (`$at` only).
    pub fn is_timeline(&self) -> bool {
        !matches!(self, TemporalSupport::DailySnapshots { .. })
    }
}

/// A complete service model: one schema with one entity container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Schema namespace, e.g. `Microsoft.Intune.DataWarehouse`.
    pub namespace: String,
    /// Name of the entity container.
    pub container: String,
    /// Entity types.
    pub entity_types: Vec<EntityType>,
    /// Entity sets of the container.
    pub entity_sets: Vec<EntitySet>,
}

impl Model {
    /// Finds an entity set by exact name.
    pub fn entity_set(&self, name: &str) -> Option<&EntitySet> {
        self.entity_sets.iter().find(|s| s.name == name)
    }

    /// The entity set a client means by `name` (exact, else unique ignoring case).
    pub fn find_entity_set(&self, name: &str) -> Lookup<'_> {
        lookup(self.entity_sets.iter().map(|s| s.name.as_str()), name)
    }

    /// The entity type of an entity set.
    pub fn type_of(&self, set: &EntitySet) -> &EntityType {
        &self.entity_types[set.entity_type]
    }

    /// Finds an entity type by unqualified name.
    pub fn entity_type(&self, name: &str) -> Option<&EntityType> {
        self.entity_types.iter().find(|t| t.name == name)
    }
}

/// What a name a client wrote refers to. Names are resolved as ASP.NET Core OData's
/// case-insensitive resolver does: an exact match always wins; otherwise a match that differs
/// only in (ASCII) case is used when it is the only one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The position of the one name meant.
    Found(usize),
    /// Nothing of that name, in any case.
    Missing,
    /// Several names match ignoring case, none exactly: the candidates.
    Ambiguous(Vec<&'a str>),
}

/// Resolves `wanted` among `names` (see [`Lookup`]).
pub fn lookup<'a>(names: impl Iterator<Item = &'a str> + Clone, wanted: &str) -> Lookup<'a> {
    if let Some(i) = names.clone().position(|n| n == wanted) {
        return Lookup::Found(i);
    }
    let folded: Vec<(usize, &str)> = names
        .enumerate()
        .filter(|(_, n)| n.eq_ignore_ascii_case(wanted))
        .collect();
    match folded.as_slice() {
        [] => Lookup::Missing,
        [(i, _)] => Lookup::Found(*i),
        many => Lookup::Ambiguous(many.iter().map(|(_, n)| *n).collect()),
    }
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    #[test]
    fn exact_wins_then_a_unique_case_insensitive_match() {
        let names = ["dateKey", "DateKey2", "name", "Name"];
        let find = |w| lookup(names.iter().copied(), w);
        assert_eq!(find("dateKey"), Lookup::Found(0));
        assert_eq!(find("DateKey"), Lookup::Found(0));
        assert_eq!(find("DATEKEY2"), Lookup::Found(1));
        assert_eq!(find("Name"), Lookup::Found(3));
        assert_eq!(find("NAME"), Lookup::Ambiguous(vec!["name", "Name"]));
        assert_eq!(find("other"), Lookup::Missing);
    }
}
