//! The generator is deterministic and writes every collection.

use demo::{generate, GenerateOptions};
use warehouse::sql::{PlannedQuery, SqlValue};
use warehouse::{SqliteStore, Store, Warehouse};

fn dump(store: &SqliteStore, tenant: i64, collection: &str) -> Vec<String> {
    let q = PlannedQuery {
        sql: format!("SELECT * FROM \"{collection}\" WHERE \"_tenant\" = ?1 ORDER BY 2, 3"),
        params: vec![SqlValue::Integer(tenant)],
        tenant: Some(tenant),
        planning: std::time::Duration::ZERO,
        client: None,
    };
    let width = Warehouse::get()
        .collection(collection)
        .unwrap()
        .properties
        .len()
        + 1;
    let mut rows = Vec::new();
    store
        .stream(&q, &mut |row| {
            rows.push(
                (1..width)
                    .map(|i| format!("{:?}", row.cell(i)))
                    .collect::<Vec<_>>()
                    .join("|"),
            );
            true
        })
        .unwrap();
    rows
}

#[test]
fn same_seed_same_tenant_and_every_collection_has_rows() {
    let dir = testkit::TempDir::new("gen-test");
    let opts = |tenant: &str, seed| GenerateOptions {
        tenant: tenant.into(),
        devices: 60,
        users: 80,
        days: 10,
        seed,
        end_date: time::macros::date!(2026 - 03 - 01),
    };
    let store = SqliteStore::open(&dir.join("g.db")).unwrap();
    let hidden = warehouse::progress::NoProgress;
    let (a, summary) = generate(&store, &opts("a", 5), &hidden).unwrap();
    let (b, _) = generate(&store, &opts("b", 5), &hidden).unwrap();
    let (c, _) = generate(&store, &opts("c", 6), &hidden).unwrap();
    for coll in &Warehouse::get().collections {
        assert!(
            summary.get(&coll.name).copied().unwrap_or(0) > 0,
            "{} is empty",
            coll.name
        );
        assert_eq!(
            dump(&store, a.id, &coll.name),
            dump(&store, b.id, &coll.name),
            "{}",
            coll.name
        );
    }
    assert_ne!(dump(&store, a.id, "devices"), dump(&store, c.id, "devices"));
    // republishing replaces the tenant's data and bumps its generation
    let (a2, _) = generate(&store, &opts("a", 5), &hidden).unwrap();
    assert_eq!((a2.id, a2.generation), (a.id, a.generation + 1));
    assert_eq!(a2.snapshot_date_key, Some(20260301));
    // every migration was applied
    let newest = warehouse::schema::migrations(store.dialect())
        .last()
        .unwrap()
        .version;
    assert_eq!(store.schema_version().unwrap(), newest);
}
