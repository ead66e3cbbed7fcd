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
    /// Where its standard error (the log) goes.
    pub stderr: PathBuf,
    stdout: BufReader<std::process::ChildStdout>,
}

/// Starts `dw serve ARGS` in `dir`, logging JSON to `dir/NAME.log`.
pub fn start(dir: &Path, args: &[&str], name: &str) -> Server {
    start_with_env(dir, args, name, &[])
}

/// [`start`] with environment variables (`DW_LIMITS__...`) for the server.
pub fn start_with_env(dir: &Path, args: &[&str], name: &str, env: &[(&str, &str)]) -> Server {
    let stderr = dir.join(format!("{name}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_dw"))
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("DW_LOG_FORMAT", "json")
        .env_remove("DW_CONFIG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut base = String::new();
    for _ in 0..8 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(url) = line.trim().strip_prefix("Device Warehouse is serving at ") {
            base = url.trim_end_matches('/').to_string();
            break;
        }
    }
    assert!(
        !base.is_empty(),
        "{}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    Server {
        child,
        base,
        stderr,
        stdout: out,
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

/// A fresh, empty folder for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dw_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
