//! Progress bars on a terminal: for ingestion one per Graph source downloaded (pages) and one per
//! snapshot file read (bytes), for a generated tenant one counting its days; nothing is drawn
//! when stderr is not a terminal.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

/// A bar for a source: a top-level file, or all files of one kind under a collection's entities
/// (`mobileApps/*/deviceStatuses.json`).
struct SourceBar {
    bar: ProgressBar,
    records: u64,
}

/// Files being read: their source's name, length and bytes counted so far.
#[derive(Default)]
struct Reading {
    sources: HashMap<String, SourceBar>,
    files: HashMap<String, (String, u64, u64)>,
}

/// The bars of one ingestion run.
pub struct Bars {
    multi: MultiProgress,
    downloads: Mutex<HashMap<String, ProgressBar>>,
    reading: Mutex<Reading>,
    stage: Mutex<Option<ProgressBar>>,
}

/// The source a snapshot file belongs to: the file, or `COLLECTION/*/NAME.json` for what each
/// entity of a collection has.
pub fn source_of(file: &str) -> String {
    let parts: Vec<&str> = file.split('/').collect();
    match parts.as_slice() {
        [collection, _, child] => format!("{collection}/*/{child}"),
        _ => file.to_string(),
    }
}

impl Bars {
    /// Bars drawn on stderr when it is a terminal.
    pub fn for_terminal() -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::with_target(target)
    }

    /// Bars nobody sees (scheduled runs log instead).
    pub fn hidden() -> Self {
        Self::with_target(ProgressDrawTarget::hidden())
    }

    fn with_target(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            downloads: Mutex::new(HashMap::new()),
            reading: Mutex::new(Reading::default()),
            stage: Mutex::new(None),
        }
    }

    /// Finishes the bars of the previous stage (reading, or a later one).
    fn finish_stage(&self) {
        for (name, s) in self.reading.lock().expect("bars lock").sources.drain() {
            s.bar
                .finish_with_message(format!("{name} ({} records)", s.records));
        }
        if let Some(bar) = self.stage.lock().expect("stage lock").take() {
            bar.finish();
        }
    }
}

impl ingest::Progress for Bars {
    /// A spinner counting the pages of a Graph source as they download.
    fn download_started(&self, source: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} download {msg:32} {pos} pages")
                .expect("valid template"),
        );
        bar.set_message(source.to_string());
        self.downloads
            .lock()
            .expect("bars lock")
            .insert(source.to_string(), bar);
    }

    fn download_page(&self, source: &str) {
        if let Some(bar) = self.downloads.lock().expect("bars lock").get(source) {
            bar.inc(1);
        }
    }

    fn download_finished(&self, source: &str, entities: u64) {
        if let Some(bar) = self.downloads.lock().expect("bars lock").remove(source) {
            bar.finish_with_message(format!("{source} ({entities} entities)"));
        }
    }

    fn source_started(&self, file: &str, bytes: u64) {
        let mut reading = self.reading.lock().expect("bars lock");
        let source = source_of(file);
        match reading.sources.get(&source) {
            Some(s) => s.bar.inc_length(bytes),
            None => {
                let bar = self.multi.add(ProgressBar::new(bytes));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} read     {msg:40} [{bar:30}] {bytes}/{total_bytes}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_message(source.clone());
                reading
                    .sources
                    .insert(source.clone(), SourceBar { bar, records: 0 });
            }
        }
        reading.files.insert(file.to_string(), (source, bytes, 0));
    }

    fn source_progress(&self, file: &str, bytes: u64, _records: u64) {
        let mut reading = self.reading.lock().expect("bars lock");
        let Reading { sources, files } = &mut *reading;
        if let Some((source, _, counted)) = files.get_mut(file) {
            if let Some(s) = sources.get(source.as_str()) {
                s.bar.inc(bytes.saturating_sub(*counted));
            }
            *counted = (*counted).max(bytes);
        }
    }

    fn source_finished(&self, file: &str, records: u64) {
        let mut reading = self.reading.lock().expect("bars lock");
        let Some((source, length, counted)) = reading.files.remove(file) else {
            return;
        };
        if let Some(s) = reading.sources.get_mut(&source) {
            s.bar.inc(length.saturating_sub(counted));
            s.records += records;
        }
    }

    fn stage(&self, what: &str) {
        self.finish_stage();
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        *self.stage.lock().expect("stage lock") = Some(bar);
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.finish_stage();
    }
}

/// The bar of a generated tenant: its stage and the days written.
pub struct GenerationBar(ProgressBar);

impl GenerationBar {
    /// A bar drawn on stderr when it is a terminal.
    pub fn for_terminal() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:20} [{bar:30}] {pos}/{len} steps")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Self(bar)
    }
}

impl ingest::Progress for GenerationBar {
    fn stage(&self, what: &str) {
        self.0.set_message(what.to_string());
    }

    fn steps(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

impl Drop for GenerationBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
