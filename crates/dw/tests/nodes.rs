//! Stateless API nodes: two `dw serve` processes on one PostgreSQL database answer alike, and a
//! paging link minted by one is followed on the other (the paging key is shared through
//! configuration). Needs the test cluster of `./scripts/test` (`DW_TEST_POSTGRES_URL`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Node {
    child: Child,
    base: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn node(dir: &Path) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config", "dw.toml"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut base = String::new();
    for _ in 0..4 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        if let Some(addr) = line.trim().strip_prefix("listening on:") {
            base = format!("http://{}", addr.trim());
            break;
        }
    }
    assert!(!base.is_empty(), "no listening line");
    Node {
        child,
        base,
        _stdout: out,
    }
}

fn dw(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dw {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn get(node: &Node, token: &str, url: &str) -> serde_json::Value {
    // links name the public URL; send them to this node
    let url = url.replace("http://dw.test", &node.base);
    let mut r = ureq::get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    serde_json::from_reader(r.body_mut().as_reader()).unwrap()
}

#[test]
fn two_nodes_on_one_database_serve_the_same_results_and_accept_each_others_links() {
    let Ok(cluster) = std::env::var("DW_TEST_POSTGRES_URL") else {
        eprintln!(
            "DW_TEST_POSTGRES_URL is not set: run ./scripts/test to test API nodes on PostgreSQL"
        );
        return;
    };
    let db = format!("dw_nodes_{}", std::process::id());
    let mut admin = postgres::Client::connect(&cluster, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let url = format!("{}/{db}", &cluster[..cluster.rfind('/').unwrap()]);
    let dir = std::env::temp_dir().join(format!("dw-nodes-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dw.toml"),
        format!("store = \"{url}\"\npublic_url = \"http://dw.test\"\npage_size = 9\ntoken_key = \"{}\"\n", "ab".repeat(32)),
    )
    .unwrap();
    dw(
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
    dw(&dir, &["tenants", "add", "other", "--config", "dw.toml"]);
    let tenants = dw(&dir, &["tenants", "list", "--config", "dw.toml"]);
    assert!(
        tenants.contains("demo\tsnapshot") && tenants.contains("other\tno data yet"),
        "{tenants}"
    );
    dw(
        &dir,
        &["clients", "add", "reporting", "--config", "dw.toml"],
    );
    let token = dw(
        &dir,
        &["token", "--client", "reporting", "--config", "dw.toml"],
    )
    .trim()
    .to_string();

    let (a, b) = (node(&dir), node(&dir));
    let first = "http://dw.test/ReportingService/DataWarehouseFEService/devices?api-version=v1.0&$select=deviceId&$orderby=deviceName";
    let collect = |nodes: &[&Node]| {
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
