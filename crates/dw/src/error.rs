//! The command line's one error type: what went wrong, in words a person acts on, with the
//! error that caused it kept as its source, and the exit status that tells scripts which kind it
//! was (2 for a command line or configuration to correct, as clap's own errors, 1 otherwise).

use std::path::Path;

/// Why a `dw` command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The command line or the configuration (file, environment) asks for what cannot be.
    #[error("{0}")]
    Usage(String),
    /// The store failed or refused, while doing what `doing` says (if it needs saying).
    #[error("{}{source}", doing.as_deref().map(|d| format!("{d}: ")).unwrap_or_default())]
    Store {
        /// What was being done (`cannot open /var/lib/dw/dw.db`).
        doing: Option<String>,
        /// The store's own error.
        #[source]
        source: warehouse::StoreError,
    },
    /// A file, folder or socket could not be used.
    #[error("{what}: {source}")]
    Io {
        /// Which one, and what was being done with it.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Ingestion failed; it published nothing.
    #[error("nothing was published: {0}")]
    Ingest(#[from] ingest::IngestError),
    /// The signing keys, the registry of clients and users, or the token service refused.
    #[error("{0}")]
    Auth(#[from] auth::AuthError),
    /// A check, a measurement or a request made by the command failed, as the text says.
    #[error("{0}")]
    Failed(String),
}

/// A command's result.
pub(crate) type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// The process's exit status for this error.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// A store error met while doing `doing` (for `map_err`).
    pub(crate) fn store(
        doing: impl Into<String>,
    ) -> impl FnOnce(warehouse::StoreError) -> CliError {
        let doing = Some(doing.into());
        move |source| CliError::Store { doing, source }
    }

    /// An I/O error met on `path` (for `map_err`).
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CliError {
        let what = path.display().to_string();
        move |source| CliError::Io { what, source }
    }

    /// An I/O error met while doing `what` (for `map_err`).
    pub(crate) fn io_doing(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }
}

impl From<warehouse::StoreError> for CliError {
    /// A store error that says enough by itself.
    fn from(source: warehouse::StoreError) -> Self {
        CliError::Store {
            doing: None,
            source,
        }
    }
}

impl From<warehouse::sql::StatementTooLarge> for CliError {
    /// A request too large to plan is the command line's to shorten.
    fn from(e: warehouse::sql::StatementTooLarge) -> Self {
        CliError::Usage(e.to_string())
    }
}
