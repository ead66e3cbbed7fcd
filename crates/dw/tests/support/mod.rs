//! Running the real `dw` binary in tests: one-shot commands and a server read from its banner.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Runs `dw ARGS` in `dir`: (success, stdout, stderr).
pub fn dw(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(args)
        .current_dir(dir)
        .env_remove("DW_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `dw ARGS` in `dir`, which must succeed, and returns its standard output.
pub fn dw_ok(dir: &Path, args: &[&str]) -> String {
    let (ok, out, err) = dw(dir, args);
    assert!(ok, "dw {args:?}: {err}");
    out
}

/// Runs `dw ARGS` in `dir` with `input` on its standard input: (success, stdout, stderr).
pub fn dw_with_input(dir: &Path, args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(args)
        .current_dir(dir)
        .env_remove("DW_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `dw clients add ID --tenant TENANT` in `dir` and returns the secret it prints once.
pub fn add_client(dir: &Path, id: &str, tenant: &str) -> String {
    let (ok, out, err) = dw(dir, &["clients", "add", id, "--tenant", tenant]);
    assert!(ok, "{out}{err}");
    out.lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap_or_else(|| panic!("no secret in {out}"))
        .trim()
        .to_string()
}

/// A running `dw serve`.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:port` (from the start-up banner).
    pub base: String,
    /// The service root, `{base}/ReportingService/DataWarehouseFEService` (from the banner).
    pub root: String,
    /// `http://ADDRESS` the server listens on (`base` names the public URL when one is set).
    pub listening: String,
    /// Where its standard error (the log) goes.
    pub stderr: PathBuf,
    stdout: BufReader<std::process::ChildStdout>,
}

/// Starts `dw serve ARGS` in `dir`, logging JSON to `dir/NAME.log`.
pub fn start(dir: &Path, args: &[&str], name: &str) -> Server {
    start_with_env(dir, args, name, &[])
}

/// Settings a developer's shell may hold that would change what a test's server does.
const SHELL_SETTINGS: [&str; 6] = [
    "DW_CONFIG",
    "DW_PAGE_SIZE",
    "DW_STORE",
    "DW_TENANT",
    "DW_LISTEN",
    "DW_PUBLIC_URL",
];

/// [`start`] with environment variables (`DW_LIMITS__...`, or `DW_LOG_FORMAT` over the default
/// `json`) for the server.
pub fn start_with_env(dir: &Path, args: &[&str], name: &str, env: &[(&str, &str)]) -> Server {
    let stderr = dir.join(format!("{name}.log"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_dw"));
    for key in SHELL_SETTINGS {
        command.env_remove(key);
    }
    let mut child = command
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .env("DW_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // the banner up to the service document, which every start prints
    let (mut base, mut root, mut listening) = (String::new(), String::new(), String::new());
    for _ in 0..8 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let line = line.trim();
        if let Some(url) = line.strip_prefix("Device Warehouse is serving at ") {
            base = url.trim_end_matches('/').to_string();
        } else if let Some(address) = line.strip_prefix("listening on:") {
            listening = format!("http://{}", address.trim());
        } else if let Some(url) = line.strip_prefix("service document: ") {
            root = url.trim_end_matches("?api-version=v1.0").to_string();
            break;
        }
    }
    assert!(
        !base.is_empty() && !root.is_empty(),
        "no start-up banner; log: {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    Server {
        child,
        base,
        root,
        listening,
        stderr,
        stdout: out,
    }
}

impl Drop for Server {
    /// A test that fails leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// Sends a signal (`TERM`, `HUP`, ...) to the server.
    pub fn signal(&self, sig: &str) {
        assert!(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success());
    }

    /// Stops the server with SIGTERM and returns its log.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        assert!(self.child.wait().unwrap().success());
        std::fs::read_to_string(&self.stderr).unwrap()
    }

    /// A field of the server's `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in {status}"))
    }

    /// The demo client's secret, when the banner shows one (`--demo` on a new store). Reads the
    /// rest of the banner, which ends with the `try:` line when the token service is on.
    pub fn demo_secret(&mut self) -> Option<String> {
        let mut secret = None;
        for _ in 0..8 {
            let mut line = String::new();
            if self.stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("demo client: id demo-client, secret ") {
                secret = rest.split_whitespace().next().map(str::to_string);
            } else if line.starts_with("try:") {
                break;
            }
        }
        secret
    }

    /// The next line of the start-up banner that contains `text`.
    pub fn banner_line(&mut self, text: &str) -> String {
        for _ in 0..16 {
            let mut line = String::new();
            if self.stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if line.contains(text) {
                return line;
            }
        }
        panic!("no banner line with {text}")
    }

    /// `host:port` of the server.
    pub fn address(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }
}

/// A fresh, empty folder for one test, removed when dropped.
pub fn temp_dir(tag: &str) -> testkit::TempDir {
    testkit::TempDir::new(tag)
}

/// `127.0.0.1:PORT` with nothing listening on it (a port the system just handed out and took
/// back): for a listener the test starts, or an address that refuses connections.
pub fn closed_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}
