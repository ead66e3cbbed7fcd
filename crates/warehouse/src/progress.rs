//! How a long run (an ingestion, a generated tenant) tells its caller how it goes: the command
//! line draws bars on a terminal, a scheduled run logs instead. The libraries report through this
//! trait and never draw anything themselves.

/// Told how a run goes. Every method has an empty default, so a caller implements what it shows.
pub trait Progress: Sync {
    /// Downloading the Graph source `source` starts.
    fn download_started(&self, _source: &str) {}
    /// One more page of `source` is downloaded.
    fn download_page(&self, _source: &str) {}
    /// `source` is downloaded: `entities` entities (not counting what each entity has).
    fn download_finished(&self, _source: &str, _entities: u64) {}
    /// Reading `file` (`bytes` long) starts.
    fn source_started(&self, _file: &str, _bytes: u64) {}
    /// `bytes` of `file` parsed so far, `records` found.
    fn source_progress(&self, _file: &str, _bytes: u64, _records: u64) {}
    /// `file` is read: `records` records.
    fn source_finished(&self, _file: &str, _records: u64) {}
    /// A later stage of the run starts.
    fn stage(&self, _what: &str) {}
    /// The current stage has done `done` of its `total` steps (days of a generated tenant).
    fn steps(&self, _done: u64, _total: u64) {}
}

/// Progress nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {}
