//! A statement whose requester goes away is cancelled on PostgreSQL, and its connection is
//! closed rather than pooled: PostgreSQL answers a cancel request before it signals the backend,
//! so a cancel still on its way would otherwise stop whatever statement the pooled connection ran
//! next, another client's (seen as a 503 "time budget" answer to a small request while many
//! abandoned ones were being cancelled). Runs when the test PostgreSQL cluster is given
//! (`./scripts/test` starts one); SQLite interrupts in-process and has no such delay.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use warehouse::sql::PlannedQuery;
use warehouse::store::with_cancellation;
use warehouse::{PostgresStore, Store, StoreError};

const MARKER: &str = "dw-cancellation-test";

/// The process id of the backend running the marked statement, once it runs.
fn backend_running_marker(admin: &mut postgres::Client) -> Option<i32> {
    admin
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
            &[&format!("%{MARKER}%")],
        )
        .expect("read pg_stat_activity")
        .map(|row| row.get(0))
}

fn backend_exists(admin: &mut postgres::Client, pid: i32) -> bool {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .expect("read pg_stat_activity")
        .get::<_, i64>(0)
        > 0
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "waited 20 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_cancelled_statements_connection_is_closed_not_reused() {
    if testkit::postgres_cluster().is_none() {
        eprintln!("no test PostgreSQL cluster (DW_TEST_POSTGRES_URL): run ./scripts/test");
        return;
    }
    let url = testkit::fresh_postgres_url("cancellation");
    let store = Arc::new(PostgresStore::open(&url).expect("open the store"));
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let gone = Arc::new(AtomicBool::new(false));
    let asking = {
        let (store, gone) = (store.clone(), gone.clone());
        std::thread::spawn(move || {
            let query = PlannedQuery {
                sql: format!("SELECT pg_sleep(30) /* {MARKER} */"),
                params: Vec::new(),
                tenant: None,
                planning: Duration::ZERO,
                client: None,
            };
            with_cancellation(gone, || store.stream(&query, &mut |_| true))
        })
    };
    let mut pid = None;
    wait_until("the statement to start", || {
        pid = backend_running_marker(&mut admin);
        pid.is_some()
    });
    let pid = pid.expect("a backend");
    gone.store(true, Ordering::Relaxed);
    let result = asking.join().expect("the asking thread");
    assert!(matches!(result, Err(StoreError::Cancelled)), "{result:?}");
    // the backend that ran it ends with its connection, so no late cancel can reach it
    wait_until("the cancelled statement's backend to end", || {
        !backend_exists(&mut admin, pid)
    });
    // and the store goes on with its other connections
    let query = PlannedQuery {
        sql: "SELECT 1".into(),
        params: Vec::new(),
        tenant: None,
        planning: Duration::ZERO,
        client: None,
    };
    let mut rows = 0;
    store
        .stream(&query, &mut |_| {
            rows += 1;
            true
        })
        .expect("a statement after the cancellation");
    assert_eq!(rows, 1);
}
