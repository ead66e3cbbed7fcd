//! Versioned schema migrations, generated from the model for a dialect.

use crate::model::{Kind, Warehouse};
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
/// Table of tenants and their publication state.
pub const TENANTS_TABLE: &str = "_dw_tenants";

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
    ]
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
