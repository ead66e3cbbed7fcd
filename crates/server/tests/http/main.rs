//! Integration tests over real HTTP against a generated tenant in a temporary SQLite store.

use demo::{generate, GenerateOptions};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;
use warehouse::{ApiVersion, Warehouse};

const DEVICES: u32 = 300;

#[path = "../support/mod.rs"]
mod support;

mod aggregation;
mod clients;
mod compute;
mod delta;
mod errors;
mod etags;
mod expand;
mod facts;
mod filters;
mod incremental;
mod lambdas;
mod navigation;
mod paging;
mod robustness;
mod schemas;
mod search;
mod temporal;

struct Fixture {
    root: String,
    token: String,
}

fn small_tenant(seed: u64) -> GenerateOptions {
    GenerateOptions {
        tenant: "demo".into(),
        devices: 40,
        users: 50,
        days: 5,
        seed,
        end_date: time::macros::date!(2026 - 11 - 01),
    }
}

/// Ingests the Graph snapshot folder `folder` as tenant `demo`'s day `date` into `store`, with
/// `retention` (by collection).
fn ingest_day(
    store: &dyn warehouse::Store,
    folder: &std::path::Path,
    date: time::Date,
    retention: &[(&str, ingest::Retention)],
) {
    let opts = ingest::IngestOptions {
        tenant: "demo".into(),
        date,
        backfill: false,
        any_day: false,
        now_micros: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64,
        retention: retention.iter().map(|(c, r)| (c.to_string(), *r)).collect(),
        limits: Default::default(),
    };
    ingest::ingest_graph_folder(store, folder, &opts).unwrap();
}

/// A server on `store` (pages of 1 000 rows) and the `Authorization` value of a token of the
/// test client.
fn serve_with_bearer(store: std::sync::Arc<dyn warehouse::Store>) -> (support::TestServer, String) {
    let server = support::start(store, 1000, auth::AuthSettings::default(), test_registry());
    let token = support::client_token(&server.base, "test-client", "test-secret");
    (server, format!("Bearer {token}"))
}

fn test_registry() -> auth::Registry {
    auth::Registry {
        clients: vec![support::client("test-client", "test-secret", "demo")],
        users: Vec::new(),
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = testkit::fresh_store("http");
        let opts = GenerateOptions {
            tenant: "demo".into(),
            devices: DEVICES,
            users: 350,
            days: 30,
            seed: 1,
            end_date: time::macros::date!(2026 - 11 - 01),
        };
        generate(store.as_ref(), &opts, &warehouse::progress::NoProgress).expect("generate");
        let server = support::start(store, 1000, auth::AuthSettings::default(), test_registry());
        let token = support::client_token(&server.base, "test-client", "test-secret");
        Fixture {
            root: server.root,
            token,
        }
    })
}

struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", fixture().root)
    };
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    {
        req = req.header("Authorization", format!("Bearer {}", fixture().token));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = support::agent()
        .run(req.body(()).unwrap())
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

fn get(url: &str) -> Resp {
    request("GET", url, &[])
}

/// The JSON answer to a GET of `url`, which must succeed, without its entities' ETags: the
/// tests that compare entities with an independent evaluation compare their properties (the
/// ETags are checked by `etags.rs`).
fn get_ok(url: &str) -> Value {
    let r = get(url);
    assert_eq!(r.status, 200, "{url}: {}", r.text());
    without_etags(r.json())
}

/// `v` without any `@odata.etag` (of the entities, and of those expanded in them).
fn without_etags(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("@odata.etag");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Follows nextLinks and returns all rows and the number of pages.
fn all_rows(url: &str, headers: &[(&str, &str)]) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut pages = 0;
    let mut next = Some(url.to_string());
    while let Some(u) = next.take() {
        let r = request("GET", &u, headers);
        assert_eq!(r.status, 200, "{u}: {}", r.text());
        let v = without_etags(r.json());
        rows.extend(v["value"].as_array().unwrap().iter().cloned());
        pages += 1;
        next = v["@odata.nextLink"].as_str().map(str::to_string);
        assert!(pages < 10_000);
    }
    (rows, pages)
}

fn error_of(r: &Resp) -> Value {
    let v = r.json();
    assert!(
        v["error"]["code"].is_string() && v["error"]["message"].is_string(),
        "{v}"
    );
    v["error"].clone()
}

/// Every device row, fetched without a filter, for independent evaluation.
fn devices() -> Vec<Value> {
    get_ok("/devices?api-version=v1.0")["value"]
        .as_array()
        .unwrap()
        .clone()
}

/// Each device's property history rows, by `deviceKey`, in key order (by `dateKey`).
fn histories_by_device() -> HashMap<u64, Vec<Value>> {
    let mut out: HashMap<u64, Vec<Value>> = HashMap::new();
    for h in all_rows("/devicePropertyHistories?api-version=v1.0", &[]).0 {
        out.entry(h["deviceKey"].as_u64().unwrap())
            .or_default()
            .push(h);
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|h| h["dateKey"].as_i64().unwrap());
    }
    out
}

fn keys_of(rows: &[Value]) -> BTreeSet<u64> {
    rows.iter()
        .map(|r| r["deviceKey"].as_u64().unwrap())
        .collect()
}
