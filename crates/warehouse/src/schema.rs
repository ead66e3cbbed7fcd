//! Versioned schema migrations, generated from the model for a dialect.

use crate::model::{Kind, Warehouse};
use crate::sql::changes::{CHANGED_COLUMN, PUBLICATIONS_TABLE, REMOVED_TABLE};
pub use crate::sql::counts::{COUNTS_TABLE, VALUE_COUNTS, VALUE_COUNTS_TABLE};
use crate::sql::validity::{recorded_dimensions, VALID_FROM_COLUMN, VALID_UNTIL_COLUMN};
use crate::sql::{Dialect, TENANT_COLUMN_NAME};
use odata::edm::PrimitiveType;

/// One migration: a version number, a name and its statements.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Strictly increasing version.
    pub version: i64,
    /// What it does.
    pub name: &'static str,
    /// Statements, run in one transaction.
    pub statements: Vec<String>,
}

/// Table recording applied migrations.
pub const MIGRATIONS_TABLE: &str = "_dw_migrations";
pub use crate::sql::TENANTS_TABLE;
/// The migration that adds [`COUNTS_TABLE`]: a store upgraded past it has every tenant
/// counted once ([`recount`]).
pub const COUNTS_MIGRATION: i64 = 5;

/// The migration that adds [`REPORT_INDEXES`].
pub const REPORT_INDEXES_MIGRATION: i64 = 6;

/// The migration that adds [`NAVIGATION_INDEXES`].
pub const NAVIGATION_INDEXES_MIGRATION: i64 = 7;

/// The migration that adds [`VALUE_COUNTS_TABLE`]: a store upgraded past it has every tenant
/// counted once.
pub const VALUE_COUNTS_MIGRATION: i64 = 8;

/// The migration that records changes for delta links ([`crate::sql::changes`]).
pub const CHANGES_MIGRATION: i64 = 9;
/// The migration that adds [`VALID_FROM_COLUMN`] and [`VALID_UNTIL_COLUMN`] to the dimensions
/// with recorded states: a store
/// upgraded past it has every tenant's rows given their start once
/// ([`crate::sql::validity::record_state_starts`]).
pub const STATE_STARTS_MIGRATION: i64 = 10;

/// All migrations, oldest first.
pub fn migrations(d: &dyn Dialect) -> Vec<Migration> {
    let q = |s: &str| d.quote(s);
    vec![
        Migration {
            version: 1,
            name: "warehouse tables for every collection of the model",
            statements: initial(d),
        },
        Migration {
            version: 2,
            name: "user-device associations by device (ingestion ends them by device)",
            statements: vec![format!(
                "CREATE INDEX {} ON {} ({}, {})",
                q("userDeviceAssociations_deviceKey"),
                q("userDeviceAssociations"),
                q(TENANT_COLUMN_NAME),
                q("deviceKey")
            )],
        },
        Migration {
            version: 3,
            name: "lookup ids spelled as Microsoft does (deviceTypeID, ...); policyTypeKey on the policy activities",
            statements: LOOKUP_ID_RENAMES
                .iter()
                .map(|(table, before, after)| {
                    format!(
                        "ALTER TABLE {} RENAME COLUMN {} TO {}",
                        q(table),
                        q(before),
                        q(after)
                    )
                })
                .chain(ADDED_IN_3.iter().map(|(table, column)| {
                    format!(
                        "ALTER TABLE {} ADD COLUMN {} {}",
                        q(table),
                        q(column),
                        d.column_type(PrimitiveType::Int32)
                    )
                }))
                .collect(),
        },
        Migration {
            version: 4,
            name: "indexes for how the large collections are queried (natural ids, names, entity keys of facts)",
            statements: QUERY_INDEXES.iter().map(|i| create_index(d, i)).collect(),
        },
        Migration {
            version: COUNTS_MIGRATION,
            name: "row counts per tenant, collection and day, kept by each publication",
            statements: {
                let int = d.column_type(PrimitiveType::Int64);
                let text = d.column_type(PrimitiveType::String);
                let mut statements = vec![format!(
                    "CREATE TABLE {} ({} {int} NOT NULL, collection {text} NOT NULL, date_key {int} NOT NULL, row_count {int} NOT NULL, PRIMARY KEY ({}, collection, date_key)){}",
                    q(COUNTS_TABLE),
                    q(TENANT_COLUMN_NAME),
                    q(TENANT_COLUMN_NAME),
                    d.table_options()
                )];
                statements.extend(d.tenant_isolation(COUNTS_TABLE));
                statements
            },
        },
        Migration {
            version: REPORT_INDEXES_MIGRATION,
            name: "indexes that let aggregation reports read an index alone (compliance by day)",
            statements: REPORT_INDEXES.iter().map(|i| create_index(d, i)).collect(),
        },
        Migration {
            version: NAVIGATION_INDEXES_MIGRATION,
            name: "indexes for the collection-valued navigation properties of users and MAM app instances (their check-ins)",
            statements: NAVIGATION_INDEXES.iter().map(|i| create_index(d, i)).collect(),
        },
        Migration {
            version: VALUE_COUNTS_MIGRATION,
            name: "row counts per day and value of the properties reports group by, kept by each publication",
            statements: {
                let int = d.column_type(PrimitiveType::Int64);
                let text = d.column_type(PrimitiveType::String);
                let table = q(VALUE_COUNTS_TABLE);
                let mut statements = vec![
                    format!(
                        "CREATE TABLE {table} ({} {int} NOT NULL, collection {text} NOT NULL, property {text} NOT NULL, {} {int} NOT NULL, value {int}, row_count {int} NOT NULL)",
                        q(TENANT_COLUMN_NAME),
                        q("dateKey"),
                    ),
                    format!(
                        "CREATE INDEX {} ON {table} ({}, collection, property, {})",
                        q(&format!("{VALUE_COUNTS_TABLE}_day")),
                        q(TENANT_COLUMN_NAME),
                        q("dateKey")
                    ),
                ];
                statements.extend(d.tenant_isolation(VALUE_COUNTS_TABLE));
                statements
            },
        },
        Migration {
            version: CHANGES_MIGRATION,
            name: "changes recorded for delta links: the publication that last wrote each row, deleted rows, days each publication wrote",
            statements: changes_migration(d),
        },
        Migration {
            version: STATE_STARTS_MIGRATION,
            name: "when each state of a user began, so that users can be read as of a point in time",
            statements: recorded_dimensions()
                .flat_map(|name| {
                    [VALID_FROM_COLUMN, VALID_UNTIL_COLUMN].map(|column| {
                        format!(
                            "ALTER TABLE {} ADD COLUMN {} {}",
                            q(name),
                            q(column),
                            d.column_type(PrimitiveType::DateTimeOffset)
                        )
                    })
                })
                .collect(),
        },
    ]
}

/// Indexes migration 9 adds: the collections whose rows a delta finds by [`CHANGED_COLUMN`], those
/// with a row per device or user and no `dateKey` (a daily fact's delta reads the days written
/// since; the other dimensions hold a few hundred rows, read whole).
pub const CHANGED_INDEXES: &[QueryIndex] = &[
    index("devices", &[CHANGED_COLUMN]),
    index("users", &[CHANGED_COLUMN]),
    index("currentUsers", &[CHANGED_COLUMN]),
    index("mamApplicationInstances", &[CHANGED_COLUMN]),
    index("userDeviceAssociations", &[CHANGED_COLUMN]),
];

/// Migration 9: [`CHANGED_COLUMN`] on every collection (indexed: [`CHANGED_INDEXES`]),
/// [`REMOVED_TABLE`], [`PUBLICATIONS_TABLE`], and each tenant's `changes_since` (changes are
/// told from the tenant's current publication on).
fn changes_migration(d: &dyn Dialect) -> Vec<String> {
    let q = |s: &str| d.quote(s);
    let int = d.column_type(PrimitiveType::Int64);
    let text = d.column_type(PrimitiveType::String);
    let mut out = Vec::new();
    for c in &Warehouse::get().collections {
        out.push(format!(
            "ALTER TABLE {} ADD COLUMN {} {int}",
            q(&c.name),
            q(CHANGED_COLUMN)
        ));
    }
    out.extend(CHANGED_INDEXES.iter().map(|i| create_index(d, i)));
    out.push(format!(
        "CREATE TABLE {} (id {}, {} {int} NOT NULL, collection {text} NOT NULL, generation {int} NOT NULL, entities {text} NOT NULL)",
        q(REMOVED_TABLE),
        d.auto_id(),
        q(TENANT_COLUMN_NAME)
    ));
    out.push(format!(
        "CREATE INDEX {} ON {} ({}, collection, id)",
        q(&format!("{REMOVED_TABLE}_collection")),
        q(REMOVED_TABLE),
        q(TENANT_COLUMN_NAME)
    ));
    out.extend(d.tenant_isolation(REMOVED_TABLE));
    out.push(format!(
        "CREATE TABLE {} ({} {int} NOT NULL, generation {int} NOT NULL, changed_from {int}, PRIMARY KEY ({}, generation)){}",
        q(PUBLICATIONS_TABLE),
        q(TENANT_COLUMN_NAME),
        q(TENANT_COLUMN_NAME),
        d.table_options()
    ));
    out.extend(d.tenant_isolation(PUBLICATIONS_TABLE));
    out.push(format!(
        "ALTER TABLE {} ADD COLUMN changes_since {int}",
        q(TENANTS_TABLE)
    ));
    out.push(format!(
        "UPDATE {} SET changes_since = generation",
        q(TENANTS_TABLE)
    ));
    out
}

/// A statement of [`recount`] and whether it takes the day to count from as parameter 2.
pub type RecountStatement = (String, bool);

/// Statements that bring one tenant's [`COUNTS_TABLE`] (and [`VALUE_COUNTS_TABLE`]) rows up to
/// date; the tenant id is
/// parameter 1. Collections without a `dateKey` are counted whole (they are dimensions, or
/// associations, of at most a few rows per device or user, counted from an index); collections
/// with one are counted again from the day given as parameter 2 on (the earliest day the
/// publication changed, see [`crate::store::ChangedDays`]; `i64::MIN` counts every day), and
/// lose the counts of days before their oldest row (removed by retention). A store runs them
/// inside each publication's transaction, and once per tenant with every day when
/// [`COUNTS_MIGRATION`] is applied. A daily ingestion so counts one day per fact collection
/// instead of all of them.
pub fn recount(d: &dyn Dialect) -> Vec<RecountStatement> {
    let q = |s: &str| d.quote(s);
    let tenant = d.placeholder(1, &crate::sql::SqlValue::Integer(0));
    let from = d.placeholder(2, &crate::sql::SqlValue::Integer(0));
    let (counts, tenant_column) = (q(COUNTS_TABLE), q(TENANT_COLUMN_NAME));
    let mut out = Vec::new();
    let values = q(VALUE_COUNTS_TABLE);
    for (name, property) in VALUE_COUNTS {
        // identifiers from the model only
        let (table, day, column) = (q(name), q("dateKey"), q(property));
        out.push((
            format!(
                "DELETE FROM {values} WHERE {tenant_column} = {tenant} AND collection = '{name}' AND property = '{property}' AND ({day} >= {from} OR {day} < (SELECT COALESCE(MIN({day}), {from}) FROM {table} WHERE {tenant_column} = {tenant}))"
            ),
            true,
        ));
        out.push((
            format!(
                "INSERT INTO {values} ({tenant_column}, collection, property, {day}, value, row_count) SELECT {tenant}, '{name}', '{property}', {day}, {column}, COUNT(*) FROM {table} WHERE {tenant_column} = {tenant} AND {day} >= {from} GROUP BY {day}, {column}"
            ),
            true,
        ));
    }
    for c in &Warehouse::get().collections {
        // identifiers from the model only; the name is also the collection's key in the table
        let (name, table) = (&c.name, q(&c.name));
        if c.date_key_index().is_some() {
            let day = q("dateKey");
            out.push((
                format!(
                    "DELETE FROM {counts} WHERE {tenant_column} = {tenant} AND collection = '{name}' AND (date_key >= {from} OR date_key < (SELECT COALESCE(MIN({day}), {from}) FROM {table} WHERE {tenant_column} = {tenant}))"
                ),
                true,
            ));
            out.push((
                format!(
                    "INSERT INTO {counts} ({tenant_column}, collection, date_key, row_count) SELECT {tenant}, '{name}', {day}, COUNT(*) FROM {table} WHERE {tenant_column} = {tenant} AND {day} >= {from} GROUP BY {day}"
                ),
                true,
            ));
        } else {
            out.push((
                format!(
                    "DELETE FROM {counts} WHERE {tenant_column} = {tenant} AND collection = '{name}'"
                ),
                false,
            ));
            out.push((
                format!(
                    "INSERT INTO {counts} ({tenant_column}, collection, date_key, row_count) SELECT {tenant}, '{name}', 0, COUNT(*) FROM {table} WHERE {tenant_column} = {tenant}"
                ),
                false,
            ));
        }
    }
    out
}

/// A secondary index chosen from how a collection is queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryIndex {
    /// The collection (table).
    pub collection: &'static str,
    /// Its columns after the tenant column.
    pub columns: &'static [&'static str],
    /// The first column is also searched by prefix (`startswith`).
    pub prefix_searched: bool,
}

const fn index(collection: &'static str, columns: &'static [&'static str]) -> QueryIndex {
    QueryIndex {
        collection,
        columns,
        prefix_searched: false,
    }
}

const fn prefix_index(collection: &'static str, column: &'static [&'static str]) -> QueryIndex {
    QueryIndex {
        collection,
        columns: column,
        prefix_searched: true,
    }
}

/// Indexes migration 4 adds, from how clients query the large collections (dimensions of one
/// row per device or user, facts of one row per device or user and day):
/// * natural ids and names looked up one at a time (`deviceId`, `azureADDeviceId`,
///   `deviceName`, `userId`, `userPrincipalName`; names also by prefix);
/// * a device's user (`devices.userId`) and a MAM instance's user;
/// * filters on a lookup key that scripts pair with `isDeleted eq false` (device type and
///   compliance state), the pair in one index so a count reads the index alone;
/// * the sort column of "most recently synced" reports (`lastSyncDateTime`);
/// * the entity key of facts keyed by date first, for one device's (or user's) history, which
///   the primary key would otherwise answer by reading every day.
///
/// Small collections (lookups, policies, apps) are read whole and get none. Two large facts
/// get none on purpose: `applicationInventories` (a device's apps per day; its key holds the
/// app's name and version, so an index by device would be 80% of the table, 41 MB at 100 000
/// devices x 30 days) and `mamCheckins` (20 MB), which reports read by day, not by entity;
/// each index costs store size and time on every ingested day (README, "At a real tenant's
/// size").
pub const QUERY_INDEXES: &[QueryIndex] = &[
    index("devices", &["deviceId"]),
    index("devices", &["azureADDeviceId"]),
    prefix_index("devices", &["deviceName"]),
    index("devices", &["userId"]),
    index("devices", &["lastSyncDateTime"]),
    index("devices", &["deviceTypeKey", "isDeleted"]),
    index("devices", &["complianceStateKey", "isDeleted"]),
    index("users", &["userId"]),
    prefix_index("users", &["userPrincipalName"]),
    index("currentUsers", &["userId"]),
    prefix_index("currentUsers", &["userPrincipalName"]),
    index("mamApplicationInstances", &["userId"]),
    index("devicePropertyHistories", &["deviceKey"]),
    index("intuneManagementExtensions", &["deviceKey"]),
    index("userTermsAndConditionsAcceptances", &["userKey"]),
];

/// Indexes migration 6 adds for the aggregations reports run most (`$apply`): compliance by day,
/// `devicePropertyHistories?$apply=groupby((dateKey,complianceStateKey),aggregate($count as n))`,
/// then reads this index alone instead of every history row (0.9 s -> 0.13 s over 30 days, 0.2 s
/// -> 0.03 s over 7, at 100 000 devices, README "At a real tenant's size"). Led by `dateKey`, it
/// looks like a smaller primary key to SQLite's planner: without statistics for it, the planner
/// read days in order (the export) through it, ten times slower, so the store gathers
/// statistics for every index that lacks them (`analyze_new_tables` in the SQLite store).
pub const REPORT_INDEXES: &[QueryIndex] = &[index(
    "devicePropertyHistories",
    &["dateKey", "complianceStateKey"],
)];

/// Indexes migration 7 adds for collection-valued navigation properties (`users(7)/
/// mamCheckins`, `$expand=mamCheckins`, `mamCheckins/any(...)`), each a lookup of one entity's
/// rows per row of a page: without them, a page of 100 users with their check-ins read all
/// 1.5 M check-ins 100 times (6 s on SQLite, 60 s on PostgreSQL at 100 000 devices). 50 000
/// check-ins a day make them cheap to keep. `applicationInventories` by device stays without
/// one (see [`QUERY_INDEXES`]): SQLite reads it by day (a skip-scan), PostgreSQL by its
/// `dateKey` index, 1.3 s a page of 100 devices (README, "Limits").
pub const NAVIGATION_INDEXES: &[QueryIndex] = &[
    index("mamCheckins", &["userKey"]),
    index("mamCheckins", &["applicationInstanceKey"]),
];

/// Every secondary index of [`QUERY_INDEXES`], [`REPORT_INDEXES`], [`NAVIGATION_INDEXES`] and
/// [`CHANGED_INDEXES`].
pub fn secondary_indexes() -> impl Iterator<Item = &'static QueryIndex> {
    QUERY_INDEXES
        .iter()
        .chain(REPORT_INDEXES)
        .chain(NAVIGATION_INDEXES)
        .chain(CHANGED_INDEXES)
}

impl QueryIndex {
    /// The index's name.
    pub fn name(&self) -> String {
        format!("{}_{}", self.collection, self.columns.join("_"))
    }
}

/// `CREATE INDEX` for a [`QueryIndex`].
pub fn create_index(d: &dyn Dialect, i: &QueryIndex) -> String {
    let collection = Warehouse::get()
        .collection(i.collection)
        .expect("query indexes name collections of the model");
    let mut columns = vec![d.quote(TENANT_COLUMN_NAME)];
    columns.extend(i.columns.iter().enumerate().map(|(n, c)| {
        let nullable = collection
            .property_index(c)
            .is_some_and(|p| collection.properties[p].nullable);
        d.index_column(c, i.prefix_searched && n == 0, nullable)
    }));
    format!(
        "CREATE INDEX {} ON {} ({})",
        d.quote(&i.name()),
        d.quote(i.collection),
        columns.join(", ")
    )
}

/// Columns migration 3 renames: (table, name before, name in the model). Migration 1 creates
/// them under their old names, so that every store, new or upgraded, goes through the same steps.
pub const LOOKUP_ID_RENAMES: &[(&str, &str, &str)] = &[
    ("appTypes", "appTypeId", "appTypeID"),
    ("complianceStates", "complianceStateId", "complianceStateID"),
    ("deviceCategories", "deviceCategoryId", "deviceCategoryID"),
    (
        "deviceRegistrationStates",
        "deviceRegistrationStateId",
        "deviceRegistrationStateID",
    ),
    ("deviceTypes", "deviceTypeId", "deviceTypeID"),
    (
        "deviceEnrollmentTypes",
        "deviceEnrollmentTypeId",
        "deviceEnrollmentTypeID",
    ),
    (
        "managementAgentTypes",
        "managementAgentTypeId",
        "managementAgentTypeID",
    ),
    ("managementStates", "managementStateId", "managementStateID"),
    ("ownerTypes", "ownerTypeId", "ownerTypeID"),
];

/// Nullable columns migration 3 adds: (table, column). Migration 1 leaves them out.
const ADDED_IN_3: &[(&str, &str)] = &[
    ("policyDeviceActivities", "policyTypeKey"),
    ("policyUserActivities", "policyTypeKey"),
];

/// A column's name as migration 1 created it, or `None` for a column a later migration adds.
fn initial_column_name<'a>(table: &str, column: &'a str) -> Option<&'a str> {
    if ADDED_IN_3.contains(&(table, column)) {
        return None;
    }
    Some(
        LOOKUP_ID_RENAMES
            .iter()
            .find(|(t, _, after)| *t == table && *after == column)
            .map_or(column, |(_, before, _)| before),
    )
}

fn initial(d: &dyn Dialect) -> Vec<String> {
    let table_suffix = d.table_options();
    let q = |s: &str| d.quote(s);
    let int = d.column_type(PrimitiveType::Int64);
    let text = d.column_type(PrimitiveType::String);
    let mut out = vec![format!(
        "CREATE TABLE {} (id {}, name {text} NOT NULL UNIQUE, generation {int} NOT NULL, snapshot_date_key {int}, published_at {text})",
        q(TENANTS_TABLE),
        d.auto_id()
    )];
    for c in &Warehouse::get().collections {
        let mut cols = vec![format!("{} {int} NOT NULL", q(TENANT_COLUMN_NAME))];
        for p in &c.properties {
            let Some(name) = initial_column_name(&c.name, &p.name) else {
                continue;
            };
            let ty = PrimitiveType::from_name(&p.ty).expect("model types are checked");
            let null = if p.nullable { "" } else { " NOT NULL" };
            cols.push(format!("{} {}{null}", q(name), d.column_type(ty)));
        }
        let mut key = vec![q(TENANT_COLUMN_NAME)];
        key.extend(c.key.iter().map(|k| q(k)));
        cols.push(format!("PRIMARY KEY ({})", key.join(", ")));
        out.push(format!(
            "CREATE TABLE {} ({}){table_suffix}",
            q(&c.name),
            cols.join(", ")
        ));
        let mut index = |column: &str| {
            out.push(format!(
                "CREATE INDEX {} ON {} ({}, {})",
                q(&format!("{}_{column}", c.name)),
                q(&c.name),
                q(TENANT_COLUMN_NAME),
                q(column)
            ));
        };
        if c.property_index("rowLastModifiedDateTimeUTC").is_some() {
            index("rowLastModifiedDateTimeUTC");
        }
        if c.kind == Kind::Fact && c.property_index("dateKey").is_some() && c.key[0] != "dateKey" {
            index("dateKey");
        }
        out.extend(d.tenant_isolation(&c.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each entity's related rows are read by an index led by the reference (or a primary key
    /// led by it), but for the collections named here, whose reads are bounded otherwise.
    #[test]
    fn collection_navigation_is_answered_by_an_index() {
        // (source, reference): why it needs none
        let without: &[(&str, &str)] = &[
            // beta; see NAVIGATION_INDEXES
            ("applicationInventories", "deviceKey"),
            // few parents (categories, versions, apps, terms): each reads its rows in key
            // order up to the expanded bound, or counts them once per parent
            ("devicePropertyHistories", "deviceCategoryKey"),
            ("intuneManagementExtensions", "extensionVersionKey"),
            ("mamCheckins", "mamApplicationKey"),
            ("userTermsAndConditionsAcceptances", "termsAndConditionsKey"),
            ("mobileAppInstallStatusCounts", "appKey"),
        ];
        let model = Warehouse::get();
        let mut checked = 0;
        for ty in &model.edm(crate::model::ApiVersion::Beta).entity_types {
            for nav in ty.navigation.iter().filter(|n| n.collection) {
                let source = model
                    .collections
                    .iter()
                    .find(|c| crate::model::entity_type_name(&c.name) == nav.target_type)
                    .expect("a collection");
                let reference = nav.referenced_property.as_str();
                // the policy facts: a row per policy (and platform or type) and day
                let small =
                    source.name.starts_with("polic") || source.name.starts_with("compliancePolicy");
                let indexed = source.key[0] == reference
                    || secondary_indexes()
                        .any(|i| i.collection == source.name && i.columns[0] == reference)
                    // migration 2
                    || (source.name == "userDeviceAssociations" && reference == "deviceKey");
                let excused = small || without.contains(&(source.name.as_str(), reference));
                assert!(
                    indexed || excused,
                    "{}.{} -> {}: no index led by {reference}",
                    ty.name,
                    nav.name,
                    source.name
                );
                checked += 1;
            }
        }
        assert!(checked > 10);
    }

    #[test]
    fn every_query_index_names_columns_of_the_model() {
        let model = Warehouse::get();
        for i in secondary_indexes() {
            let c = model
                .collections
                .iter()
                .find(|c| c.name == i.collection)
                .unwrap_or_else(|| panic!("no collection {}", i.collection));
            for column in i.columns.iter().filter(|c| **c != CHANGED_COLUMN) {
                assert!(
                    c.property_index(column).is_some(),
                    "{}.{column}",
                    i.collection
                );
            }
        }
    }
}
