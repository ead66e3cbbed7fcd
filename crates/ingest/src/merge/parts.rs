//! The sources merged after devices, users and categories, each one [`Part`]: parsed on a
//! thread of its own while devices and users are merged, then merged in registry order
//! ([`crate::sources::PARTS`]), building on what that merge left ([`Merged`]).

use crate::map::core::Snapshot;
use crate::map::values::collection;
use crate::merge::context::{select, Context};
use crate::read::sources::{Source, Sources};
use crate::IngestError;
use crate::IngestSummary;
use foldhash::{HashMap, HashMapExt};
use warehouse::sql::dml::Condition;
use warehouse::sql::SqlValue;

/// A source (or a few that belong together) merged after devices, users and categories.
pub(crate) trait Part: Send {
    /// Merges it into the warehouse; `merged` holds what the merge of devices and users, and
    /// the parts merged before this one, built.
    fn apply(&self, context: &mut Context<'_>, merged: &mut Merged<'_>) -> Result<(), IngestError>;
}

/// A part's line in the registry: what it reads, how it is parsed, its stage.
pub(crate) struct PartEntry {
    /// Its name in the stage log.
    pub(crate) stage: &'static str,
    /// The Graph sources it reads.
    pub(crate) sources: &'static [Source],
    /// Validates and converts its records for the snapshot of `day`, counting values it does
    /// not know in the summary.
    pub(crate) parse: ParsePart,
}

/// Validates and converts a part's records for the snapshot of a day, counting values it does
/// not know in the summary.
pub(crate) type ParsePart =
    fn(&Sources, time::Date, &mut IngestSummary) -> Result<Box<dyn Part>, IngestError>;

/// The parts of a snapshot as parsed, each with its registry line.
pub(crate) type ParsedParts = Vec<(&'static PartEntry, Box<dyn Part>)>;

/// The parts of a snapshot when the merge gets to them (they may still be being parsed), with
/// the summary of their parsing.
pub(crate) type LaterParts<'a> =
    dyn FnMut() -> Result<(ParsedParts, IngestSummary), IngestError> + 'a;

/// What the parts build on: the day's devices and their keys, the live users, and what earlier
/// parts leave for later ones.
pub(crate) struct Merged<'a> {
    /// The day's devices, users and categories.
    pub(crate) snapshot: &'a Snapshot,
    /// Device key by device id.
    pub(crate) device_keys: HashMap<String, i64>,
    /// The live users' keys, once every user of the day is merged.
    pub(crate) users: LiveUsers,
    /// The display name of the first app with each bundle or package id, if it has one, once
    /// the apps are merged (app protection names its apps by them).
    pub(crate) app_names: HashMap<String, Option<String>>,
}

impl<'a> Merged<'a> {
    /// What the merge of `snapshot` built: `device_keys` (device key by device id) and the live
    /// users `context` now holds.
    pub(crate) fn new(
        context: &mut Context<'_>,
        snapshot: &'a Snapshot,
        device_keys: HashMap<String, i64>,
    ) -> Result<Self, IngestError> {
        Ok(Self {
            snapshot,
            device_keys,
            users: live_users(context)?,
            app_names: HashMap::new(),
        })
    }
}

/// The live users' keys.
pub(crate) struct LiveUsers {
    /// By user id.
    pub(crate) by_id: HashMap<String, i64>,
    /// By principal name.
    pub(crate) by_principal: HashMap<String, i64>,
}

/// The live users' keys by user id and by principal name.
fn live_users(context: &mut Context<'_>) -> Result<LiveUsers, IngestError> {
    let not_deleted = [Condition::Equals("isDeleted", SqlValue::Boolean(false))];
    let live = select(
        context.tx,
        context.dialect,
        context.tenant,
        collection("users"),
        &["userKey", "userId", "userPrincipalName"],
        &not_deleted,
    )?;
    let mut users = LiveUsers {
        by_id: HashMap::new(),
        by_principal: HashMap::new(),
    };
    for r in live {
        let mut r = r.into_iter();
        let (Some(SqlValue::Integer(k)), Some(id), Some(principal)) =
            (r.next(), r.next(), r.next())
        else {
            continue;
        };
        if let SqlValue::Text(u) = id {
            users.by_id.insert(u, k);
        }
        if let SqlValue::Text(p) = principal {
            users.by_principal.insert(p, k);
        }
    }
    Ok(users)
}
