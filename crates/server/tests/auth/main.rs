//! Authentication and tenant isolation over HTTP: the built-in token service, an external OIDC
//! issuer served by the test (discovery and JWKS, with key rotation), every rejection, and two
//! tenants in one store.

mod entra;
mod external_issuers;
mod isolation;
mod token_service;

#[path = "../support/mod.rs"]
mod support;

use auth::{AuthSettings, IssuerSettings, Registry};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use demo::{generate, GenerateOptions};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

/// The fixtures folder (read at run time, so a test binary built elsewhere finds this one's).
fn fixtures_dir() -> String {
    format!(
        "{}/tests/fixtures",
        std::env::var("CARGO_MANIFEST_DIR").unwrap()
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", fixtures_dir())).unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Public JWK of a fixture key.
fn jwk(file: &str, kid: &str, alg: &str) -> Value {
    let pem = fixture(file);
    match alg {
        "RS256" | "PS256" => {
            use rsa::pkcs8::DecodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let k = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
            json!({"kty": "RSA", "kid": kid, "alg": alg, "use": "sig",
                   "n": URL_SAFE_NO_PAD.encode(k.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(k.e().to_bytes_be())})
        }
        "ES256" => {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            use p256::pkcs8::DecodePrivateKey;
            let k = p256::SecretKey::from_pkcs8_pem(&pem).unwrap();
            let p = k.public_key().to_encoded_point(false);
            json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": alg,
                   "x": URL_SAFE_NO_PAD.encode(p.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(p.y().unwrap())})
        }
        _ => {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            let k = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap();
            json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "x": URL_SAFE_NO_PAD.encode(k.verifying_key().to_bytes())})
        }
    }
}

/// An external OIDC issuer on loopback: discovery document and a JWKS the test can change.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Value>>,
    /// Fetches of `/keys-counted`.
    fetches: Arc<Mutex<usize>>,
}

fn json_body(v: Value) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
}

/// How long `/keys-slow` takes to answer.
const SLOW_ISSUER: std::time::Duration = std::time::Duration::from_secs(3);

fn start_issuer() -> Issuer {
    use axum::routing::get;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let jwks = Arc::new(Mutex::new(json!({ "keys": [
        jwk("rsa-a.pem", "rsa-a", "RS256"), jwk("rsa-a.pem", "rsa-a-ps", "PS256"),
        jwk("ec.pem", "ec", "ES256"), jwk("ed25519.pem", "ed", "EdDSA")
    ]})));
    let fetches = Arc::new(Mutex::new(0));
    let discovery = json!({ "issuer": url, "jwks_uri": format!("{url}/keys") });
    // `/keys-counted` serves the same keys and counts its fetches, for the one server that uses
    // it; `/keys-slow` serves them after SLOW_ISSUER
    let (j, f) = (jwks.clone(), fetches.clone());
    let j_all = jwks.clone();
    let j_slow = jwks.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { json_body(discovery.clone()) }),
        )
        .route(
            "/keys",
            get(move || {
                let j = j_all.clone();
                async move { json_body(j.lock().unwrap().clone()) }
            }),
        )
        .route(
            "/keys-slow",
            get(move || {
                let j = j_slow.clone();
                async move {
                    tokio::time::sleep(SLOW_ISSUER).await;
                    json_body(j.lock().unwrap().clone())
                }
            }),
        )
        .route(
            "/keys-counted",
            get(move || {
                let (j, f) = (j.clone(), f.clone());
                async move {
                    *f.lock().unwrap() += 1;
                    json_body(j.lock().unwrap().clone())
                }
            }),
        );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app)
                .await
                .unwrap();
        });
    });
    Issuer { url, jwks, fetches }
}

struct Env {
    server: support::TestServer,
    issuer: Issuer,
    token_a: String,
    token_b: String,
}

fn tenant(name: &str, devices: u32, seed: u64) -> GenerateOptions {
    GenerateOptions {
        tenant: name.into(),
        devices,
        users: devices + 10,
        days: 5,
        seed,
        end_date: time::macros::date!(2026 - 11 - 01),
    }
}

fn store_with_two_tenants(tag: &str) -> Arc<dyn warehouse::Store> {
    let store = testkit::fresh_store(&format!("auth_{tag}"));
    let hidden = warehouse::progress::NoProgress;
    generate(store.as_ref(), &tenant("tenant-a", 40, 11), &hidden).unwrap();
    generate(store.as_ref(), &tenant("tenant-b", 25, 12), &hidden).unwrap();
    store
}

fn registry() -> Registry {
    let mut basic = support::client("basic-client", "basic-secret", "tenant-a");
    basic.allow_basic = true;
    let mut spa = support::client("web-app", "web-secret", "tenant-a");
    spa.secret_hash = None;
    spa.redirect_uris = vec!["http://127.0.0.1/callback".into()];
    let mut r = Registry {
        clients: vec![
            support::client("client-a", "secret-a", "tenant-a"),
            support::client("client-b", "secret-b", "tenant-b"),
            basic,
            spa,
        ],
        users: Vec::new(),
    };
    r.set_user("alice", "correct horse battery", "tenant-b");
    r
}

fn settings(issuer: &Issuer, min_refresh: u64) -> AuthSettings {
    AuthSettings {
        issuers: vec![IssuerSettings {
            issuer: issuer.url.clone(),
            discovery_url: None,
            jwks_uri: None,
            tenant_claim: "tid".into(),
            tenants: [
                ("dir-a".to_string(), "tenant-a".to_string()),
                ("dir-b".to_string(), "tenant-b".to_string()),
            ]
            .into(),
        }],
        jwks_min_refresh_secs: min_refresh,
        ..AuthSettings::default()
    }
}

fn env() -> &'static Env {
    static E: OnceLock<Env> = OnceLock::new();
    E.get_or_init(|| {
        let issuer = start_issuer();
        let server = support::start(
            store_with_two_tenants("main"),
            10,
            settings(&issuer, 0),
            registry(),
        );
        let token_a = support::client_token(&server.base, "client-a", "secret-a");
        let token_b = support::client_token(&server.base, "client-b", "secret-b");
        Env {
            server,
            issuer,
            token_a,
            token_b,
        }
    })
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

fn send(method: &str, url: &str, headers: &[(&str, &str)], form: Option<&[(&str, &str)]>) -> Resp {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = form.map(|f| {
        let mut s = form_urlencoded_like(f);
        req = std::mem::take(&mut req).header("Content-Type", "application/x-www-form-urlencoded");
        std::mem::take(&mut s)
    });
    let mut resp = agent()
        .run(req.body(body.unwrap_or_default()).unwrap())
        .unwrap();
    Resp {
        status: resp.status().as_u16(),
        headers: resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn form_urlencoded_like(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn get(path: &str, token: &str) -> Resp {
    send(
        "GET",
        &format!("{}{path}", env().server.root),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    )
}

fn claims(tid: &str) -> Value {
    let t = now();
    json!({ "iss": env().issuer.url, "aud": format!("{}/", env().server.base), "sub": "user-1", "tid": tid,
            "scp": "get_data_warehouse", "iat": t, "nbf": t, "exp": t + 600, "azp": "powerbi" })
}

fn sign(alg: Algorithm, kid: &str, file: &str, claims: &Value) -> String {
    let pem = fixture(file);
    let key = match alg {
        Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    };
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    encode(&h, claims, &key).unwrap()
}

const DEVICES: &str = "/devices?api-version=v1.0&$select=deviceId";

fn assert_rejected(token: &str, status: u16, needle: &str) {
    let r = get(DEVICES, token);
    assert_eq!(r.status, status, "{needle}: {}", r.body);
    let challenge = r
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{needle}: no challenge"));
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("authorization_uri=\""), "{challenge}");
    let code = if status == 403 {
        "insufficient_scope"
    } else {
        "invalid_token"
    };
    assert!(
        challenge.contains(&format!("error=\"{code}\"")),
        "{needle}: {challenge}"
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains(needle),
        "{needle}: {}",
        r.body
    );
}

fn good_token() -> String {
    sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &claims("dir-a"))
}

/// A token of the trusted issuer with some claims changed.
fn token_with(f: impl Fn(&mut Value)) -> String {
    let mut c = claims("dir-a");
    f(&mut c);
    sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &c)
}

fn all_device_ids(token: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(format!(
        "{}/devices?api-version=v1.0&$select=deviceId{query}",
        env().server.root
    ));
    while let Some(url) = next.take() {
        let r = send(
            "GET",
            &url,
            &[("Authorization", &format!("Bearer {token}"))],
            None,
        );
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let v = r.json();
        ids.extend(
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["deviceId"].as_str().unwrap().to_string()),
        );
        next = v["@odata.nextLink"].as_str().map(str::to_string);
    }
    ids
}

/// The claims of a JWT, unverified (the service verified it; the test reads what it says).
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
