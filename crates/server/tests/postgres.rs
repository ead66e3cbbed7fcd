//! PostgreSQL-specific guarantees: row-level security as a second wall between tenants, and the
//! same bytes from both stores for a corpus of requests. Needs the test cluster that
//! `./scripts/test` starts (`DW_TEST_POSTGRES_URL`); without it these tests say so and pass.

mod support;

use demo::{generate, GenerateOptions};
use std::sync::Arc;
use warehouse::sql::PlannedQuery;
use warehouse::{PostgresStore, Store};

fn cluster() -> bool {
    let ok = std::env::var("DW_TEST_POSTGRES_URL").is_ok();
    if !ok {
        eprintln!(
            "DW_TEST_POSTGRES_URL is not set: run ./scripts/test to test the PostgreSQL store"
        );
    }
    ok
}

fn tenant(name: &str, devices: u32, seed: u64) -> GenerateOptions {
    GenerateOptions {
        tenant: name.into(),
        devices,
        users: devices + 20,
        days: 10,
        seed,
        end_date: time::macros::date!(2026 - 11 - 01),
    }
}

fn rows(store: &dyn Store, sql: &str, tenant: Option<i64>) -> Vec<String> {
    let mut out = Vec::new();
    store
        .stream(
            &PlannedQuery {
                sql: sql.into(),
                params: Vec::new(),
                tenant,
                planning: std::time::Duration::ZERO,
                client: None,
            },
            &mut |row| {
                out.push(format!("{:?}", row.cell(0)));
                true
            },
        )
        .unwrap();
    out
}

#[test]
fn row_level_security_isolates_tenants_even_without_the_planners_predicate() {
    if !cluster() {
        return;
    }
    let url = testkit::fresh_postgres_url("rls");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let role = client
        .query_one(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .unwrap();
    assert_eq!(
        (role.get::<_, bool>(0), role.get::<_, bool>(1)),
        (false, false),
        "the test role must not bypass RLS"
    );
    let store = PostgresStore::open(&url).unwrap();
    let hidden = warehouse::progress::NoProgress;
    let (a, _) = generate(&store, &tenant("tenant-a", 30, 1), &hidden).unwrap();
    let (b, _) = generate(&store, &tenant("tenant-b", 20, 2), &hidden).unwrap();
    // statements with no tenant predicate at all, as a planner bug would produce
    let unscoped = "SELECT \"deviceId\" FROM \"devices\"";
    assert_eq!(rows(&store, unscoped, Some(a.id)).len(), 30);
    assert_eq!(rows(&store, unscoped, Some(b.id)).len(), 20);
    assert!(
        rows(&store, unscoped, None).is_empty(),
        "no tenant set: no rows (fail closed)"
    );
    let forged = format!(
        "SELECT \"deviceId\" FROM \"devices\" WHERE \"_tenant\" = {}",
        b.id
    );
    assert!(
        rows(&store, &forged, Some(a.id)).is_empty(),
        "a predicate naming another tenant finds nothing"
    );
    for c in &warehouse::Warehouse::get().collections {
        let sql = format!(
            "SELECT COUNT(*) FROM \"{}\" WHERE \"_tenant\" <> {}",
            c.name, a.id
        );
        let n = store
            .count(&PlannedQuery {
                sql,
                params: Vec::new(),
                tenant: Some(a.id),
                planning: std::time::Duration::ZERO,
                client: None,
            })
            .unwrap();
        assert_eq!(n, 0, "{}", c.name);
    }
    // writes are checked too: a row for another tenant cannot be inserted
    let mut tx = client.transaction().unwrap();
    tx.execute(
        "SELECT set_config('dw.tenant', $1, true)",
        &[&a.id.to_string()],
    )
    .unwrap();
    let denied = tx.execute("INSERT INTO \"deviceCategories\" (\"_tenant\", \"deviceCategoryKey\", \"deviceCategoryID\", \"isDeleted\") VALUES ($1, 999, 'x', false)", &[&b.id]);
    assert!(denied.is_err(), "WITH CHECK refuses rows of another tenant");
}

struct Pair {
    sqlite: support::TestServer,
    postgres: support::TestServer,
    tokens: (String, String),
}

fn pair() -> Pair {
    let hidden = warehouse::progress::NoProgress;
    let sqlite = testkit::fresh_sqlite("diff");
    let pg = testkit::fresh_postgres("diff");
    for store in [&sqlite, &pg] {
        generate(store.as_ref(), &tenant("demo", 120, 5), &hidden).unwrap();
    }
    let registry = || auth::Registry {
        clients: vec![support::client("c", "s", "demo")],
        users: Vec::new(),
    };
    let start = |store: Arc<dyn Store>| {
        support::start_with_public_url(
            store,
            50,
            auth::AuthSettings::default(),
            registry(),
            Some("http://dw.test"),
        )
    };
    let (sqlite, postgres) = (start(sqlite), start(pg));
    let tokens = (
        support::client_token(&sqlite.base, "c", "s"),
        support::client_token(&postgres.base, "c", "s"),
    );
    Pair {
        sqlite,
        postgres,
        tokens,
    }
}

fn fetch(server: &support::TestServer, token: &str, path: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = if let Some(rest) = path.strip_prefix("http://dw.test") {
        format!("{}{rest}", server.base)
    } else {
        format!("{}{path}", server.root)
    };
    let mut r = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn both_stores_answer_a_request_corpus_with_identical_bytes() {
    if !cluster() {
        return;
    }
    let p = pair();
    let corpus = support::corpus::requests();
    assert!(corpus.len() >= 200, "{} requests", corpus.len());
    let mut compared = 0;
    for path in &corpus {
        // follow next links so paging tokens are compared too
        let mut next = Some(path.clone());
        let mut pages = 0;
        while let Some(u) = next.take() {
            let a = fetch(&p.sqlite, &p.tokens.0, &u);
            let b = fetch(&p.postgres, &p.tokens.1, &u);
            let (a, b) = (
                (a.0, support::corpus::without_etags(&a.1)),
                (b.0, support::corpus::without_etags(&b.1)),
            );
            assert_eq!(a, b, "{u}");
            compared += 1;
            pages += 1;
            if a.0 == 200 && pages < 4 {
                next = serde_json::from_str::<serde_json::Value>(&a.1)
                    .ok()
                    .and_then(|v| v["@odata.nextLink"].as_str().map(str::to_string));
            }
        }
    }
    println!("{compared} responses compared byte for byte");
}

/// Runs `scripts/test-postgres` and returns the variables it exports.
fn cluster_script(args: &[&str]) -> std::collections::HashMap<String, String> {
    let script = format!(
        "{}/../../scripts/test-postgres",
        std::env::var("CARGO_MANIFEST_DIR").unwrap()
    );
    let out = std::process::Command::new(&script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "test-postgres {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn read_replicas_take_the_queries_and_fail_over_to_the_primary() {
    if !cluster() {
        return;
    }
    // a primary and a streaming replica of its own, so stopping them disturbs no other test
    let primary = cluster_script(&["start"]);
    let replica = cluster_script(&["replica", &primary["DW_TEST_PG_DIR"]]);
    struct Cleanup(Vec<String>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for dir in &self.0 {
                cluster_script(&["stop", dir]);
            }
        }
    }
    let _cleanup = Cleanup(vec![
        replica["DW_TEST_REPLICA_DIR"].clone(),
        primary["DW_TEST_PG_DIR"].clone(),
    ]);
    let primary_url = primary["DW_TEST_POSTGRES_URL"].clone();
    let replica_url = primary_url.replace(
        &primary_url[primary_url.rfind(':').unwrap() + 1..primary_url.rfind('/').unwrap()],
        &replica["DW_TEST_REPLICA_PORT"],
    );
    let store = Arc::new(PostgresStore::open(&primary_url).unwrap());
    generate(
        store.as_ref(),
        &tenant("demo", 30, 3),
        &warehouse::progress::NoProgress,
    )
    .unwrap();
    let replica_store: Arc<dyn Store> =
        Arc::new(PostgresStore::open_replica(&replica_url).unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // caught up when the replica has the published generation (the tenant row is created, and
    // replicated, before its data is)
    let published = store.tenant("demo").unwrap().unwrap().generation;
    while replica_store
        .tenant("demo")
        .ok()
        .flatten()
        .is_none_or(|t| t.generation != published)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica did not catch up"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let routed: Arc<dyn Store> = Arc::new(warehouse::RoutedStore::new(store, vec![replica_store]));
    let registry = auth::Registry {
        clients: vec![support::client("c", "s", "demo")],
        users: Vec::new(),
    };
    let server = support::start(routed, 10, auth::AuthSettings::default(), registry);
    let token = support::client_token(&server.base, "c", "s");
    let count = || fetch(&server, &token, "/devices/$count?api-version=v1.0");
    assert_eq!(count(), (200, "30".to_string()));
    // with the primary down, queries are answered: they go to the replica
    cluster_script(&["server-stop", &primary["DW_TEST_PG_DIR"]]);
    assert_eq!(count(), (200, "30".to_string()), "served by the replica");
    let (status, body) = fetch(
        &server,
        &token,
        "/devices?api-version=v1.0&$select=deviceId",
    );
    assert_eq!(status, 200, "{body}");
    // with the replica down and the primary back, queries fail over to the primary
    cluster_script(&["server-start", &primary["DW_TEST_PG_DIR"]]);
    cluster_script(&["server-stop", &replica["DW_TEST_REPLICA_DIR"]]);
    assert_eq!(
        count(),
        (200, "30".to_string()),
        "failed over to the primary"
    );
    assert_eq!(
        count(),
        (200, "30".to_string()),
        "and keeps using it while the replica is out"
    );
    // a restart of the primary under connections just used (taken from the pool unchecked):
    // the request finds its connection lost and runs again on a new one
    cluster_script(&["server-stop", &primary["DW_TEST_PG_DIR"]]);
    cluster_script(&["server-start", &primary["DW_TEST_PG_DIR"]]);
    assert_eq!(count(), (200, "30".to_string()), "after a restart");
    let (status, body) = fetch(
        &server,
        &token,
        "/devices?api-version=v1.0&$select=deviceId",
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn tls_connections_verify_the_servers_certificate() {
    if !cluster() {
        return;
    }
    let ca = std::env::var("DW_TEST_PG_CA").unwrap_or_default();
    if ca.is_empty() {
        eprintln!("DW_TEST_PG_CA is not set (no openssl when the cluster started): TLS not tested");
        return;
    }
    let url = testkit::fresh_postgres_url("tls");
    let encrypted = |store: &PostgresStore| {
        rows(
            store,
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            None,
        )
    };
    // the server's certificate, from the test CA, names localhost only
    let by_name = url.replace("127.0.0.1", "localhost");
    let verified =
        PostgresStore::open(&format!("{by_name}?sslmode=verify-full&sslrootcert={ca}")).unwrap();
    assert_eq!(encrypted(&verified), ["Integer(1)"]);
    // verify-ca checks the chain but not the name
    let chain_only =
        PostgresStore::open(&format!("{url}?sslmode=verify-ca&sslrootcert={ca}")).unwrap();
    assert_eq!(encrypted(&chain_only), ["Integer(1)"]);
    // verify-full refuses a certificate for another name
    let e = PostgresStore::open(&format!("{url}?sslmode=verify-full&sslrootcert={ca}"))
        .err()
        .expect("the certificate does not name 127.0.0.1")
        .to_string();
    assert!(e.contains("certificate"), "{e}");
    // require verifies the chain too: the Mozilla roots do not know the test CA
    let e = PostgresStore::open(&format!("{url}?sslmode=require"))
        .err()
        .expect("an unknown issuer is refused")
        .to_string();
    assert!(e.contains("certificate"), "{e}");
    // without sslmode, as before: no TLS
    let plain = PostgresStore::open(&url).unwrap();
    assert_eq!(encrypted(&plain), ["Integer(0)"]);
    // a mode rust-postgres does not know is a clear error
    let e = PostgresStore::open(&format!("{url}?sslmode=allow"))
        .err()
        .expect("allow is not supported")
        .to_string();
    assert!(e.contains("sslmode 'allow'"), "{e}");
}

#[test]
fn the_statement_timeout_comes_from_the_url() {
    if !cluster() {
        return;
    }
    let url = testkit::fresh_postgres_url("timeout");
    let sleep = |store: &PostgresStore| {
        store.stream(
            &PlannedQuery {
                sql: "SELECT pg_sleep(0.3)".into(),
                params: Vec::new(),
                tenant: None,
                planning: std::time::Duration::ZERO,
                client: None,
            },
            &mut |_| true,
        )
    };
    let short = PostgresStore::open(&format!("{url}?statement_timeout=50ms")).unwrap();
    let e = sleep(&short).unwrap_err();
    assert!(matches!(e, warehouse::StoreError::Timeout(_)), "{e}");
    assert!(e.to_string().contains("statement_timeout"), "{e}");
    let default = PostgresStore::open(&url).unwrap();
    assert!(sleep(&default).is_ok(), "the default (60 s) lets it finish");
}
