//! Terms and conditions: the `termsAndConditions` dimension (a row per version) and the users'
//! acceptances (`userTermsAndConditionsAcceptances`, one row per acceptance, dated on the day of
//! the acceptance and kept forever).

use crate::map::values::{collection, int, ordered, text, unmatched};
use crate::merge::context::{rows, select, written, Context};
use crate::merge::history::{self, Columns, Entity};
use crate::merge::parts::{Merged, Part, PartEntry};
use crate::read::graph::each;
use crate::read::sources::{children_of, source, Source};
use crate::IngestError;
use crate::Sources;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use warehouse::calendar::date_key;
use warehouse::sql::dml;
use warehouse::sql::SqlValue;
use warehouse::store::Cell;

/// One user's acceptance of a version.
struct Acceptance {
    /// The user's principal name (or id).
    user: String,
    version: Option<i64>,
    accepted: Option<i64>,
}

/// A terms-and-conditions document of the snapshot.
struct Terms {
    entity: Entity,
    acceptances: Vec<Acceptance>,
}

/// The terms and conditions of a snapshot.
/// The registry's line ([`crate::sources::PARTS`]).
pub(crate) const PART: PartEntry = PartEntry {
    stage: "terms and conditions",
    sources: &[Source {
        children: &["acceptanceStatuses"],
        ..source(
            "termsAndConditions",
            "deviceManagement/termsAndConditions",
            "DeviceManagementServiceConfig.Read.All",
        )
    }],
    parse: |sources, _, _| Ok(Box::new(TermsAndConditions::parse(sources)?)),
};

impl Part for TermsAndConditions {
    fn apply(&self, context: &mut Context<'_>, merged: &mut Merged<'_>) -> Result<(), IngestError> {
        self.merge(context, &merged.users.by_principal)
    }
}

pub struct TermsAndConditions {
    /// `None` when the snapshot lacks the source (the warehouse's rows stay as they are).
    list: Option<Vec<Terms>>,
}

impl TermsAndConditions {
    /// Reads `termsAndConditions` and each document's `acceptanceStatuses`.
    pub fn parse(sources: &Sources) -> Result<Self, IngestError> {
        let Some((file, records)) = sources.get("termsAndConditions") else {
            return Ok(Self { list: None });
        };
        let mut seen = HashSet::new();
        let mut list = each(file, records, |f| {
            let id = f.unique_id(&mut seen, "terms and conditions")?;
            Ok(Terms {
                entity: Entity {
                    id,
                    values: vec![
                        ("termsAndConditionsVersion", int(f.integer("version")?)),
                        ("name", text(f.string("displayName")?)),
                        ("description", text(f.string("description")?)),
                        ("title", text(f.string("title")?)),
                        ("summaryOfTerms", text(f.string("acceptanceStatement")?)),
                        ("termsAndConditionsBodyText", text(f.string("bodyText")?)),
                    ],
                    created: f.timestamp("createdDateTime")?,
                },
                acceptances: Vec::new(),
            })
        })?;
        let children = children_of(
            sources,
            ("termsAndConditions", "acceptanceStatuses"),
            &list,
            |t| &t.entity.id,
            "terms and conditions",
        )?;
        for (i, file, records) in children {
            list[i].acceptances = each(file, records, |f| {
                Ok(Acceptance {
                    user: match f.string("userPrincipalName")? {
                        Some(u) if !u.is_empty() => u,
                        _ => f.id("id")?,
                    },
                    version: f.integer("acceptedVersion")?,
                    accepted: f.timestamp("acceptedDateTime")?,
                })
            })?;
        }
        Ok(Self { list: Some(list) })
    }

    /// Merges the documents and records acceptances not yet in the warehouse; `users` gives the
    /// live user key by principal name.
    fn merge(
        &self,
        context: &mut Context<'_>,
        users: &HashMap<String, i64>,
    ) -> Result<(), IngestError> {
        let Some(list) = &self.list else {
            return Ok(());
        };
        let entities: Vec<Entity> = list.iter().map(|t| t.entity.clone()).collect();
        history::merge(
            context,
            "termsAndConditions",
            &Columns {
                modified: None,
                ..Columns::soft_deleted(
                    "termsAndConditionsKey",
                    "termsAndConditionsId",
                    "endDateExclusiveUTC",
                )
            },
            &entities,
        )?;
        let stored_terms = rows(
            context.tx,
            context.dialect,
            context.tenant,
            collection("termsAndConditions"),
        )?;
        let versions = version_keys(&stored_terms);
        let user_rows = select(
            context.tx,
            context.dialect,
            context.tenant,
            collection("users"),
            &["userKey", "userId"],
            &[],
        )?;
        let person = people(&user_rows);
        let mut recorded = recorded_acceptances(context, &person)?;
        for doc in list {
            for a in &doc.acceptances {
                let Some(user) = users.get(&a.user) else {
                    unmatched(context.summary, "acceptances by users not in users".into());
                    continue;
                };
                let Some(terms_key) = versions.get(&(doc.entity.id.as_str(), a.version)) else {
                    unmatched(
                        context.summary,
                        "acceptances of versions the warehouse never saw".into(),
                    );
                    continue;
                };
                let Some(accepted) = a.accepted else {
                    unmatched(
                        context.summary,
                        "acceptances without acceptedDateTime".into(),
                    );
                    continue;
                };
                let day =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(accepted) * 1000)
                        .map_err(|e| IngestError::run(e.to_string()))?
                        .date();
                let dk = date_key(day);
                let who = person.get(user).copied().unwrap_or_default();
                if !recorded.insert((dk, who, *terms_key)) {
                    continue;
                }
                context.ensure_date(day)?;
                let facts = collection("userTermsAndConditionsAcceptances");
                context.tx.insert(
                    "userTermsAndConditionsAcceptances",
                    &ordered(
                        facts,
                        &[
                            ("dateKey", SqlValue::Integer(dk)),
                            ("userKey", SqlValue::Integer(*user)),
                            ("termsAndConditionsKey", SqlValue::Integer(*terms_key)),
                            ("acceptedDateTimeUTC", SqlValue::Timestamp(accepted)),
                            ("lastModifiedDateTimeUTC", SqlValue::Timestamp(accepted)),
                        ],
                    ),
                )?;
                written(context.summary, "userTermsAndConditionsAcceptances", 1);
            }
        }
        Ok(())
    }
}

/// Every stored version's key by (document id, version).
fn version_keys(stored: &[Vec<SqlValue>]) -> HashMap<(&str, Option<i64>), i64> {
    let terms = collection("termsAndConditions");
    let idx = |n: &str| {
        terms
            .property_index(n)
            .expect("termsAndConditions property")
    };
    let (key, id, version) = (
        idx("termsAndConditionsKey"),
        idx("termsAndConditionsId"),
        idx("termsAndConditionsVersion"),
    );
    let mut versions = HashMap::new();
    for r in stored {
        if let (SqlValue::Text(i), SqlValue::Integer(k)) = (&r[id], &r[key]) {
            let v = match r[version] {
                SqlValue::Integer(v) => Some(v),
                _ => None,
            };
            versions.insert((i.as_str(), v), *k);
        }
    }
    versions
}

/// The person each user row is (its first key of the same user id), by user key from the
/// `(userKey, userId)` rows: a user's later history rows have other keys but the same
/// acceptances, and comparing integers is cheaper than comparing ids.
fn people(user_rows: &[Vec<SqlValue>]) -> HashMap<i64, i64> {
    let mut first_key: HashMap<&str, i64> = HashMap::with_capacity(user_rows.len());
    user_rows
        .iter()
        .filter_map(|r| match (&r[0], &r[1]) {
            (SqlValue::Integer(k), SqlValue::Text(u)) => {
                Some((*k, *first_key.entry(u.as_str()).or_insert(*k)))
            }
            _ => None,
        })
        .collect()
}

/// The acceptances already recorded, as (dateKey, person, terms key).
fn recorded_acceptances(
    context: &mut Context<'_>,
    person: &HashMap<i64, i64>,
) -> Result<HashSet<(i64, i64, i64)>, IngestError> {
    let facts = collection("userTermsAndConditionsAcceptances");
    let mut recorded = HashSet::new();
    context.tx.query(
        &dml::select(
            context.dialect,
            context.tenant,
            &facts.name,
            &["dateKey", "userKey", "termsAndConditionsKey"],
            &[],
            &facts.key[0],
        ),
        &mut |row| {
            if let (Cell::Integer(day), Cell::Integer(user), Cell::Integer(terms)) =
                (row.cell(0), row.cell(1), row.cell(2))
            {
                if let Some(p) = person.get(&user) {
                    recorded.insert((day, *p, terms));
                }
            }
        },
    )?;
    Ok(recorded)
}
