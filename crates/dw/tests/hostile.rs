//! Hostile clients against the real binary: floods of failed authentications, connections that
//! never finish a request, too many connections, and what the data folder lets others read.

use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};
use support::{add_client, dw, start, start_with_env, temp_dir};

mod support;

/// Sends one raw HTTP/1.1 request from the loopback address `127.0.0.{from}` and returns the
/// status code of the answer.
fn post_from(from: u8, to: SocketAddr, path: &str, body: &str) -> u16 {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, from), 0);
    socket.bind(&local.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// A client credentials grant for `client` with a wrong secret.
fn token_attempt(from: u8, to: SocketAddr, client: &str) -> u16 {
    token_with_secret(from, to, client, "wrong")
}

#[test]
fn failed_authentication_floods_cost_bounded_memory_and_are_limited_per_address() {
    let dir = temp_dir("hostile_tokens");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    let server = start(
        &dir,
        &["--tenant", "t", "--listen", "127.0.0.1:0"],
        "tokens",
    );
    let to = server.address();
    let idle = server.memory_kib("VmRSS");

    // 16 clients at once, each attempt naming another client from another address: the
    // per-name limits never trigger, so every attempt reaches secret verification
    let started = Instant::now();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..16u8)
            .map(|w| {
                s.spawn(move || {
                    (0..15u8)
                        .map(|i| {
                            let from = 2 + w * 15 + i;
                            token_attempt(from, to, &format!("nosuch{w}-{i}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(statuses.len(), 240);
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    let peak = server.memory_kib("VmHWM");
    let after = server.memory_kib("VmRSS");
    eprintln!(
        "240 failed authentications in {:?}: RSS idle {idle} KiB, peak {peak} KiB, after {after} KiB",
        started.elapsed()
    );
    assert!(peak < 300 * 1024, "peak RSS {peak} KiB");
    assert!(after < 100 * 1024, "RSS after the flood {after} KiB");

    // one address trying many client ids is limited as a whole
    let from_one: Vec<u16> = (0..25)
        .map(|i| token_attempt(250, to, &format!("guess{i}")))
        .collect();
    assert!(from_one[..20].iter().all(|s| *s == 401), "{from_one:?}");
    assert!(from_one[20..].iter().all(|s| *s == 429), "{from_one:?}");
    // ... while other addresses are not
    assert_eq!(token_attempt(251, to, "someone"), 401);
    server.stop();
}

/// A client credentials grant for `client` with `secret`, from `127.0.0.{from}`.
fn token_with_secret(from: u8, to: SocketAddr, client: &str, secret: &str) -> u16 {
    post_from(
        from,
        to,
        "/oauth2/token",
        &format!("grant_type=client_credentials&client_id={client}&client_secret={secret}"),
    )
}

#[test]
fn failures_of_others_never_refuse_a_correct_secret() {
    let dir = temp_dir("hostile_lockout");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    let secret = add_client(&dir, "reporting", "t");
    let server = start(
        &dir,
        &["--tenant", "t", "--listen", "127.0.0.1:0"],
        "lockout",
    );
    let to = server.address();
    // behind a proxy or a NAT every client shares one address: 20 made-up ids from it made
    // the correct secret from it wait 59 s
    let guesses: Vec<u16> = (0..25)
        .map(|i| token_attempt(60, to, &format!("made-up-{i}")))
        .collect();
    assert_eq!(guesses[24], 429, "{guesses:?}");
    assert_eq!(token_with_secret(60, to, "reporting", &secret), 200);
    // failures against its name, from anywhere, do not refuse the client either
    let wrong: Vec<u16> = (0..8).map(|_| token_attempt(61, to, "reporting")).collect();
    assert_eq!(&wrong[..4], &[401; 4], "{wrong:?}");
    assert_eq!(wrong[7], 429, "{wrong:?}");
    assert_eq!(token_with_secret(61, to, "reporting", &secret), 200);
    assert_eq!(token_with_secret(62, to, "reporting", &secret), 200);
    server.stop();
}

/// Whether the server closed `stream` within `within` (reads end or fail).
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a response (408, ...) before the close
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn slow_idle_and_surplus_connections_are_bounded() {
    let dir = temp_dir("hostile_connections");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    let server = start_with_env(
        &dir,
        &["--tenant", "t", "--listen", "127.0.0.1:0"],
        "connections",
        &[
            ("DW_LIMITS__HEADER_READ_TIMEOUT_SECS", "1"),
            ("DW_LIMITS__IDLE_TIMEOUT_SECS", "2"),
            ("DW_LIMITS__MAX_CONNECTIONS", "4"),
        ],
    );
    let to = server.address();

    // a partial request line is closed after the header-read time-out
    let mut partial = TcpStream::connect(to).unwrap();
    partial.write_all(b"GET /healthz HTT").unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut partial, Duration::from_secs(5)));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // dripping one byte at a time does not extend it
    let mut drip = TcpStream::connect(to).unwrap();
    let started = Instant::now();
    let mut dropped = false;
    for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if drip.write_all(&[*b]).is_err() {
            dropped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(150));
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    assert!(dropped || closed_within(&mut drip, Duration::from_secs(2)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // an idle keep-alive connection is closed (waiting for the next request's headers counts
    // as reading headers)
    let mut idle = TcpStream::connect(to).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = idle.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert!(closed_within(&mut idle, Duration::from_secs(6)));
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(4), "{waited:?}");

    // beyond the connection cap, new connections wait until a slot frees (here: when the
    // silent ones reach their header-read time-out), and are then served
    let silent: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(to).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut late = TcpStream::connect(to).unwrap();
    late.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    late.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    late.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
    server.stop();
}

#[test]
fn the_store_and_its_folder_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("hostile_modes");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    assert!(dw(&dir, &["clients", "add", "c", "--tenant", "t"]).0);
    let server = start(&dir, &["--tenant", "t", "--listen", "127.0.0.1:0"], "modes");
    let mode = |p: &str| {
        std::fs::metadata(dir.join(p))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("dw-data"), 0o700);
    for file in [
        "warehouse.db",
        "warehouse.db-wal",
        "warehouse.db-shm",
        "paging.key",
        "signing-keys.json",
        "auth-registry.json",
    ] {
        assert_eq!(mode(&format!("dw-data/{file}")), 0o600, "{file}");
    }
    server.stop();
    // a store an older release left world-readable is tightened when opened
    let old = dir.join("dw-data/warehouse.db");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(dw(&dir, &["tenants", "list"]).0);
    assert_eq!(mode("dw-data/warehouse.db"), 0o600);
}

#[test]
fn removing_a_client_revokes_its_tokens_at_once() {
    let dir = temp_dir("hostile_revoke");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    let secret = add_client(&dir, "gone", "t");
    let server = start(
        &dir,
        &["--tenant", "t", "--listen", "127.0.0.1:0"],
        "revoke",
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .post(&format!("{}/oauth2/token", server.base))
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "gone"),
            ("client_secret", secret.as_str()),
        ])
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = serde_json::from_reader(r.body_mut().as_reader()).unwrap();
    let token = body["access_token"].as_str().unwrap().to_string();
    // and one from the Entra-layout endpoint, whose issuer names the tenant
    let mut r = agent
        .post(&format!("{}/t/oauth2/v2.0/token", server.base))
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "gone"),
            ("client_secret", secret.as_str()),
            ("scope", &format!("{}/.default", server.base)),
        ])
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = serde_json::from_reader(r.body_mut().as_reader()).unwrap();
    let entra_token = body["access_token"].as_str().unwrap().to_string();
    let root = format!(
        "{}/ReportingService/DataWarehouseFEService?api-version=v1.0",
        server.base
    );
    let read = |token: &str| {
        let mut r = agent
            .get(&root)
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    for t in [&token, &entra_token] {
        // twice: the second is answered from the verified tokens the server remembers
        assert_eq!((read(t).0, read(t).0), (200, 200));
    }
    assert!(dw(&dir, &["clients", "remove", "gone"]).0);
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    for t in [&token, &entra_token] {
        let (status, body) = read(t);
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("no longer registered"), "{body}");
    }
    server.stop();
}

/// Runs `dw ARGS` in `dir`, giving it `within` to finish: (success, stderr). A run still going
/// then (a read that blocks) is killed and fails the test.
fn dw_within(dir: &std::path::Path, args: &[&str], within: Duration) -> (bool, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(args)
        .current_dir(dir)
        .env_remove("DW_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("dw {args:?} did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.success(), err)
}

fn mkfifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let done = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(done.success());
}

#[test]
fn files_that_are_not_regular_are_refused_without_blocking() {
    let dir = temp_dir("hostile_files");
    let within = Duration::from_secs(30);
    // a configuration file that is a FIFO (opening it to read would wait for a writer)
    mkfifo(&dir.join("dw.toml"));
    let (ok, err) = dw_within(&dir, &["tenants", "list", "--config", "dw.toml"], within);
    assert!(
        !ok && err.contains("dw.toml: is not a regular file"),
        "{err}"
    );
    // a store that is a FIFO (SQLite would block opening it)
    let store = ["tenants", "list", "--store", "sqlite:dw.toml"];
    let (ok, err) = dw_within(&dir, &store, within);
    assert!(
        !ok && err.contains("dw.toml: is not a regular file"),
        "{err}"
    );
    // a certificate that is a device (reading it would never end)
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    let secret = add_client(&dir, "c", "t");
    std::os::unix::fs::symlink("/dev/zero", dir.join("cert.pem")).unwrap();
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    let tls = [
        "serve",
        "--tenant",
        "t",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        "key.pem",
    ];
    let (ok, err) = dw_within(&dir, &tls, within);
    assert!(
        !ok && err.contains("TLS certificate cert.pem: is not a regular file"),
        "{err}"
    );
    // a running server whose registry and signing keys turn into FIFOs keeps what it loaded
    let server = start(&dir, &["--tenant", "t", "--listen", "127.0.0.1:0"], "files");
    let token = || {
        ureq::post(&format!("{}/oauth2/token", server.base))
            .config()
            .http_status_as_error(false)
            .build()
            .send_form([
                ("grant_type", "client_credentials"),
                ("client_id", "c"),
                ("client_secret", secret.as_str()),
            ])
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(token(), 200);
    mkfifo(&dir.join("dw-data/auth-registry.json"));
    mkfifo(&dir.join("dw-data/signing-keys.json"));
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(token(), 200, "the loaded client and keys still serve");
    let log = server.stop();
    assert!(
        log.contains("cannot reload clients and users")
            && log.contains("cannot reload signing keys")
            && log.contains("not a regular file"),
        "{log}"
    );
}

#[test]
fn the_metrics_address_bounds_its_connections_too() {
    let dir = temp_dir("hostile_metrics");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    let metrics_at = support::closed_address();
    let server = start_with_env(
        &dir,
        &[
            "--tenant",
            "t",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            &metrics_at,
        ],
        "metrics",
        &[("DW_LIMITS__HEADER_READ_TIMEOUT_SECS", "1")],
    );
    // connections that send nothing take every slot, and are closed at the header-read
    // time-out; a scrape behind them waits for a slot, then is answered
    let mut silent: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(&metrics_at).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut scrape = TcpStream::connect(&metrics_at).unwrap();
    scrape.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    scrape
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    scrape.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.contains("text/plain; version=0.0.4"), "{answer}");
    for s in &mut silent {
        assert!(closed_within(s, Duration::from_secs(5)));
    }
    server.stop();
}

#[test]
fn names_a_client_chose_cannot_forge_or_flood_log_lines() {
    let dir = temp_dir("hostile_log_lines");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    for format in ["text", "json"] {
        let server = start_with_env(
            &dir,
            &["--tenant", "t", "--listen", "127.0.0.1:0"],
            &format!("log_lines_{format}"),
            &[("DW_LOG_FORMAT", format)],
        );
        let to = server.address();
        let forged = "x%0A2026-12-07T10:00:00.000000Z  INFO dw: token issued client_id=admin%1B[2J";
        assert_eq!(token_attempt(70, to, forged), 401);
        assert_eq!(token_attempt(71, to, &"y".repeat(40_000)), 401);
        let log = server.stop();
        assert!(
            !log.lines().any(|l| l.starts_with("2026-12-07T10:00:00")),
            "{format}: a forged line: {log}"
        );
        assert!(
            !log.contains('\u{1b}'),
            "{format}: an escape sequence reached the log"
        );
        // JSON writes the escape's backslash as two
        let backslash = if format == "json" { r"\\" } else { r"\" };
        let line = log
            .lines()
            .find(|l| l.contains(&format!("x{backslash}u{{a}}2026-12-07")))
            .unwrap_or_else(|| panic!("{format}: {log}"));
        assert!(line.contains("failed client authentication"), "{line}");
        assert!(line.contains(&format!("{backslash}u{{1b}}[2J")), "{line}");
        let long_line = log
            .lines()
            .find(|l| l.contains("yyyyyyyy"))
            .unwrap_or_else(|| panic!("{format}: {log}"));
        assert!(
            long_line.len() < 1000,
            "{format}: {} bytes",
            long_line.len()
        );
        assert!(long_line.contains("(39800 more bytes)"), "{long_line}");
    }
}
