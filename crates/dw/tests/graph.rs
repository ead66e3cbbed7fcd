//! `dw ingest --from graph` against a fake Graph on loopback: client-credentials sign-in, paging,
//! a throttled page retried after Retry-After, the raw responses recorded for replay, and a
//! failure in the middle of paging that publishes nothing.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use warehouse::{SqliteStore, Store};

#[derive(Clone)]
struct Fake {
    base: String,
    devices: Arc<Vec<Value>>,
    users: Arc<Vec<Value>>,
    throttled: Arc<AtomicUsize>,
    fail_page_two: Arc<AtomicBool>,
    /// Answer 403 for terms and conditions (a permission not granted).
    refuse_terms: Arc<AtomicBool>,
    /// Sign-ins so far; each gets a token of its own.
    sign_ins: Arc<AtomicUsize>,
    /// The token Graph accepts now.
    valid_token: Arc<std::sync::Mutex<String>>,
    /// Requests accepted so far, and after how many the token expires (0: never).
    accepted: Arc<AtomicUsize>,
    expire_after: Arc<AtomicUsize>,
}

fn records(file: &str) -> Vec<Value> {
    let path = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../ingest/tests/fixtures/graph/day1")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .flat_map(|v| v.unwrap()["value"].as_array().unwrap().clone())
        .collect()
}

fn json_response(v: Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// Whether the request carries the token Graph accepts now; counts it, and expires the token
/// when the test asks.
fn authorized(f: &Fake, h: &HeaderMap) -> bool {
    let valid = format!("Bearer {}", f.valid_token.lock().unwrap());
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(valid.as_str()) {
        return false;
    }
    let n = f.accepted.fetch_add(1, Ordering::SeqCst) + 1;
    if n == f.expire_after.load(Ordering::SeqCst) {
        f.valid_token.lock().unwrap().clear();
    }
    true
}

/// Whether `assertion` is the test app's client assertion for this token endpoint: PS256 signed
/// by its certificate's key, with the certificate's SHA-256 thumbprint.
fn valid_assertion(assertion: &str, base: &str) -> bool {
    use base64::Engine;
    use sha2::Digest;
    let pem = include_str!("fixtures/graph-app.pem");
    let body: String = pem
        .split("-----END CERTIFICATE-----")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(include_bytes!("fixtures/graph-app.pub.pem"))
        .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
    validation.set_audience(&[format!("{base}/contoso/oauth2/v2.0/token")]);
    validation.set_issuer(&["app"]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
        Ok(data) => data.claims["sub"] == "app" && data.header.x5t_s256 == Some(thumbprint),
        Err(_) => false,
    }
}

async fn token(
    State(f): State<Fake>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let secret = form.get("client_secret").is_some_and(|s| s == "s3cret");
    let certificate = form.get("client_assertion_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        && form
            .get("client_assertion")
            .is_some_and(|a| valid_assertion(a, &f.base));
    if form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.contains_key("scope")
        && (secret || certificate)
    {
        let n = f.sign_ins.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("fake-graph-token-{n}");
        *f.valid_token.lock().unwrap() = token.clone();
        json_response(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}))
    } else {
        (
            StatusCode::UNAUTHORIZED,
            json_response(json!({"error": "invalid_client", "error_description": "bad secret"})),
        )
            .into_response()
    }
}

async fn devices(
    State(f): State<Fake>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&f, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match q.get("page").map(String::as_str) {
        None => json_response(
            json!({"value": [f.devices[0]], "@odata.nextLink": format!("{}/v1.0/deviceManagement/managedDevices?page=2", f.base)}),
        ),
        Some(_) if f.fail_page_two.load(Ordering::SeqCst) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
        }
        Some(_) => {
            if f.throttled.fetch_add(1, Ordering::SeqCst) == 0 {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    "slow down",
                )
                    .into_response();
            }
            json_response(json!({"value": f.devices[1..]}))
        }
    }
}

async fn users(State(f): State<Fake>, h: HeaderMap) -> Response {
    if !authorized(&f, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    json_response(json!({"value": *f.users}))
}

async fn categories(State(f): State<Fake>, h: HeaderMap) -> Response {
    if !authorized(&f, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    json_response(
        json!({"value": [{"id": "9a1b7d4e-0000-4000-8000-00000000c001", "displayName": "Laptops"}]}),
    )
}

/// The other sources, per entity too, served from the recorded tenant's first day:
/// `/v1.0/deviceManagement/deviceConfigurations/ID/userStatuses` is
/// `deviceConfigurations/ID/userStatuses.json`.
async fn recorded(
    State(f): State<Fake>,
    h: HeaderMap,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    if !authorized(&f, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if path.starts_with("deviceManagement/termsAndConditions")
        && f.refuse_terms.load(Ordering::SeqCst)
    {
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    }
    let relative = path
        .trim_start_matches("deviceManagement/")
        .trim_start_matches("deviceAppManagement/");
    let file = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../ingest/tests/fixtures/tenant/2026-11-01")
        .join(format!("{relative}.json"));
    match std::fs::read_to_string(file) {
        Ok(text) => json_response(serde_json::from_str(&text).unwrap()),
        // what the recording lacks, Graph has empty: no statuses, an overview of zeros
        Err(_) if relative.ends_with("Overview") => json_response(
            json!({"id": "overview", "pendingCount": 0, "successCount": 0, "failedCount": 0, "errorCount": 0, "conflictCount": 0, "notApplicableCount": 0}),
        ),
        Err(_) if relative.matches('/').count() == 2 => json_response(json!({"value": []})),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn start_fake() -> Fake {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let fake = Fake {
        base: format!("http://{}", listener.local_addr().unwrap()),
        devices: Arc::new(records("managedDevices.json")),
        users: Arc::new(records("users.json")),
        throttled: Arc::new(AtomicUsize::new(0)),
        fail_page_two: Arc::new(AtomicBool::new(false)),
        refuse_terms: Arc::new(AtomicBool::new(false)),
        sign_ins: Arc::new(AtomicUsize::new(0)),
        valid_token: Arc::new(std::sync::Mutex::new(String::new())),
        accepted: Arc::new(AtomicUsize::new(0)),
        expire_after: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/deviceManagement/managedDevices", get(devices))
        .route("/v1.0/users", get(users))
        .route("/v1.0/deviceManagement/deviceCategories", get(categories))
        .route("/v1.0/{*path}", get(recorded))
        .with_state(fake.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app)
                .await
                .unwrap()
        });
    });
    fake
}

#[test]
fn live_graph_ingestion_pages_retries_records_and_fails_safely() {
    let fake = start_fake();
    let dir = testkit::TempDir::new("graph-test");
    std::fs::write(
        dir.join("dw.toml"),
        format!(
            "tenant = \"acme\"\n[graph]\ntenant_id = \"contoso\"\nclient_id = \"app\"\nclient_secret = \"s3cret\"\nauthority = \"{0}\"\nbase_url = \"{0}/v1.0\"\nrecord_dir = \"recorded\"\n",
            fake.base
        ),
    )
    .unwrap();
    let ingest = |date: &str| {
        Command::new(env!("CARGO_BIN_EXE_dw"))
            .args([
                "ingest", "--from", "graph", "--date", date, "--config", "dw.toml",
            ])
            .current_dir(&dir)
            .output()
            .unwrap()
    };

    let out = ingest("2026-11-01");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fake.throttled.load(Ordering::SeqCst),
        2,
        "page 2 was throttled once, then served"
    );
    let recorded =
        std::fs::read_to_string(dir.join("recorded/2026-11-01/managedDevices.json")).unwrap();
    assert_eq!(
        recorded.lines().count(),
        2,
        "both pages are recorded for replay"
    );
    for per_entity in [
        "deviceCompliancePolicies/c0a10000-0000-4000-8000-00000000c001/deviceStatuses.json",
        "deviceConfigurations/c0f10000-0000-4000-8000-00000000f002/userStatusOverview.json",
        "termsAndConditions/7e000000-0000-4000-8000-0000000000e1/acceptanceStatuses.json",
    ] {
        assert!(
            dir.join("recorded/2026-11-01").join(per_entity).exists(),
            "{per_entity} is recorded"
        );
    }
    assert!(
        !dir.join("recorded/2026-11-01/mobileApps").exists(),
        "app install statuses are only on Graph's beta endpoint"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "written        4  policies",
        "written        2  mamCheckins",
        "read           2  deviceCompliancePolicies/*/deviceStatuses.json (2 files)",
        "skipped        2  check-ins by users not in users",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
    let store = SqliteStore::open(&dir.join("dw-data/warehouse.db")).unwrap();
    let t = store.tenant("acme").unwrap().unwrap();
    assert_eq!(t.snapshot_date_key, Some(20261101));

    // a permission not granted names it, and publishes nothing
    fake.refuse_terms.store(true, Ordering::SeqCst);
    let out = ingest("2026-11-02");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("answered 403") && err.contains("DeviceManagementServiceConfig.Read.All"),
        "{err}"
    );
    assert_eq!(store.tenant("acme").unwrap().unwrap(), t);
    fake.refuse_terms.store(false, Ordering::SeqCst);

    // a failure in the middle of paging publishes nothing and leaves no recorded day
    fake.fail_page_two.store(true, Ordering::SeqCst);
    let out = ingest("2026-11-02");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was published") && err.contains("answered 500"),
        "{err}"
    );
    let t2 = store.tenant("acme").unwrap().unwrap();
    assert_eq!(
        (t2.generation, t2.snapshot_date_key),
        (t.generation, Some(20261101))
    );
    assert!(!dir.join("recorded/2026-11-02").exists());

    // the recorded run replays without Graph
    let out = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args([
            "ingest",
            "--from",
            "recorded/2026-11-01",
            "--date",
            "2026-11-01",
            "--config",
            "dw.toml",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // a wrong secret is reported
    let toml = std::fs::read_to_string(dir.join("dw.toml"))
        .unwrap()
        .replace("s3cret", "wrong");
    std::fs::write(dir.join("dw.toml"), toml).unwrap();
    let out = ingest("2026-11-03");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sign-in to Graph failed (401): bad secret")
    );
}

#[test]
fn live_graph_signs_in_with_a_certificate() {
    let fake = start_fake();
    let dir = testkit::TempDir::new("graph-cert-test");
    let fixtures =
        std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("tests/fixtures");
    let config = |certificate: &std::path::Path| {
        std::fs::write(
            dir.join("dw.toml"),
            format!(
                "tenant = \"acme\"\n[graph]\ntenant_id = \"contoso\"\nclient_id = \"app\"\nclient_certificate = \"{}\"\nauthority = \"{1}\"\nbase_url = \"{1}/v1.0\"\nrecord_dir = \"recorded\"\n",
                certificate.display(),
                fake.base
            ),
        )
        .unwrap();
    };
    let ingest = || {
        Command::new(env!("CARGO_BIN_EXE_dw"))
            .args([
                "ingest",
                "--from",
                "graph",
                "--date",
                "2026-11-01",
                "--config",
                "dw.toml",
            ])
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    config(&fixtures.join("graph-app.pem"));
    let out = ingest();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // a certificate the app registration does not have is refused by the sign-in
    config(&fixtures.join("other-app.pem"));
    let out = ingest();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sign-in to Graph failed (401)"), "{err}");

    // a file without a certificate is reported before anything is sent
    config(&fixtures.join("graph-app.pub.pem"));
    let out = ingest();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no certificate"), "{err}");
}
