//! A store written by an earlier release opens and is upgraded in place, losing nothing.
//!
//! `fixtures/store-schema-2.db` was written by the release before migration 3 (`dw generate
//! --devices 20 --users 25 --days 3 --seed 7 --end-date 2026-11-01 --tenant demo`). It is
//! upgraded as SQLite, and its rows are copied into a PostgreSQL database built by the same
//! migrations 1 and 2 (when `DW_TEST_POSTGRES_URL` names a cluster, as `./scripts/test` does).

use rusqlite::types::Value;
use std::collections::BTreeMap;
use warehouse::schema::{migrations, LOOKUP_ID_RENAMES};
use warehouse::{PostgresStore, SqliteStore, Store, Warehouse};

/// The store written by the previous release (read at run time, like every fixture).
fn fixture() -> String {
    format!(
        "{}/tests/fixtures/store-schema-2.db",
        std::env::var("CARGO_MANIFEST_DIR").unwrap()
    )
}

type Table = Vec<Vec<Value>>;

/// Every row of every table, each table's columns in their stored order, with column names.
fn sqlite_dump(conn: &rusqlite::Connection) -> BTreeMap<String, (Vec<String>, Table)> {
    let mut out = BTreeMap::new();
    for c in &Warehouse::get().collections {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{}\" ORDER BY 1, 2, 3", c.name))
            .unwrap();
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let n = names.len();
        let rows = stmt
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<Result<Table, _>>()
            .unwrap();
        out.insert(c.name.clone(), (names, rows));
    }
    out
}

fn renamed(table: &str, column: &str) -> String {
    LOOKUP_ID_RENAMES
        .iter()
        .find(|(t, before, _)| *t == table && *before == column)
        .map_or(column.to_string(), |(_, _, after)| after.to_string())
}

#[test]
fn a_store_written_before_migration_3_is_upgraded_in_place() {
    let dir = testkit::TempDir::new("upgrade");
    let path = dir.join("warehouse.db");
    std::fs::copy(fixture(), &path).unwrap();
    let before = sqlite_dump(&rusqlite::Connection::open(&path).unwrap());
    assert!(before["devices"].1.len() >= 20, "the fixture has data");
    assert!(before["deviceTypes"]
        .0
        .contains(&"deviceTypeId".to_string()));

    let store = SqliteStore::open(&path).expect("the old store opens and migrates");
    assert_eq!(store.schema_version().unwrap(), newest_version());
    assert_eq!(
        store.tenant("demo").unwrap().unwrap().published_at,
        Some(1_796_048_282),
        "the publication time as the previous release wrote it (UTC, no offset)"
    );
    drop(store);
    let after = sqlite_dump(&rusqlite::Connection::open(&path).unwrap());
    for (table, (columns, rows)) in &before {
        let (new_columns, new_rows) = &after[table];
        let expected: Vec<String> = columns.iter().map(|c| renamed(table, c)).collect();
        assert_eq!(&new_columns[..columns.len()], &expected[..], "{table}");
        assert_eq!(new_rows.len(), rows.len(), "{table} keeps every row");
        for (old, new) in rows.iter().zip(new_rows) {
            assert_eq!(&new[..old.len()], &old[..], "{table}");
            // the columns migrations add are null on old rows but the start of a user's state
            let added = new_columns[old.len()..].iter().zip(&new[old.len()..]);
            for (column, value) in added.filter(|(c, _)| *c != "_dw_valid_from") {
                assert_eq!(*value, Value::Null, "{table}.{column}");
            }
        }
    }
    // a live user's state began when its row was written; a deleted one's start is the end of
    // the user's previous row (none: not recorded)
    let (columns, rows) = &after["users"];
    let at = |name: &str| columns.iter().position(|c| c == name).unwrap();
    let (valid_from, modified, deleted) = (
        at("_dw_valid_from"),
        at("rowLastModifiedDateTimeUTC"),
        at("isDeleted"),
    );
    let live: Vec<_> = rows
        .iter()
        .filter(|r| r[deleted] == Value::Integer(0))
        .collect();
    assert!(!live.is_empty(), "the fixture has live users");
    for row in live {
        assert_eq!(row[valid_from], row[modified]);
    }
    for table in ["policyDeviceActivities", "policyUserActivities"] {
        // migration 3's column, then migration 9's (the publication that wrote the row: none
        // for rows older than change tracking)
        let columns = &after[table].0;
        assert_eq!(
            columns[columns.len() - 2..],
            ["policyTypeKey", "_dw_changed"]
        );
    }
    let db = rusqlite::Connection::open(&path).unwrap();
    for c in &Warehouse::get().collections {
        let kept: i64 = db
            .query_row(
                "SELECT COALESCE(SUM(row_count), 0) FROM \"_dw_counts\" WHERE collection = ?1",
                [&c.name],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            kept as usize,
            after[&c.name].1.len(),
            "{} is counted by the upgrade",
            c.name
        );
    }
    // and by day and value for the reports (migration 8)
    for (collection, _) in warehouse::schema::VALUE_COUNTS {
        let kept: i64 = db
            .query_row(
                "SELECT COALESCE(SUM(row_count), 0) FROM \"_dw_value_counts\" WHERE collection = ?1",
                [collection],
                |r| r.get(0),
            )
            .unwrap();
        assert!(kept > 0, "{collection} has rows in the fixture");
        assert_eq!(kept as usize, after[*collection].1.len(), "{collection}");
    }
    // the planner has statistics for every index the upgrade added to a table with rows, so
    // day-ordered reads keep the primary key (an index led by dateKey looked smaller without
    // them), also in a store whose tables had statistics before the index was added
    for i in warehouse::schema::REPORT_INDEXES {
        db.execute("DELETE FROM sqlite_stat1 WHERE idx = ?1", [i.name()])
            .unwrap();
    }
    drop(SqliteStore::open(&path).expect("opens again"));
    let analyzed: Vec<String> = db
        .prepare("SELECT DISTINCT idx FROM sqlite_stat1 WHERE idx IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for i in warehouse::schema::secondary_indexes() {
        if !after[i.collection].1.is_empty() {
            assert!(analyzed.contains(&i.name()), "{} has statistics", i.name());
        }
    }
    let plan: Vec<String> = db
        .prepare("EXPLAIN QUERY PLAN SELECT * FROM \"devicePropertyHistories\" WHERE \"_tenant\" = 1 ORDER BY \"dateKey\", \"deviceKey\" LIMIT 10")
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|step| step.contains("PRIMARY KEY")),
        "{plan:?}"
    );
    // every column of the model is there, under the model's name
    for c in &Warehouse::get().collections {
        let stored = &after[&c.name].0;
        for p in &c.properties {
            assert!(stored.contains(&p.name), "{}.{}", c.name, p.name);
        }
    }

    if testkit::postgres_cluster().is_some() {
        upgrade_on_postgres(&before);
    }
}

/// Builds the schema of migrations 1 and 2 on a new database, copies `rows` into it, and opens
/// it as a store.
fn upgrade_on_postgres(rows: &BTreeMap<String, (Vec<String>, Table)>) {
    let db_url = testkit::fresh_postgres_url("upgrade");
    let mut db = postgres::Client::connect(&db_url, postgres::NoTls).unwrap();
    let dialect = warehouse::PostgresDialect;
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("CREATE TABLE \"_dw_migrations\" (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())").unwrap();
    for m in migrations(&dialect).into_iter().filter(|m| m.version <= 2) {
        for s in &m.statements {
            tx.batch_execute(s).unwrap();
        }
        tx.execute(
            "INSERT INTO \"_dw_migrations\" (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .unwrap();
    }
    // the fixture's one tenant, as the previous release recorded it
    tx.batch_execute(
        "INSERT INTO \"_dw_tenants\" (id, name, generation, snapshot_date_key, published_at) VALUES (1, 'demo', 1, 20261101, '2026-11-30 15:18:02.123456+01')",
    )
    .unwrap();
    tx.batch_execute("SELECT set_config('dw.tenant', '1', true)")
        .unwrap();
    let mut copied = 0;
    for (table, (columns, table_rows)) in rows {
        for row in table_rows {
            let sql = format!(
                "INSERT INTO \"{table}\" ({}) VALUES ({})",
                columns
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                (1..=columns.len())
                    .map(|i| format!("${i}::text"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // values as text, cast by PostgreSQL to each column's type
            let texts: Vec<Option<String>> = row.iter().map(as_text).collect();
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = texts
                .iter()
                .map(|t| t as &(dyn postgres::types::ToSql + Sync))
                .collect();
            let typed = retype(&mut tx, table, columns, &sql);
            tx.execute(&typed, &params).unwrap();
            copied += 1;
        }
    }
    tx.commit().unwrap();
    assert!(copied > 100);

    let store = PostgresStore::open(&db_url).expect("the old database opens and migrates");
    assert_eq!(store.schema_version().unwrap(), newest_version());
    assert_eq!(
        store.tenant("demo").unwrap().unwrap().published_at,
        Some(1_796_048_282),
        "the publication time as the previous release wrote it (now()::text, with its offset)"
    );
    drop(store);
    let mut db = postgres::Client::connect(&db_url, postgres::NoTls).unwrap();
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("SELECT set_config('dw.tenant', '1', true)")
        .unwrap();
    for (table, (_, table_rows)) in rows {
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
            .unwrap()
            .get(0);
        assert_eq!(n as usize, table_rows.len(), "{table} keeps every row");
        if Warehouse::get().collection(table).is_some() {
            let kept: i64 = tx
                .query_one(
                    "SELECT COALESCE(SUM(row_count), 0)::bigint FROM \"_dw_counts\" WHERE collection = $1",
                    &[&table],
                )
                .unwrap()
                .get(0);
            assert_eq!(kept, n, "{table} is counted by the upgrade");
        }
        if warehouse::schema::VALUE_COUNTS
            .iter()
            .any(|(c, _)| c == table)
        {
            let kept: i64 = tx
                .query_one(
                    "SELECT COALESCE(SUM(row_count), 0)::bigint FROM \"_dw_value_counts\" WHERE collection = $1",
                    &[&table],
                )
                .unwrap()
                .get(0);
            assert_eq!(kept, n, "{table} is counted by value by the upgrade");
        }
    }
    let ids: Vec<i32> = tx
        .query(
            "SELECT \"deviceTypeID\" FROM \"deviceTypes\" ORDER BY \"deviceTypeKey\"",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let (columns, old) = &rows["deviceTypes"];
    let at = columns.iter().position(|c| c == "deviceTypeId").unwrap();
    let expected: Vec<i32> = old
        .iter()
        .map(|r| match r[at] {
            Value::Integer(i) => i as i32,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, expected);
    let nulls: i64 = tx
        .query_one(
            "SELECT count(*) FROM \"policyDeviceActivities\" WHERE \"policyTypeKey\" IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nulls as usize, rows["policyDeviceActivities"].1.len());
}

/// The insert with each `$n::text` cast on to its column's type.
fn retype(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    columns: &[String],
    sql: &str,
) -> String {
    let mut out = sql.to_string();
    for (i, c) in columns.iter().enumerate().rev() {
        let ty: String = tx
            .query_one(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::text::regclass AND attname = $2",
                &[&format!("\"{table}\""), c],
            )
            .unwrap()
            .get(0);
        let n = i + 1;
        // SQLite keeps date-times as microseconds since the epoch
        let cast = if ty == "timestamp with time zone" {
            format!("to_timestamp(${n}::text::double precision / 1000000)")
        } else {
            format!("${n}::text::{ty}")
        };
        out = out.replace(&format!("${n}::text"), &cast);
    }
    out
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Text(t) => Some(t.clone()),
        Value::Blob(_) => panic!("no blobs in the warehouse"),
    }
}

/// The version of the newest migration: an old store is brought all the way up.
fn newest_version() -> i64 {
    warehouse::schema::migrations(&warehouse::SqliteDialect)
        .last()
        .unwrap()
        .version
}
