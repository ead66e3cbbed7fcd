//! The answers to the request corpus (`support/corpus.rs`) must stay byte for byte what the
//! previous build gave, so a refactoring shows that behaviour did not change. The digests are in
//! `fixtures/answers.txt`; a commit that changes answers on purpose regenerates it with
//! `DW_BLESS_ANSWERS=1 cargo test -p server --test answers` and says why. PostgreSQL answers the
//! same corpus with the same bytes (`postgres.rs`), so the digests hold for both stores.

mod support;

use sha2::{Digest, Sha256};
use std::fmt::Write as _;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/answers.txt");

/// Each request of the corpus and each next link it gives (up to four pages), with the SHA-256
/// of its status and body.
fn answers() -> Vec<(String, u16, String)> {
    let store = testkit::fresh_sqlite("answers");
    let options = demo::GenerateOptions {
        tenant: "demo".into(),
        devices: 120,
        users: 140,
        days: 10,
        seed: 5,
        end_date: time::macros::date!(2026 - 11 - 01),
    };
    demo::generate(store.as_ref(), &options, &warehouse::progress::NoProgress).unwrap();
    let registry = auth::Registry {
        clients: vec![support::client("c", "s", "demo")],
        users: Vec::new(),
    };
    let server = support::start_with_public_url(
        store,
        50,
        auth::AuthSettings::default(),
        registry,
        Some("http://dw.test"),
    );
    let token = support::client_token(&server.base, "c", "s");
    let agent = support::agent();
    let mut out = Vec::new();
    for request in support::corpus::requests() {
        let mut next = Some(request);
        let mut pages = 0;
        while let Some(path) = next.take() {
            let url = match path.strip_prefix("http://dw.test") {
                Some(rest) => format!("{}{rest}", server.base),
                None => format!("{}{path}", server.root),
            };
            let mut r = agent
                .get(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap();
            let status = r.status().as_u16();
            let body = support::corpus::without_etags(&r.body_mut().read_to_string().unwrap());
            let digest = Sha256::new()
                .chain_update(status.to_string())
                .chain_update(b"\n")
                .chain_update(&body)
                .finalize();
            let hex = digest.iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
            pages += 1;
            if status == 200 && pages < 4 {
                next = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["@odata.nextLink"].as_str().map(str::to_string));
            }
            out.push((path, status, hex));
        }
    }
    out
}

#[test]
fn the_corpus_is_answered_as_the_previous_build_answered_it() {
    let got = answers();
    let text: String = got
        .iter()
        .map(|(path, status, hex)| format!("{status} {hex} {path}\n"))
        .collect();
    if std::env::var_os("DW_BLESS_ANSWERS").is_some() {
        std::fs::write(FIXTURE, &text).unwrap();
        println!("wrote {} digests to {FIXTURE}", got.len());
        return;
    }
    let expected = std::fs::read_to_string(FIXTURE).unwrap();
    let differing: Vec<&str> = text
        .lines()
        .zip(expected.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a)
        .collect();
    assert!(
        differing.is_empty() && text.lines().count() == expected.lines().count(),
        "{} of {} answers differ from fixtures/answers.txt (and {} vs {} lines); the first: {:#?}",
        differing.len(),
        got.len(),
        text.lines().count(),
        expected.lines().count(),
        &differing[..differing.len().min(10)]
    );
    println!("{} answers as before", got.len());
}
