//! Stateless API nodes: two `dw serve` processes on one PostgreSQL database answer alike, and a
//! paging link minted by one is followed on the other (the paging key is shared through
//! configuration). Needs the test cluster of `./scripts/test` (`DW_TEST_POSTGRES_URL`).

mod support;

use std::path::Path;

/// A `dw serve` node on the shared configuration (`dw.toml`).
fn node(dir: &Path, name: &str) -> support::Server {
    support::start(
        dir,
        &["--listen", "127.0.0.1:0", "--config", "dw.toml"],
        name,
    )
}

fn get(node: &support::Server, token: &str, url: &str) -> serde_json::Value {
    // links name the public URL; send them to this node
    let url = url.replace("http://dw.test", &node.listening);
    let mut r = ureq::get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    serde_json::from_reader(r.body_mut().as_reader()).unwrap()
}

#[test]
fn two_nodes_on_one_database_serve_the_same_results_and_accept_each_others_links() {
    if testkit::postgres_cluster().is_none() {
        eprintln!(
            "DW_TEST_POSTGRES_URL is not set: run ./scripts/test to test API nodes on PostgreSQL"
        );
        return;
    }
    let url = testkit::fresh_postgres_url("nodes");
    let dir = testkit::TempDir::new("nodes-test");
    std::fs::write(
        dir.join("dw.toml"),
        format!("store = \"{url}\"\npublic_url = \"http://dw.test\"\npage_size = 9\ntoken_key = \"{}\"\n", "ab".repeat(32)),
    )
    .unwrap();
    support::dw_ok(
        &dir,
        &[
            "generate",
            "--config",
            "dw.toml",
            "--devices",
            "40",
            "--users",
            "45",
            "--days",
            "3",
        ],
    );
    support::dw_ok(&dir, &["tenants", "add", "other", "--config", "dw.toml"]);
    let tenants = support::dw_ok(&dir, &["tenants", "list", "--config", "dw.toml"]);
    assert!(
        tenants.contains("demo\tsnapshot") && tenants.contains("other\tno data yet"),
        "{tenants}"
    );
    support::dw_ok(
        &dir,
        &["clients", "add", "reporting", "--config", "dw.toml"],
    );
    let token = support::dw_ok(
        &dir,
        &["token", "--client", "reporting", "--config", "dw.toml"],
    )
    .trim()
    .to_string();

    let (a, b) = (node(&dir, "node-a"), node(&dir, "node-b"));
    let first = "http://dw.test/ReportingService/DataWarehouseFEService/devices?api-version=v1.0&$select=deviceId&$orderby=deviceName";
    let collect = |nodes: &[&support::Server]| {
        let mut ids = Vec::new();
        let mut next = Some(first.to_string());
        let mut i = 0;
        while let Some(u) = next.take() {
            let page = get(nodes[i % nodes.len()], &token, &u);
            assert!(page["value"].is_array(), "{page}");
            ids.extend(
                page["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["deviceId"].as_str().unwrap().to_string()),
            );
            next = page["@odata.nextLink"].as_str().map(str::to_string);
            i += 1;
        }
        (ids, i)
    };
    let (only_a, pages) = collect(&[&a]);
    assert_eq!((only_a.len(), pages), (40, 5));
    assert_eq!(collect(&[&b]).0, only_a, "both nodes serve the same rows");
    assert_eq!(
        collect(&[&a, &b]).0,
        only_a,
        "links minted by one node are followed on the other"
    );
}
