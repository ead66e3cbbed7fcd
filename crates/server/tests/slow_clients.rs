//! Clients that read slowly or never cannot hold the store: other requests keep their latency,
//! and a stalled page, once read, is complete and identical to one read at full speed.
//!
//! Runs on SQLite, and on PostgreSQL with `DW_TEST_STORE=postgres` (as `./scripts/test` does).

use demo::{generate, GenerateOptions};
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod support;

/// The tests of this file measure waiting times and load the machine: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A socket with a tiny receive buffer that sends `path` (HTTP/1.0, so the body ends at EOF)
/// and reads nothing.
fn stalled_request(addr: SocketAddr, path: &str, token: &str) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    stream
}

/// Reads a whole HTTP/1.0 response and returns its body.
fn read_body(mut stream: TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.read_to_end(&mut all).unwrap();
    let at = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&all[..at]).to_string();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    all[at + 4..].to_vec()
}

#[test]
fn stalled_readers_hold_no_store_connection_and_resume_correctly() {
    let _serial = one_at_a_time();
    let store = testkit::fresh_store("slow");
    let opts = GenerateOptions {
        tenant: "demo".into(),
        devices: 1000,
        users: 1200,
        days: 30,
        seed: 3,
        end_date: time::macros::date!(2026 - 11 - 01),
    };
    generate(store.as_ref(), &opts, &warehouse::progress::NoProgress).unwrap();
    // one page holds the whole collection: several MB per response
    let (server, token) = support::serve_demo(store, 100_000);
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let path = format!(
        "{}/devicePropertyHistories?api-version=v1.0",
        warehouse_path()
    );

    // twice as many stalled readers as the store has connections (each first fills its socket's
    // send buffer, several MB on loopback, before it pauses)
    let stalled: Vec<TcpStream> = (0..16)
        .map(|_| stalled_request(addr, &path, &token))
        .collect();
    std::thread::sleep(Duration::from_secs(3));

    let agent = support::agent();
    let small = format!(
        "{}/devices?api-version=v1.0&$top=5&$select=deviceKey",
        server.root
    );
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let mut r = agent
            .get(&small)
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{}",
            r.body_mut().read_to_string().unwrap()
        );
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(3),
        "small requests waited {slowest:?} beside stalled readers"
    );
    let ready = agent
        .get(&format!("{}/readyz", server.base))
        .call()
        .unwrap();
    assert_eq!(ready.status(), 200);

    // a stalled page, read at last, is whole and the same as one read at full speed
    let mut full = agent
        .get(&format!("{}{path}", server.base))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let expected = full
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap();
    let rows = serde_json::from_slice::<serde_json::Value>(&expected).unwrap()["value"]
        .as_array()
        .unwrap()
        .len();
    assert!(rows > 25_000, "{rows} rows");
    // more than the kernel buffers of a loopback socket can hold (4 MiB send buffers)
    assert!(expected.len() > 8_000_000, "{} bytes", expected.len());
    let mut stalled = stalled.into_iter();
    let resumed = read_body(stalled.next().unwrap());
    assert_eq!(
        resumed.len(),
        expected.len(),
        "a paused page is continued exactly"
    );
    assert!(resumed == expected, "a paused page is continued exactly");
}

fn warehouse_path() -> &'static str {
    server::BASE_PATH
}

#[test]
fn a_statement_past_its_time_budget_is_a_503_and_the_service_goes_on() {
    let _serial = one_at_a_time();
    // a budget of a few milliseconds: any real scan exceeds it
    let store: std::sync::Arc<dyn warehouse::Store> = if testkit::on_postgres() {
        let url = testkit::fresh_postgres_url("budget");
        let setup = warehouse::PostgresStore::open(&url).unwrap();
        generate(&setup, &small(), &warehouse::progress::NoProgress).unwrap();
        std::sync::Arc::new(
            warehouse::PostgresStore::open(&format!("{url}?statement_timeout=2ms")).unwrap(),
        )
    } else {
        let dir = testkit::TempDir::new("budget");
        let mut store = warehouse::SqliteStore::open(&dir.join("t.db")).unwrap();
        generate(&store, &small(), &warehouse::progress::NoProgress).unwrap();
        store.set_statement_timeout(Duration::from_millis(2));
        std::sync::Arc::new(store)
    };
    let (server, token) = support::serve_demo(store, 1000);
    let agent = support::agent();
    // a filter no index helps with, over every row, with a count
    let mut long = "osVersion".to_string();
    for _ in 0..8 {
        long = format!("concat({long},{long})");
    }
    let slow = format!(
        "{}/devicePropertyHistories?api-version=v1.0&$count=true&$filter=indexof({long},'zz')%20eq%205",
        server.root,
    );
    let started = Instant::now();
    let mut r = agent
        .get(&slow)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 503, "{body}");
    assert_eq!(r.headers()["retry-after"], "5");
    assert!(body.contains("statement time budget"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // the connection went back to the pool: the service keeps answering
    let ready = agent
        .get(&format!("{}/readyz", server.base))
        .call()
        .unwrap();
    assert_eq!(ready.status(), 200);
}

fn small() -> GenerateOptions {
    GenerateOptions {
        tenant: "demo".into(),
        devices: 600,
        users: 700,
        days: 30,
        seed: 5,
        end_date: time::macros::date!(2026 - 11 - 01),
    }
}

#[test]
fn statements_of_clients_that_go_away_stop() {
    let _serial = one_at_a_time();
    // SQLite interrupts them from its progress handler, PostgreSQL gets a cancel request
    let store = testkit::fresh_store("gone");
    let opts = GenerateOptions {
        devices: 2000,
        users: 2000,
        ..small()
    };
    generate(store.as_ref(), &opts, &warehouse::progress::NoProgress).unwrap();
    let (server, token) = support::serve_demo(store, 1000);
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    // each option as expensive as its bounds allow: every row's filter and sort key build a
    // string of a thousand copies of a column
    let doubled = |column: &str| {
        let mut e = column.to_string();
        for _ in 0..10 {
            e = format!("concat({e},{e})");
        }
        e
    };
    let path = format!(
        "{}/devicePropertyHistories?api-version=v1.0&$top=1&$select=deviceKey&$filter=indexof({},'zz')%20eq%20-1&$orderby={}",
        warehouse_path(),
        doubled("osVersion"),
        doubled("deviceName"),
    );
    let agent = support::agent();
    let get = |url: &str| {
        let started = Instant::now();
        let status = agent
            .get(url)
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap()
            .status();
        (status, started.elapsed())
    };
    // how long the statement takes when its client waits for it
    let (status, whole) = get(&format!("{}{path}", server.base));
    assert_eq!(status, 200);
    assert!(
        whole > Duration::from_millis(1500),
        "too fast to tell: {whole:?}"
    );
    // as many clients as the store has connections (8 SQLite, 16 PostgreSQL) ask for it and
    // go away
    let gone: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    drop(gone);
    // their statements stop: every connection of the store is free again before any of them
    // would end. Without the cancellation no connection frees before one of these statements
    // ends, and each took `whole` alone (more when they all run at once), so each of these
    // requests would wait about `whole` or longer. The bound is that, not a fraction of it: on a
    // loaded CI machine the cancellations themselves (a connection each on PostgreSQL) took
    // 2.9 s of a 4.9 s statement.
    let cancelled_by = whole.saturating_sub(Duration::from_millis(300));
    let small_url = format!("{}/devices?api-version=v1.0&$top=1", server.root);
    let answers: Vec<_> = std::thread::scope(|scope| {
        let asking: Vec<_> = (0..16).map(|_| scope.spawn(|| get(&small_url))).collect();
        asking.into_iter().map(|a| a.join().unwrap()).collect()
    });
    for (status, waited) in answers {
        assert_eq!(status, 200);
        assert!(
            waited < cancelled_by,
            "waited {waited:?}; a statement takes {whole:?}"
        );
    }
}

/// Accepted connections have Nagle's algorithm off (`TCP_NODELAY`) before the first byte is
/// sent: with it on, the last small write of each streamed page waits for the client's delayed
/// acknowledgement, about 40 ms per page on a keep-alive connection. `dw serve` (plain and TLS)
/// and `dw bench` accept through this same loop.
#[test]
fn accepted_connections_send_without_delay() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let record = seen.clone();
    let upgrade = move |socket: tokio::net::TcpStream| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(socket.nodelay()?);
            Ok::<_, std::io::Error>(socket)
        }
    };
    runtime.spawn(server::listen::serve(
        listener,
        app,
        server::listen::ConnectionLimits::default(),
        upgrade,
        std::future::pending(),
    ));
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.ends_with("ok"), "{response}");
    }
    assert_eq!(*seen.lock().unwrap(), [true, true]);
}
