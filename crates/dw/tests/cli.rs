//! The `dw` binary end to end: demo start-up and reuse, the demo client and `dw token`,
//! configuration precedence, shutdown.

use std::path::Path;
use std::process::Command;

mod support;

use support::Server;

/// Starts `dw serve ARGS` on a free port with `env` for the server.
fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let args = [&["--listen", "127.0.0.1:0"], args].concat();
    support::start_with_env(
        dir,
        &args,
        &format!("stderr-{}", args.len() + env.len()),
        env,
    )
}

/// A token from `dw token` for the demo client, with the running server's base URL as issuer.
fn token(dir: &Path, s: &Server) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(["token", "--client", "demo-client", "--public-url", &s.base])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn page_len(s: &Server, token: &str, collection: &str) -> usize {
    let mut resp = ureq::get(&format!("{}/{collection}?api-version=v1.0", s.root))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let v: serde_json::Value = serde_json::from_reader(resp.body_mut().as_reader()).unwrap();
    assert!(v["@odata.nextLink"].is_string());
    v["value"].as_array().unwrap().len()
}

#[test]
fn demo_is_created_once_and_settings_follow_precedence() {
    let dir = testkit::TempDir::new("cli-test");

    let mut s = start(&dir, &["--demo"], &[]);
    // the demo client's secret is printed once and works at the token endpoint
    let secret = s.demo_secret().expect("demo client secret printed");
    let mut r = ureq::post(&format!("{}/oauth2/token", s.base))
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", secret.as_str()),
        ])
        .unwrap();
    let body: serde_json::Value = serde_json::from_reader(r.body_mut().as_reader()).unwrap();
    let t = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        page_len(&s, &t, "devicePropertyHistories"),
        10_000,
        "default page size"
    );
    let anonymous = ureq::get(&format!("{}/devices?api-version=v1.0", s.root)).call();
    assert!(
        matches!(anonymous, Err(ureq::Error::StatusCode(401))),
        "{anonymous:?}"
    );
    let log = s.stop();
    assert!(log.contains("creating the demo tenant"), "{log}");
    assert!(dir.join("dw-data/warehouse.db").exists());
    #[cfg(unix)]
    for private in ["dw-data/signing-keys.json", "dw-data/auth-registry.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(private))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{private} is owner-only");
    }

    std::fs::write(dir.join("dw.toml"), "page_size = 7\n").unwrap();
    let mut s = start(&dir, &["--demo", "--config", "dw.toml"], &[]);
    assert!(
        s.demo_secret().is_none(),
        "the secret is shown only when the client is created"
    );
    let t = token(&dir, &s);
    assert_eq!(page_len(&s, &t, "devices"), 7, "TOML");
    let log = s.stop();
    assert!(
        !log.contains("creating the demo tenant"),
        "the second start reuses the data: {log}"
    );

    let s = start(&dir, &["--config", "dw.toml"], &[("DW_PAGE_SIZE", "5")]);
    let t = token(&dir, &s);
    assert_eq!(page_len(&s, &t, "devices"), 5, "environment over TOML");
    s.stop();

    let s = start(
        &dir,
        &["--config", "dw.toml", "--page-size", "3"],
        &[("DW_PAGE_SIZE", "5")],
    );
    let t = token(&dir, &s);
    assert_eq!(page_len(&s, &t, "devices"), 3, "flags over environment");
    s.stop();

    let bad = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(["serve", "--config", "missing.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing.toml"));
}

#[test]
fn ingest_check_validates_a_folder_without_a_store() {
    let dir = testkit::TempDir::new("check-test");
    let fixtures =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../ingest/tests/fixtures");
    let check = |folder: &Path| {
        Command::new(env!("CARGO_BIN_EXE_dw"))
            .args(["ingest", "--check", "--from"])
            .arg(folder)
            .current_dir(&dir)
            .env_remove("DW_STORE")
            .output()
            .unwrap()
    };
    let good = check(&fixtures.join("tenant/2026-11-02"));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(
        String::from_utf8_lossy(&good.stdout).contains("valid, 36 records in 20 files"),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    let bad = check(&fixtures.join("graph/day3-bad"));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains(
        "the snapshot is not valid: managedDevices.json: record 2: field 'azureADRegistered'"
    ));
    assert!(!dir.join("dw-data").exists(), "checking opens no store");
}
