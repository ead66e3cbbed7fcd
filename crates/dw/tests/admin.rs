//! TLS with certificate reload, the plain-HTTP warning, the audit log line, and the admin
//! commands (tenants, clients with reload on SIGHUP, keys), through the real binary.

use std::path::Path;
use std::time::Duration;
use support::{add_client, dw, start, temp_dir, Server};

mod support;

fn https_agent(cert_pem: &str) -> ureq::Agent {
    let cert = ureq::tls::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn write_cert(dir: &Path) -> String {
    let c =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), c.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), c.key_pair.serialize_pem()).unwrap();
    c.cert.pem()
}

#[test]
fn tls_reload_admin_commands_and_audit_log() {
    let dir = testkit::TempDir::new("admin-test");
    let (ok, _, err) = dw(
        &dir,
        &[
            "generate",
            "--devices",
            "30",
            "--users",
            "30",
            "--days",
            "3",
            "--tenant",
            "acme",
        ],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = dw(&dir, &["tenants", "add", "empty-co"]);
    assert!(ok && out.contains("empty-co"));
    let (_, out, _) = dw(&dir, &["tenants", "list"]);
    assert!(
        out.contains("acme\tsnapshot") && out.contains("empty-co\tno data yet"),
        "{out}"
    );

    let first_cert = write_cert(&dir);
    let server = start(
        &dir,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
        "tls",
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let agent = https_agent(&first_cert);
    assert_eq!(
        agent
            .get(&format!("{}/healthz", server.base))
            .call()
            .unwrap()
            .status(),
        200
    );

    // a client added while the server runs works after SIGHUP
    let secret = add_client(&dir, "reporting", "acme");
    let (_, listed, _) = dw(&dir, &["clients", "list"]);
    assert!(
        listed.contains("reporting") && !listed.contains(&secret),
        "secrets are never listed"
    );
    let token_url = format!("{}/oauth2/token", server.base);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "reporting"),
        ("client_secret", secret.as_str()),
    ];
    assert_eq!(
        agent.post(&token_url).send_form(form).unwrap().status(),
        401,
        "unknown until reload"
    );
    // a renewed certificate is picked up on the same signal
    let second_cert = write_cert(&dir);
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    let agent2 = https_agent(&second_cert);
    let mut r = agent2.post(&token_url).send_form(form).unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = serde_json::from_reader(r.body_mut().as_reader()).unwrap();
    let token = body["access_token"].as_str().unwrap().to_string();
    assert!(
        https_agent(&first_cert)
            .get(&format!("{}/healthz", server.base))
            .call()
            .is_err(),
        "the old certificate is gone"
    );
    let r = agent2
        .get(&format!(
            "{}/ReportingService/DataWarehouseFEService/devices/$count?api-version=v1.0",
            server.base
        ))
        .header("Authorization", &format!("Bearer {token}"))
        .header("client-request-id", "audit-check-1")
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    rotation_keeps_earlier_tokens_valid(&dir, &server, &agent2, &token_url, form, &token);
    // a certificate that turns into a FIFO is refused on reload; the loaded one keeps serving
    std::fs::remove_file(dir.join("cert.pem")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(dir.join("cert.pem"))
        .status()
        .unwrap()
        .success());
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        agent2
            .get(&format!("{}/healthz", server.base))
            .call()
            .unwrap()
            .status(),
        200
    );
    let log = server.stop();
    assert!(
        log.contains("cannot reload the TLS certificate") && log.contains("not a regular file"),
        "{log}"
    );
    assert_audit_line(&log, &token, &secret);
    plain_http_warns_and_tenants_are_removed(&dir);
}

/// After `dw keys rotate` and SIGHUP, new tokens use the new key, the old key stays published
/// and tokens signed with it (`token`) stay valid.
fn rotation_keeps_earlier_tokens_valid(
    dir: &Path,
    server: &Server,
    agent2: &ureq::Agent,
    token_url: &str,
    form: [(&str, &str); 3],
    token: &str,
) {
    let kid = |t: &str| {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (ok, out, _) = dw(dir, &["keys", "rotate"]);
    assert!(ok && out.contains("retired at"), "{out}");
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    let mut r = agent2.post(token_url).send_form(form).unwrap();
    let fresh: serde_json::Value = serde_json::from_reader(r.body_mut().as_reader()).unwrap();
    let fresh = fresh["access_token"].as_str().unwrap().to_string();
    assert_ne!(kid(&fresh), kid(token), "signed with the new key");
    let jwks: serde_json::Value = serde_json::from_reader(
        agent2
            .get(&format!("{}/oauth2/keys", server.base))
            .call()
            .unwrap()
            .body_mut()
            .as_reader(),
    )
    .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "the old key stays published"
    );
    for t in [token, fresh.as_str()] {
        let r = agent2
            .get(&format!(
                "{}/ReportingService/DataWarehouseFEService/devices/$count?api-version=v1.0",
                server.base
            ))
            .header("Authorization", &format!("Bearer {t}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// The server's log has one structured line per request with who asked, never the token or
/// the client's secret.
fn assert_audit_line(log: &str, token: &str, secret: &str) {
    let line = log
        .lines()
        .find(|l| l.contains("/devices/$count"))
        .unwrap_or_else(|| panic!("{log}"));
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        (
            entry["tenant"].as_str(),
            entry["client_id"].as_str(),
            entry["status"].as_u64()
        ),
        (Some("acme"), Some("reporting"), Some(200)),
        "{line}"
    );
    assert!(entry["request_id"].as_str().is_some_and(|r| r.len() == 36));
    assert!(
        !log.contains(token) && !log.contains(secret),
        "no token or secret in the log"
    );
}

/// Plain HTTP on a non-loopback address warns; removing a tenant needs `--yes`.
fn plain_http_warns_and_tenants_are_removed(dir: &Path) {
    let server = start(dir, &["--listen", "0.0.0.0:0"], "plain");
    let log = server.stop();
    assert!(
        log.contains("serving plain HTTP on a non-loopback address"),
        "{log}"
    );

    let (ok, _, err) = dw(dir, &["tenants", "remove", "empty-co"]);
    assert!(!ok && err.contains("--yes"));
    let (ok, _, _) = dw(dir, &["tenants", "remove", "empty-co", "--yes"]);
    assert!(ok);
    let (_, out, _) = dw(dir, &["tenants", "list"]);
    assert!(!out.contains("empty-co"));
}

#[test]
fn the_token_command_the_banner_prints_mints_tokens_the_server_accepts() {
    let dir = testkit::TempDir::new("token_hint");
    assert!(dw(&dir, &["tenants", "add", "t"]).0);
    assert!(dw(&dir, &["clients", "add", "demo-client", "--tenant", "t"]).0);
    // a port other than the default, given as a flag only `serve` reads
    let mut server = start(&dir, &["--tenant", "t", "--listen", "127.0.0.1:0"], "hint");
    let line = server.banner_line("get a token:");
    let command = line
        .split("TOKEN=$(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        command.contains(&format!("--public-url {}", server.base)),
        "{command}"
    );
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let (ok, token, err) = dw(&dir, &args);
    assert!(ok, "{err}");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let r = agent
        .get(&format!(
            "{}/ReportingService/DataWarehouseFEService?api-version=v1.0",
            server.base
        ))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop();
}

#[test]
fn registry_edits_at_once_are_all_kept() {
    let dir = temp_dir("registry_race");
    // 12 adds at once: each printed a secret, only one was kept
    let adds: Vec<_> = (0..12)
        .map(|i| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || add_client(&dir, &format!("client-{i}"), "t"))
        })
        .collect();
    for a in adds {
        a.join().unwrap();
    }
    let (_, listed, _) = dw(&dir, &["clients", "list"]);
    for i in 0..12 {
        assert!(
            listed.contains(&format!("client-{i}")),
            "client-{i}: {listed}"
        );
    }
    // a removal beside an add is not undone by it (a compromised client stayed valid)
    for round in 0..5 {
        let add = {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || add_client(&dir, &format!("new-{round}"), "t"))
        };
        let removed = dw(&dir, &["clients", "remove", &format!("client-{round}")]);
        assert!(removed.0, "{removed:?}");
        add.join().unwrap();
        let (_, listed, _) = dw(&dir, &["clients", "list"]);
        let gone = format!("client-{round}");
        assert!(
            !listed.split_whitespace().any(|word| word == gone),
            "{gone}: {listed}"
        );
        assert!(listed.contains(&format!("new-{round}")), "{listed}");
    }
}

#[test]
fn key_rotations_at_once_are_all_kept() {
    let dir = temp_dir("keys_race");
    let rotations: Vec<_> = (0..6)
        .map(|_| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || dw(&dir, &["keys", "rotate"]))
        })
        .collect();
    let mut kids = Vec::new();
    for r in rotations {
        let (ok, out, err) = r.join().unwrap();
        assert!(ok, "{err}");
        let kid = out
            .lines()
            .find_map(|l| l.strip_prefix("signing with new key "))
            .and_then(|l| l.split(';').next())
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        kids.push(kid);
    }
    let (_, listed, _) = dw(&dir, &["keys", "list"]);
    for kid in &kids {
        assert!(
            listed.contains(kid.as_str()),
            "{kid} was reported, not kept: {listed}"
        );
    }
    // the first of the processes made the file's one first key: 1 + 6, one of them current
    assert_eq!(listed.lines().count(), 7, "{listed}");
    assert_eq!(listed.matches("current").count(), 1, "{listed}");
}
