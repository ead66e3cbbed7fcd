//! How long each stage of a run took, logged at debug level (`DW_LOG=ingest=debug`).

/// Logs how long each stage of a run took (`DW_LOG=ingest=debug` shows them), so an
/// operator or a profile can tell where an ingestion's time goes.
pub(crate) struct Stopwatch {
    last: std::time::Instant,
}

impl Stopwatch {
    /// Starts timing the first stage.
    pub(crate) fn start() -> Self {
        Self {
            last: std::time::Instant::now(),
        }
    }

    /// The stage `what` is done: logs its duration and starts the next one.
    pub(crate) fn lap(&mut self, what: &str) {
        let now = std::time::Instant::now();
        tracing::debug!(
            stage = what,
            ms = (now - self.last).as_millis() as u64,
            "ingestion stage done"
        );
        self.last = now;
    }
}
