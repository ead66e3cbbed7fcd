//! The `dw` binary end to end: demo start-up and reuse, configuration precedence, shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    root: String,
    stderr: std::path::PathBuf,
}

fn start(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let stderr = dir.join(format!("stderr-{}.log", args.len() + env.len()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dw"));
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(args)
        .current_dir(dir);
    for key in [
        "DW_PAGE_SIZE",
        "DW_STORE",
        "DW_TENANT",
        "DW_LISTEN",
        "DW_CONFIG",
    ] {
        cmd.env_remove(key);
    }
    cmd.envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let mut child = cmd.spawn().expect("dw starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut root = String::new();
    for _ in 0..10 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(url) = line.trim().strip_prefix("service document: ") {
            root = url.trim_end_matches("?api-version=v1.0").to_string();
            break;
        }
    }
    assert!(
        !root.is_empty(),
        "no service URL printed; stderr: {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    Server {
        child,
        root,
        stderr,
    }
}

fn stop(mut s: Server) -> String {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(s.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = s.child.wait().unwrap();
    assert!(exit.success(), "dw exits cleanly on SIGTERM: {exit:?}");
    std::fs::read_to_string(&s.stderr).unwrap()
}

fn page_len(root: &str, collection: &str) -> usize {
    let mut resp = ureq::get(&format!("{root}/{collection}?api-version=v1.0"))
        .call()
        .unwrap();
    let v: serde_json::Value = serde_json::from_reader(resp.body_mut().as_reader()).unwrap();
    assert!(v["@odata.nextLink"].is_string());
    v["value"].as_array().unwrap().len()
}

#[test]
fn demo_is_created_once_and_settings_follow_precedence() {
    let dir = std::env::temp_dir().join(format!("dw-cli-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let s = start(&dir, &["--demo"], &[]);
    assert_eq!(
        page_len(&s.root, "devicePropertyHistories"),
        10_000,
        "default page size"
    );
    let log = stop(s);
    assert!(log.contains("creating the demo tenant"), "{log}");
    assert!(dir.join("dw-data/warehouse.db").exists());

    std::fs::write(dir.join("dw.toml"), "page_size = 7\n").unwrap();
    let s = start(&dir, &["--demo", "--config", "dw.toml"], &[]);
    assert_eq!(page_len(&s.root, "devices"), 7, "TOML");
    let log = stop(s);
    assert!(
        !log.contains("creating the demo tenant"),
        "the second start reuses the data: {log}"
    );

    let s = start(&dir, &["--config", "dw.toml"], &[("DW_PAGE_SIZE", "5")]);
    assert_eq!(page_len(&s.root, "devices"), 5, "environment over TOML");
    stop(s);

    let s = start(
        &dir,
        &["--config", "dw.toml", "--page-size", "3"],
        &[("DW_PAGE_SIZE", "5")],
    );
    assert_eq!(page_len(&s.root, "devices"), 3, "flags over environment");
    stop(s);

    let bad = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(["serve", "--config", "missing.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing.toml"));
}
