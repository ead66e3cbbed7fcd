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
    // a wrong value and broken TOML are named with the file they are in
    for (text, needle) in [
        ("page_size = \"x\"\n", "page_size"),
        ("page_size = \n", "line 1"),
    ] {
        std::fs::write(dir.join("bad.toml"), text).unwrap();
        let (ok, _, err) = support::dw(&dir, &["tenants", "list", "--config", "bad.toml"]);
        assert!(
            !ok && err.contains(needle) && err.contains("bad.toml"),
            "{err}"
        );
    }
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

#[test]
fn completions_and_manual_pages_come_from_the_command_line() {
    let dir = testkit::TempDir::new("man");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = support::dw_ok(&dir, &["completions", shell]);
        for word in ["serve", "clients", "completions", "store"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let page = support::dw_ok(&dir, &["man"]);
    assert!(page.contains(".TH dw 1"), "{page}");
    assert!(page.contains("serve") && page.contains("completions"));
    // a page per command, which man renders when it is installed
    support::dw_ok(&dir, &["man", "--out-dir", dir.path().to_str().unwrap()]);
    for name in ["dw.1", "dw-serve.1", "dw-clients-add.1", "dw-completions.1"] {
        let file = dir.path().join(name);
        assert!(file.is_file(), "{name}");
        if Path::new("/usr/bin/man").exists() {
            let rendered = Command::new("man")
                .arg("-l")
                .arg(&file)
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .output()
                .unwrap();
            assert!(rendered.status.success(), "{name}");
            assert!(!rendered.stdout.is_empty(), "{name}");
        }
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// The systemd unit of docs/deployment.md: hardened, reloading on SIGHUP, and valid for
/// `systemd-analyze verify` where that tool is installed (with this build as its binary).
#[test]
fn the_systemd_unit_is_hardened_and_valid() {
    let unit_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/dw.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    for line in [
        "ExecStart=/usr/local/bin/dw serve",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/dw",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(line), "{line}");
    }
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("systemd-analyze is not installed: the unit's syntax is not verified");
        return;
    }
    let dir = testkit::TempDir::new("unit");
    let local = dir.path().join("dw.service");
    std::fs::write(
        &local,
        unit.replace("/usr/local/bin/dw", env!("CARGO_BIN_EXE_dw")),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&local)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fields of RFC 4180 CSV text (CRLF records, quoted fields with doubled quotes).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\r', false) if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (c, _) => field.push(c),
        }
    }
    records
}

/// Every row of a collection over HTTP, following next links.
fn http_rows(s: &Server, token: &str, query: &str) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    let mut next = Some(format!("{}/{query}", s.root));
    while let Some(url) = next.take() {
        let mut resp = ureq::get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        let v: serde_json::Value = serde_json::from_reader(resp.body_mut().as_reader()).unwrap();
        // the export writes properties; control information (ETags) is the service's own
        rows.extend(v["value"].as_array().unwrap().iter().map(|row| {
            let mut row = row.clone();
            row.as_object_mut().unwrap().remove("@odata.etag");
            row
        }));
        next = v["@odata.nextLink"].as_str().map(str::to_string);
    }
    rows
}

#[test]
fn export_writes_what_the_service_serves() {
    let dir = testkit::TempDir::new("export");
    let s = start(&dir, &["--demo"], &[]);
    let t = token(&dir, &s);
    let select = "dateKey,deviceKey,deviceName,azureADRegistered,complianceStateKey,osVersion";
    // CSV of a whole fact collection (several statements of 50 000 rows), beside the service
    support::dw_ok(
        &dir,
        &[
            "export",
            "devicePropertyHistories",
            "--select",
            select,
            "--out",
            "histories.csv",
        ],
    );
    assert!(!dir.join("histories.csv.partial").exists());
    let text = std::fs::read_to_string(dir.join("histories.csv")).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark for Excel");
    let records = csv_records(text);
    assert_eq!(records[0].join(","), select);
    let served = http_rows(
        &s,
        &t,
        &format!("devicePropertyHistories?api-version=v1.0&$select={select}"),
    );
    assert!(served.len() > 50_000, "{} rows", served.len());
    assert_eq!(records.len() - 1, served.len());
    let field = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for (record, row) in records[1..].iter().zip(&served) {
        let expected: Vec<String> = select.split(',').map(|p| field(&row[p])).collect();
        assert_eq!(record, &expected);
    }
    // NDJSON with a filter, as the service answers the same $filter
    let filter = "deviceKey le 20 and startswith(osVersion,'10.')";
    let lines = support::dw_ok(
        &dir,
        &[
            "export",
            "DevicePropertyHistories",
            "--filter",
            filter,
            "--format",
            "ndjson",
        ],
    );
    let exported: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let filtered = http_rows(
        &s,
        &t,
        &format!(
            "devicePropertyHistories?api-version=v1.0&$filter={}",
            filter.replace(' ', "%20")
        ),
    );
    assert!(!exported.is_empty());
    assert_eq!(exported, filtered);
    // the last days only, as maxhistorydays: four days (the snapshot and the three before)
    let recent = support::dw_ok(
        &dir,
        &[
            "export",
            "devicePropertyHistories",
            "--select",
            "dateKey",
            "--maxhistorydays",
            "3",
            "--format",
            "ndjson",
        ],
    );
    let days: std::collections::BTreeSet<String> = recent.lines().map(str::to_string).collect();
    assert_eq!(days.len(), 4, "{days:?}");
    // errors name the option and the position
    let (ok, _, err) = support::dw(&dir, &["export", "devices", "--filter", "deviceKey lt 'x'"]);
    assert!(!ok);
    assert!(
        err.contains("--filter") && err.contains("at character 13"),
        "{err}"
    );
    let (ok, _, err) = support::dw(&dir, &["export", "nothing"]);
    assert!(!ok && err.contains("not a collection"), "{err}");
}

#[test]
fn doctor_says_what_is_wrong_and_fails_only_on_failures() {
    let dir = testkit::TempDir::new("doctor");
    let s = start(&dir, &["--demo"], &[]);
    // a healthy demo: every line OK, exit 0
    let (ok, out, err) = support::dw(&dir, &["doctor"]);
    assert!(ok, "{out}{err}");
    for subject in [
        "config",
        "store",
        "integrity",
        "tenants",
        "permissions",
        "schedule",
    ] {
        assert!(out.contains(&format!("OK   {subject}")), "{subject}: {out}");
    }
    assert!(!out.contains("WARN") && !out.contains("FAIL"), "{out}");
    // the running server as a trusted issuer (its discovery and keys), a certificate that has
    // expired, a schedule without a folder, and a store readable by others
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = params.self_signed(&cert.key_pair).unwrap();
    std::fs::write(dir.join("expired.pem"), expired.pem()).unwrap();
    std::fs::write(
        dir.join("dw.toml"),
        format!(
            "ingest_schedule = \"02:00\"\ntls_cert = \"expired.pem\"\n\n[[auth.issuers]]\nissuer = \"{}\"\ntenants = {{ \"any\" = \"demo\" }}\n",
            s.base
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("dw-data/warehouse.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    // a paging key that is a FIFO (dw would refuse to read it)
    let paging_key = dir.join("dw-data/paging.key");
    std::fs::remove_file(&paging_key).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&paging_key)
        .status()
        .unwrap()
        .success());
    let (ok, out, _) = support::dw(&dir, &["doctor", "--config", "dw.toml"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL permissions") && out.contains("paging.key is not a regular file"),
        "{out}"
    );
    assert!(out.contains("OK   issuer"), "{out}");
    assert!(out.contains("OK   clock"), "{out}");
    assert!(out.contains("FAIL tls") && out.contains("expired"), "{out}");
    assert!(out.contains("FAIL schedule"), "{out}");
    #[cfg(unix)]
    assert!(
        out.contains("WARN permissions") && out.contains("chmod 600"),
        "{out}"
    );
}

/// The status of a GET of `url` with a bearer `token`.
fn status_of(url: &str, token: &str) -> u16 {
    ureq::get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap()
        .status()
        .as_u16()
}

/// The Prometheus exposition served at `http://{at}/metrics`.
fn metrics_text(at: &str) -> String {
    ureq::get(&format!("http://{at}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// The value of the sample `series` (`name{labels}`) in a Prometheus exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_are_served_on_their_own_address_and_move_with_requests() {
    let dir = testkit::TempDir::new("metrics");
    let metrics_at = support::closed_address();
    let s = start(&dir, &["--demo", "--metrics-listen", &metrics_at], &[]);
    let t = token(&dir, &s);
    let get = |url: &str| status_of(url, &t);
    for _ in 0..3 {
        assert_eq!(
            get(&format!("{}/devices?api-version=v1.0&$top=5", s.root)),
            200
        );
    }
    assert_eq!(
        get(&format!("{}/devices?api-version=v1.0&$filter=nope", s.root)),
        400
    );
    let text = metrics_text(&metrics_at);
    // the exposition parses: comments, or a series and a number
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(
            name.starts_with("dw_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
    }
    let requests = |status: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("dw_http_requests_total{")
                    && l.contains(&format!("status=\"{status}\""))
                    && l.contains("api_version=\"v1.0\"")
                    && l.contains("collection=\"devices\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert!(requests("200").unwrap() >= 3.0, "{text}");
    assert!(requests("400").unwrap() >= 1.0, "{text}");
    assert!(
        sample(
            &text,
            "dw_http_response_start_seconds_count{collection=\"devices\"}"
        )
        .unwrap()
            >= 4.0,
        "{text}"
    );
    assert!(
        sample(&text, "dw_rows_served_total{collection=\"devices\"}").unwrap() >= 15.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "dw_pages_total{collection=\"devices\",outcome=\"complete\"}"
        )
        .unwrap()
            >= 3.0,
        "{text}"
    );
    assert_eq!(sample(&text, "dw_streams_in_flight"), Some(0.0), "{text}");
    assert!(
        sample(
            &text,
            "dw_store_connection_wait_seconds_count{store=\"sqlite\"}"
        )
        .unwrap()
            >= 4.0,
        "{text}"
    );
    assert!(
        sample(&text, "dw_store_connections_in_use{store=\"sqlite\"}").is_some(),
        "{text}"
    );
    assert!(
        sample(&text, "dw_bytes_served_total{collection=\"devices\"}").unwrap() > 1000.0,
        "{text}"
    );
    // a refused request and a token request are counted too
    let long = format!(
        "{}/devices?api-version=v1.0&x={}",
        s.root,
        "a".repeat(62_000)
    );
    assert_eq!(get(&long), 414);
    let denied = ureq::post(&format!("{}/oauth2/token", s.base))
        .config()
        .http_status_as_error(false)
        .build()
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ])
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(denied, 401);
    let text = metrics_text(&metrics_at);
    assert_eq!(
        sample(&text, "dw_requests_refused_total{limit=\"URL\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "dw_token_requests_total{status=\"401\"}").unwrap() >= 1.0,
        "{text}"
    );
    // the demo's publication (read from the store at start), without naming its tenant
    assert!(
        sample(&text, "dw_last_publication_timestamp_seconds").unwrap() > 1.7e9,
        "{text}"
    );
    // no tenant name in a label, and the clients' address does not serve them
    assert!(!text.contains("\"demo\""), "{text}");
    assert_eq!(get(&format!("{}/metrics", s.base)), 404);
}

/// A JWT with `claims`, signed with nothing a key would verify.
fn unsigned_token(claims: &serde_json::Value) -> String {
    use base64::Engine;
    let part = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let header = serde_json::json!({ "alg": "ES256", "typ": "JWT", "kid": "k1" });
    format!("{}.{}.c2lnbmF0dXJl", part(&header), part(claims))
}

#[test]
fn metrics_count_key_fetches_and_name_tenants_only_when_asked() {
    // another server as a trusted issuer, and an issuer that does not answer
    let issuer_dir = testkit::TempDir::new("metrics-issuer");
    let issuer = start(&issuer_dir, &["--demo"], &[]);
    let dead = format!("http://{}", support::closed_address());
    let dir = testkit::TempDir::new("metrics-tenants");
    std::fs::write(
        dir.join("dw.toml"),
        format!(
            "[[auth.issuers]]\nissuer = \"{}\"\ntenants = {{ \"any\" = \"demo\" }}\n\n[[auth.issuers]]\nissuer = \"{dead}\"\n",
            issuer.base
        ),
    )
    .unwrap();
    let metrics_at = support::closed_address();
    let s = start(
        &dir,
        &[
            "--demo",
            "--config",
            "dw.toml",
            "--metrics-listen",
            &metrics_at,
            "--metrics-tenant-labels",
        ],
        &[],
    );
    let status = |token: &str| {
        status_of(
            &format!("{}/devices?api-version=v1.0&$top=5", s.root),
            token,
        )
    };
    assert_eq!(status(&token(&dir, &s)), 200);
    // the other server's token: its keys are fetched (then its audience is refused)
    assert_eq!(status(&token(&issuer_dir, &issuer)), 401);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let from_dead = unsigned_token(&serde_json::json!({
        "iss": dead, "aud": format!("{}/", s.base), "exp": now + 600, "sub": "x"
    }));
    assert_eq!(status(&from_dead), 503, "its keys cannot be fetched");
    let text = metrics_text(&metrics_at);
    assert_eq!(
        sample(&text, "dw_jwks_fetches_total{outcome=\"ok\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "dw_jwks_fetches_total{outcome=\"failed\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "dw_rows_served_total{collection=\"devices\",tenant=\"demo\"}"
        ),
        Some(5.0),
        "{text}"
    );
    let published = sample(
        &text,
        "dw_last_publication_timestamp_seconds{tenant=\"demo\"}",
    );
    assert!(published.unwrap() > 1.7e9, "{text}");
    assert!(
        sample(&text, "dw_last_publication_timestamp_seconds").is_none(),
        "per tenant instead: {text}"
    );
}
