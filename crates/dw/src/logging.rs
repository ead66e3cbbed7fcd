//! Logs on standard error.

use std::io::IsTerminal;

/// Logs to standard error, filtered by `DW_LOG` (default `info`), as text or JSON lines.
pub(crate) fn init_logging(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("DW_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}
