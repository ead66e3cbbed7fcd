//! Authentication and tenant isolation over HTTP: the built-in token service, an external OIDC
//! issuer served by the test (discovery and JWKS, with key rotation), every rejection, and two
//! tenants in one store.

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
    // `/keys-counted` serves the same keys and counts its fetches, for the one server that uses it
    let (j, f) = (jwks.clone(), fetches.clone());
    let j_all = jwks.clone();
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

#[test]
fn external_tokens_with_each_algorithm_are_accepted() {
    let c = claims("dir-a");
    for (alg, kid, file) in [
        (Algorithm::RS256, "rsa-a", "rsa-a.pem"),
        (Algorithm::PS256, "rsa-a-ps", "rsa-a.pem"),
        (Algorithm::ES256, "ec", "ec.pem"),
        (Algorithm::EdDSA, "ed", "ed25519.pem"),
    ] {
        let r = get(DEVICES, &sign(alg, kid, file, &c));
        assert_eq!(r.status, 200, "{alg:?}: {}", r.body);
    }
    // Entra ID v1-style app-only token: roles instead of scp, appid instead of azp
    let mut app = claims("dir-b");
    app.as_object_mut().unwrap().remove("scp");
    app["roles"] = json!(["get_data_warehouse"]);
    assert_eq!(
        get(DEVICES, &sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &app)).status,
        200
    );
}

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

#[test]
fn rejects_alg_none() {
    let c = claims("dir-a");
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(c.to_string())
    );
    assert_rejected(&none, 401, "not a well-formed JWT");
}

#[test]
fn rejects_hs256_signed_with_the_public_key() {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("rsa-a".into());
    let confused = encode(
        &h,
        &claims("dir-a"),
        &EncodingKey::from_secret(fixture("rsa-a.pub.pem").as_bytes()),
    )
    .unwrap();
    assert_rejected(&confused, 401, "HS256");
}

#[test]
fn rejects_an_unknown_kid() {
    assert_rejected(
        &sign(
            Algorithm::RS256,
            "not-published",
            "rsa-b.pem",
            &claims("dir-a"),
        ),
        401,
        "not published",
    );
}

#[test]
fn rejects_a_wrong_signature() {
    assert_rejected(
        &sign(Algorithm::RS256, "rsa-a", "rsa-b.pem", &claims("dir-a")),
        401,
        "signature",
    );
    let good = good_token();
    // flip one character in the middle of the signature (the last one may only carry padding bits)
    let sig_start = good.rfind('.').unwrap() + 1;
    let middle = sig_start + (good.len() - sig_start) / 2;
    let flipped = if &good[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    assert_rejected(
        &format!("{}{flipped}{}", &good[..middle], &good[middle + 1..]),
        401,
        "signature",
    );
    // claims changed after signing
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged = claims("dir-a");
    forged["tid"] = json!("dir-b");
    assert_rejected(
        &format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged.to_string()),
            parts[2]
        ),
        401,
        "signature",
    );
}

#[test]
fn rejects_an_expired_token_beyond_the_clock_skew() {
    assert_rejected(
        &token_with(|c| c["exp"] = json!(now() - 3600)),
        401,
        "expired",
    );
    assert_eq!(
        get(DEVICES, &token_with(|c| c["exp"] = json!(now() - 60))).status,
        200,
        "within 5 minutes of skew"
    );
    assert_rejected(
        &token_with(|c| {
            c.as_object_mut().unwrap().remove("exp");
        }),
        401,
        "exp",
    );
}

#[test]
fn rejects_a_token_not_yet_valid() {
    assert_rejected(
        &token_with(|c| c["nbf"] = json!(now() + 3600)),
        401,
        "not valid yet",
    );
    assert_rejected(
        &token_with(|c| c["iat"] = json!(now() + 3600)),
        401,
        "issued in the future",
    );
}

#[test]
fn rejects_a_wrong_audience() {
    assert_rejected(
        &token_with(|c| c["aud"] = json!("https://graph.microsoft.com")),
        401,
        "not meant for this service",
    );
}

#[test]
fn rejects_a_wrong_issuer() {
    assert_rejected(
        &token_with(|c| c["iss"] = json!("https://evil.example.com")),
        401,
        "issuer is not trusted",
    );
}

#[test]
fn rejects_a_token_without_the_permission() {
    assert_rejected(
        &token_with(|c| c["scp"] = json!("User.Read")),
        403,
        "permission",
    );
}

#[test]
fn rejects_a_directory_that_is_not_allowed() {
    assert_rejected(
        &token_with(|c| c["tid"] = json!("dir-x")),
        403,
        "not allowed",
    );
}

#[test]
fn missing_malformed_and_misplaced_credentials() {
    let root = &env().server.root;
    let base = &env().server.base;
    for path in [
        format!("{root}?api-version=v1.0"),
        format!("{root}/$metadata?api-version=v1.0"),
        format!("{root}/devices?api-version=v1.0"),
    ] {
        for headers in [vec![], vec![("Authorization", "Bearer")]] {
            let r = send("GET", &path, &headers, None);
            assert_eq!(r.status, 401, "{path}");
            let challenge = r.header("www-authenticate").unwrap();
            // Power BI and Excel read the sign-in authority from here; no error code without a token
            assert!(
                challenge.contains(&format!("authorization_uri=\"{base}/oauth2/authorize\"")),
                "{challenge}"
            );
            assert!(
                challenge.contains(&format!("resource_id=\"{base}/\"")),
                "{challenge}"
            );
            assert!(!challenge.contains("error="), "{challenge}");
            assert_eq!(r.json()["error"]["code"], "Unauthorized");
        }
    }
    let token = &env().token_a;
    for bad in [
        "Bearer abc.def",
        "Bearer a b",
        "Bearer ....",
        "Basic !!!",
        "Negotiate xyz",
    ] {
        assert_eq!(
            send(
                "GET",
                &format!("{root}/devices?api-version=v1.0"),
                &[("Authorization", bad)],
                None
            )
            .status,
            401,
            "{bad}"
        );
    }
    let huge = format!("Bearer {}", "a".repeat(20_000));
    assert_eq!(
        send(
            "GET",
            &format!("{root}/devices?api-version=v1.0"),
            &[("Authorization", huge.as_str())],
            None
        )
        .status,
        401
    );
    let r = send(
        "GET",
        &format!("{root}/devices?api-version=v1.0&access_token={token}"),
        &[],
        None,
    );
    assert_eq!(r.status, 401);
    assert!(r.body.contains("query string"));
    assert!(
        !r.body.contains(token.as_str()),
        "the token is never echoed"
    );
    // health and discovery stay public
    assert_eq!(
        send("GET", &format!("{base}/healthz"), &[], None).status,
        200
    );
    assert_eq!(
        send(
            "GET",
            &format!("{base}/.well-known/openid-configuration"),
            &[],
            None
        )
        .status,
        200
    );
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

#[test]
fn tenants_never_see_each_others_rows() {
    let e = env();
    let a: BTreeSet<String> = all_device_ids(&e.token_a, "").into_iter().collect();
    let b: BTreeSet<String> = all_device_ids(&e.token_b, "").into_iter().collect();
    assert_eq!((a.len(), b.len()), (40, 25));
    assert!(a.is_disjoint(&b));
    // external tokens map directory tenants the same way
    let ext_b = sign(Algorithm::ES256, "ec", "ec.pem", &claims("dir-b"));
    assert_eq!(
        all_device_ids(&ext_b, "")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        b
    );
    // filters, orderings, counts and keys stay inside the caller's tenant
    let some_b = b.iter().next().unwrap();
    for q in [
        format!("&$filter=deviceId eq '{some_b}'"),
        "&$orderby=deviceName desc".into(),
        "&$filter=true".into(),
        "&$skip=3&$top=100".into(),
    ] {
        let q = q.replace(' ', "%20");
        assert!(
            all_device_ids(&e.token_a, &q)
                .iter()
                .all(|id| a.contains(id)),
            "{q}"
        );
    }
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &e.token_a).body,
        "40"
    );
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &e.token_b).body,
        "25"
    );
    let one_a = get("/devices(1)?api-version=v1.0", &e.token_a).json();
    assert!(a.contains(one_a["deviceId"].as_str().unwrap()));
    assert_eq!(
        get("/devices(30)?api-version=v1.0", &e.token_b).status,
        404,
        "B has 25 devices; A's device 30 is invisible"
    );
    for c in warehouse::Warehouse::get()
        .collections
        .iter()
        .filter(|c| c.in_version(warehouse::ApiVersion::Beta))
    {
        let count = |t: &str| get(&format!("/{}/$count?api-version=beta", c.name), t).body;
        let (ca, cb) = (count(&e.token_a), count(&e.token_b));
        assert!(
            ca.parse::<u64>().is_ok() && cb.parse::<u64>().is_ok(),
            "{}: {ca} {cb}",
            c.name
        );
    }
    // a skiptoken from B's paging is refused with A's token
    let page_b = get("/devices?api-version=v1.0", &e.token_b).json();
    let next_b = page_b["@odata.nextLink"].as_str().unwrap();
    let r = send(
        "GET",
        next_b,
        &[("Authorization", &format!("Bearer {}", e.token_a))],
        None,
    );
    assert_eq!(r.status, 400);
    // nothing in the request can choose the tenant
    let r = send(
        "GET",
        &format!(
            "{}/devices/$count?api-version=v1.0&tenant=tenant-b&tid=tenant-b",
            e.server.root
        ),
        &[
            ("Authorization", &format!("Bearer {}", e.token_a)),
            ("X-Tenant", "tenant-b"),
        ],
        None,
    );
    assert_eq!(r.body, "40");
}

#[test]
fn key_rotation_at_the_issuer_needs_no_restart_and_refetches_are_rate_limited() {
    let e = env();
    let c = claims("dir-a");
    assert_eq!(
        get(DEVICES, &sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &c)).status,
        200
    );
    e.issuer.jwks.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(jwk("rsa-b.pem", "rsa-b-2026", "RS256"));
    assert_eq!(
        get(
            DEVICES,
            &sign(Algorithm::RS256, "rsa-b-2026", "rsa-b.pem", &c)
        )
        .status,
        200,
        "new key found by refetch"
    );

    // a server that refetches at most once an hour does not hammer the issuer
    let mut slow_settings = settings(&e.issuer, 3600);
    slow_settings.issuers[0].jwks_uri = Some(format!("{}/keys-counted", e.issuer.url));
    let slow = support::start(
        store_with_two_tenants("slow"),
        10,
        slow_settings,
        registry(),
    );
    let mut for_slow = c.clone();
    for_slow["aud"] = json!(format!("{}/", slow.base));
    let token = sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &for_slow);
    let url = format!("{}/devices?api-version=v1.0", slow.root);
    let bearer = |t: &str| format!("Bearer {t}");
    assert_eq!(
        send("GET", &url, &[("Authorization", &bearer(&token))], None).status,
        200
    );
    let before = *e.issuer.fetches.lock().unwrap();
    let unknown = sign(Algorithm::RS256, "never-published", "rsa-b.pem", &for_slow);
    for _ in 0..5 {
        assert_eq!(
            send("GET", &url, &[("Authorization", &bearer(&unknown))], None).status,
            401
        );
    }
    assert_eq!(
        *e.issuer.fetches.lock().unwrap(),
        before,
        "no refetch within the minimum interval"
    );
}

#[test]
fn token_endpoint_follows_rfc_6749() {
    let base = &env().server.base;
    let token_url = format!("{base}/oauth2/token");
    let basic = format!("Basic {}", STANDARD.encode("client-a:secret-a"));
    let r = send(
        "POST",
        &token_url,
        &[("Authorization", &basic)],
        Some(&[("grant_type", "client_credentials")]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.json();
    assert_eq!(
        (t["token_type"].as_str(), t["expires_in"].as_i64()),
        (Some("Bearer"), Some(3600))
    );
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                t["access_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    for claim in ["iss", "aud", "sub", "tid", "roles", "exp", "iat", "jti"] {
        assert!(payload.get(claim).is_some(), "{claim} in {payload}");
    }
    assert_eq!(payload["tid"], "tenant-a");
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Pairs, Pairs, u16, &str)> = vec![
        (
            vec![],
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "client-a"),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![],
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "x"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![],
            vec![
                ("grant_type", "password"),
                ("client_id", "client-a"),
                ("client_secret", "secret-a"),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![],
            vec![("client_id", "client-a"), ("client_secret", "secret-a")],
            400,
            "invalid_request",
        ),
        (
            vec![("Authorization", basic.as_str())],
            vec![
                ("grant_type", "client_credentials"),
                ("client_secret", "secret-a"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![],
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "client-a"),
                ("client_secret", "secret-a"),
                ("scope", "Mail.Read"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![],
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "web-app"),
                ("code", "made-up"),
                ("code_verifier", "x"),
                ("redirect_uri", "http://127.0.0.1/callback"),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (headers, form, status, error) in cases {
        let r = send("POST", &token_url, &headers, Some(&form));
        assert_eq!(
            (r.status, r.json()["error"].as_str().unwrap().to_string()),
            (status, error.to_string()),
            "{form:?}: {}",
            r.body
        );
    }
    // repeated failures from one address are rate-limited
    let mut limited = None;
    for _ in 0..8 {
        let r = send(
            "POST",
            &token_url,
            &[],
            Some(&[
                ("grant_type", "client_credentials"),
                ("client_id", "client-b"),
                ("client_secret", "guess"),
            ]),
        );
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("rate limited after repeated failures");
    assert!(r.header("retry-after").is_some());
    let d = send(
        "GET",
        &format!("{base}/.well-known/openid-configuration"),
        &[],
        None,
    )
    .json();
    assert_eq!(d["issuer"], base.as_str());
    let keys = send("GET", d["jwks_uri"].as_str().unwrap(), &[], None).json();
    assert_eq!(keys["keys"][0]["alg"], "ES256");
    assert!(
        keys["keys"][0].get("d").is_none(),
        "no private parts in the JWKS"
    );
}

#[test]
fn authorization_code_with_pkce_signs_a_user_in() {
    let base = &env().server.base;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";
    let challenge =
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let params = [
        ("response_type", "code"),
        ("client_id", "web-app"),
        ("redirect_uri", "http://127.0.0.1/callback"),
        ("scope", "get_data_warehouse"),
        ("state", "xyz"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = send(
        "GET",
        &format!("{base}/oauth2/authorize?{}", form_urlencoded_like(&params)),
        &[],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<form") && page.body.contains("name=\"password\""));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let bad_redirect = send(
        "GET",
        &format!(
            "{base}/oauth2/authorize?{}",
            form_urlencoded_like(&[
                ("response_type", "code"),
                ("client_id", "web-app"),
                ("redirect_uri", "https://evil.example.com/"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256")
            ])
        ),
        &[],
        None,
    );
    assert_eq!(
        bad_redirect.status, 400,
        "never redirects to an unregistered URI"
    );
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("username", "alice"));
    form.push(("password", "wrong password"));
    assert_eq!(
        send(
            "POST",
            &format!("{base}/oauth2/authorize"),
            &[],
            Some(&form)
        )
        .status,
        401
    );
    form.pop();
    form.push(("password", "correct horse battery"));
    let r = send(
        "POST",
        &format!("{base}/oauth2/authorize"),
        &[],
        Some(&form),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with("http://127.0.0.1/callback?code=") && location.ends_with("&state=xyz"),
        "{location}"
    );
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let exchange = |verifier: &str| {
        send(
            "POST",
            &format!("{base}/oauth2/token"),
            &[],
            Some(&[
                ("grant_type", "authorization_code"),
                ("client_id", "web-app"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1/callback"),
                ("code_verifier", verifier),
            ]),
        )
    };
    let r = exchange(verifier);
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(r.json()["scope"], "get_data_warehouse");
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &token).body,
        "25",
        "alice reads tenant-b"
    );
    assert_eq!(
        exchange(verifier).json()["error"],
        "invalid_grant",
        "a code is single-use"
    );
}

#[test]
fn basic_credentials_only_for_opted_in_clients() {
    let url = format!("{}/devices/$count?api-version=v1.0", env().server.root);
    let basic =
        |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let r = send(
        "GET",
        &url,
        &[("Authorization", &basic("basic-client", "basic-secret"))],
        None,
    );
    assert_eq!((r.status, r.body.as_str()), (200, "40"));
    assert_eq!(
        send(
            "GET",
            &url,
            &[("Authorization", &basic("client-a", "secret-a"))],
            None
        )
        .status,
        401,
        "not opted in"
    );
    assert_eq!(
        send(
            "GET",
            &url,
            &[("Authorization", &basic("basic-client", "wrong"))],
            None
        )
        .status,
        401
    );
}

#[test]
fn entra_style_issuer_templates_accept_v1_and_v2_tokens_of_allowed_directories() {
    let e = env();
    let template = |path: &str| IssuerSettings {
        issuer: format!("{}/{path}", e.issuer.url),
        discovery_url: None,
        jwks_uri: Some(format!("{}/keys", e.issuer.url)),
        tenant_claim: "tid".into(),
        tenants: [("dir-a".to_string(), "tenant-a".to_string())].into(),
    };
    let settings = AuthSettings {
        issuers: vec![template("{tenantid}/v2.0"), template("sts/{tenantid}/")],
        authorization_uri: Some("https://login.microsoftonline.com/common/oauth2/authorize".into()),
        ..AuthSettings::default()
    };
    let server = support::start(store_with_two_tenants("entra"), 10, settings, registry());
    let url = format!("{}/devices/$count?api-version=v1.0", server.root);
    let token = |iss: String, tid: &str| {
        let mut c = claims(tid);
        c["iss"] = json!(iss);
        c["aud"] = json!(format!("{}/", server.base));
        sign(Algorithm::RS256, "rsa-a", "rsa-a.pem", &c)
    };
    let call = |t: &str| {
        send(
            "GET",
            &url,
            &[("Authorization", &format!("Bearer {t}"))],
            None,
        )
    };
    let v2 = call(&token(format!("{}/dir-a/v2.0", e.issuer.url), "dir-a"));
    assert_eq!((v2.status, v2.body.as_str()), (200, "40"));
    assert_eq!(
        call(&token(format!("{}/sts/dir-a/", e.issuer.url), "dir-a")).status,
        200,
        "v1 issuer form"
    );
    assert_eq!(
        call(&token(format!("{}/dir-a/v2.0", e.issuer.url), "dir-b")).status,
        401,
        "iss must name the token's own directory"
    );
    assert_eq!(
        call(&token(format!("{}/dir-b/v2.0", e.issuer.url), "dir-b")).status,
        403,
        "directory not listed"
    );
    let challenge = send("GET", &url, &[], None)
        .header("www-authenticate")
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(
            "authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\""
        ),
        "{challenge}"
    );
}

/// The claims of a JWT, unverified (the service verified it; the test reads what it says).
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[test]
fn entra_layout_publishes_discovery_keys_and_tokens_per_tenant() {
    let base = &env().server.base;
    let discovery = |tenant: &str| {
        send(
            "GET",
            &format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
            &[],
            None,
        )
    };
    let doc = discovery("tenant-a").json();
    assert_eq!(doc["issuer"], format!("{base}/tenant-a/v2.0"));
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/tenant-a/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/tenant-a/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{base}/tenant-a/discovery/v2.0/keys")
    );
    let keys = send("GET", doc["jwks_uri"].as_str().unwrap(), &[], None).json();
    let root_keys = send("GET", &format!("{base}/oauth2/keys"), &[], None).json();
    assert!(!keys["keys"].as_array().unwrap().is_empty());
    assert_eq!(keys, root_keys, "one key set for both layouts");
    assert_eq!(
        discovery("common").json()["issuer"],
        format!("{base}/{{tenantid}}/v2.0"),
        "any-tenant segments announce Entra's template"
    );
    let unknown = discovery("no-such-tenant");
    assert_eq!(
        (unknown.status, unknown.json()["error"].as_str()),
        (400, Some("invalid_tenant"))
    );
    // the root layout is unchanged
    assert_eq!(
        send(
            "GET",
            &format!("{base}/.well-known/openid-configuration"),
            &[],
            None
        )
        .json()["issuer"],
        base.as_str()
    );

    let token_at = |tenant: &str, id: &str, secret: &str, scope: &str| {
        send(
            "POST",
            &format!("{base}/{tenant}/oauth2/v2.0/token"),
            &[],
            Some(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", scope),
                ("client_info", "1"),
            ]),
        )
    };
    let default_scope = format!("{base}/.default");
    let r = token_at("tenant-a", "client-a", "secret-a", &default_scope);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json().get("client_info").is_none(),
        "applications have no account"
    );
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let claims = jwt_claims(&token);
    assert_eq!(claims["iss"], format!("{base}/tenant-a/v2.0"));
    assert_eq!(claims["aud"], format!("{base}/"));
    assert_eq!(
        get("/devices/$count?api-version=v1.0", &token).body,
        "40",
        "the Entra-layout token is accepted and reads its tenant"
    );
    let r = token_at("tenant-a", "client-b", "secret-b", &default_scope);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("unauthorized_client")),
        "a client of another tenant"
    );
    let r = token_at("organizations", "client-b", "secret-b", &default_scope);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_claims(&token)["iss"], format!("{base}/tenant-b/v2.0"));
    assert_eq!(get("/devices/$count?api-version=v1.0", &token).body, "25");
    let r = token_at(
        "tenant-a",
        "client-a",
        "secret-a",
        "https://graph.microsoft.com/.default",
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains(&default_scope),
        "{}",
        r.body
    );
    // the root token endpoint reads the resource the same way
    let r = send(
        "POST",
        &format!("{base}/oauth2/token"),
        &[],
        Some(&[
            ("grant_type", "client_credentials"),
            ("client_id", "client-a"),
            ("client_secret", "secret-a"),
            ("scope", &format!("{base}//.default")),
        ]),
    );
    let claims = jwt_claims(r.json()["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some(base.as_str()), Some(format!("{base}/").as_str()))
    );
}

#[test]
fn entra_layout_signs_users_in_with_an_id_token() {
    let base = &env().server.base;
    let verifier = "entra-layout-verifier-with-enough-entropy-0123456789abcdefghij";
    let challenge =
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let scope = format!("{base}/.default openid profile offline_access");
    let params = [
        ("response_type", "code"),
        ("client_id", "web-app"),
        ("redirect_uri", "http://127.0.0.1/callback"),
        ("scope", scope.as_str()),
        ("state", "s-1"),
        ("nonce", "n-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let authorize = |tenant: &str| format!("{base}/{tenant}/oauth2/v2.0/authorize");
    let page = send(
        "GET",
        &format!(
            "{}?{}",
            authorize("tenant-b"),
            form_urlencoded_like(&params)
        ),
        &[],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"name="nonce" value="n-123""#));
    let mut form = params.to_vec();
    form.push(("username", "alice"));
    form.push(("password", "correct horse battery"));
    let elsewhere = send("POST", &authorize("tenant-a"), &[], Some(&form));
    assert_eq!(elsewhere.status, 401, "alice is not in tenant-a");
    assert!(elsewhere.body.contains("does not belong to this tenant"));
    let r = send("POST", &authorize("tenant-b"), &[], Some(&form));
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_string();
    let query: std::collections::HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(query["state"], "s-1");
    let r = send(
        "POST",
        &format!("{base}/tenant-b/oauth2/v2.0/token"),
        &[],
        Some(&[
            ("grant_type", "authorization_code"),
            ("client_id", "web-app"),
            ("code", &query["code"]),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("code_verifier", verifier),
            ("scope", &scope),
            ("client_info", "1"),
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(
        body["scope"],
        format!("{base}/.default openid profile"),
        "granted as asked; no offline_access (no refresh tokens)"
    );
    assert!(body.get("refresh_token").is_none());
    let id = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], format!("{base}/tenant-b/v2.0"));
    assert_eq!(id["aud"], "web-app");
    assert_eq!(id["nonce"], "n-123");
    assert_eq!(id["preferred_username"], "alice");
    assert_eq!(id["tid"], "tenant-b");
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info, json!({ "uid": "alice", "utid": "tenant-b" }));
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(token)["scp"], "get_data_warehouse");
    assert_eq!(get("/devices/$count?api-version=v1.0", token).body, "25");
}

#[test]
fn unsupported_entra_options_are_named_in_the_error() {
    let base = &env().server.base;
    let r = send(
        "POST",
        &format!("{base}/tenant-a/oauth2/v2.0/token"),
        &[],
        Some(&[
            ("grant_type", "client_credentials"),
            ("client_id", "client-a"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
        ]),
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_client"))
    );
    assert!(r.body.contains("use a client secret"), "{}", r.body);
    let page = send(
        "GET",
        &format!(
            "{base}/tenant-b/oauth2/v2.0/authorize?{}",
            form_urlencoded_like(&[
                ("response_type", "code"),
                ("client_id", "web-app"),
                ("redirect_uri", "http://127.0.0.1/callback"),
                ("response_mode", "form_post"),
                ("code_challenge", &"c".repeat(43)),
                ("code_challenge_method", "S256"),
            ])
        ),
        &[],
        None,
    );
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("response_mode must be query"),
        "{}",
        page.body
    );
}
