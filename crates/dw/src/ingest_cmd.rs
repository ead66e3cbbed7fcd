//! `dw ingest`: a day's snapshot read, checked and published.

use crate::error::{CliError, CliResult};
use crate::generate::parse_date;
use crate::logging::init_logging;
use crate::progress;
use crate::settings::{self, open_store, CommonArgs, Settings};
use clap::Args;

/// `dw ingest`'s options.
#[derive(Args)]
pub(crate) struct IngestArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Source: a snapshot folder of Graph responses (see the README for its files), `graph` to
    /// download one live from Microsoft Graph, or `csv DIR` with devices.csv and users.csv.
    #[arg(long = "from", num_args = 1..=2, value_names = ["KIND", "DIR"], required = true)]
    from: Vec<String>,
    /// Day of the snapshot (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    date: Option<String>,
    /// Allow a day older than the newest published one: its facts are written, the dimensions'
    /// current state is left as it is.
    #[arg(long)]
    backfill: bool,
    /// Only check the folder (every file, record and field) and report; the store is not opened.
    #[arg(long, conflicts_with = "backfill")]
    check: bool,
    /// Publish the day even if it marks more than [limits] max_deleted_share (50%) of the live
    /// devices or users deleted (without it, such a snapshot is refused as likely partial).
    #[arg(long)]
    allow_mass_deletion: bool,
    /// Take a --date after tomorrow (UTC) or before 2000-01-01 (refused without it as most
    /// likely mistyped: retention would purge the history before it).
    #[arg(long)]
    allow_any_day: bool,
}

/// Runs `dw ingest`.
pub(crate) fn run(a: IngestArgs) -> CliResult<()> {
    let settings = Settings::load(
        a.common.config.as_deref(),
        &settings::Overrides::from_common(&a.common),
    )?;
    let now = time::OffsetDateTime::now_utc();
    let date = match &a.date {
        Some(d) => parse_date(d)?,
        None => now.date(),
    };
    init_logging(&settings.log_format);
    let limits = settings.limits.snapshot(a.allow_mass_deletion);
    if a.check {
        return check_snapshot(&a.from, date, &limits);
    }
    let store = open_store(&settings)?;
    let started = std::time::Instant::now();
    let opts = ingest::IngestOptions {
        tenant: settings.tenant.clone(),
        date,
        backfill: a.backfill,
        any_day: a.allow_any_day,
        now_micros: (now.unix_timestamp_nanos() / 1000) as i64,
        retention: settings.retention()?,
        limits,
    };
    let bars = progress::Bars::for_terminal();
    let graph_folder = |dir: &std::path::Path| {
        ingest::ingest_graph_folder_with_progress(store.as_ref(), dir, &opts, &bars)
    };
    let result = match a.from.as_slice() {
        [dir] if dir != "graph" && dir != "csv" => graph_folder(std::path::Path::new(dir)),
        [kind, dir] if kind == "graph" => graph_folder(std::path::Path::new(dir)),
        [kind, dir] if kind == "csv" => {
            ingest::ingest_csv_folder(store.as_ref(), std::path::Path::new(dir), &opts)
        }
        [kind] if kind == "graph" => {
            let dir = ingest::download::download(&settings.graph, date, &bars)
                .map_err(|e| CliError::Failed(format!("nothing was published: {e}")))?;
            eprintln!("recorded the Graph responses in {}", dir.display());
            graph_folder(&dir)
        }
        _ => {
            return Err(CliError::Usage(
                "--from takes a folder of Graph responses, or `csv DIR`".into(),
            ))
        }
    };
    drop(bars);
    let summary = result?;
    let tenant = summary.tenant.as_ref().expect("published");
    println!(
        "published {date} for tenant '{}' (generation {}) in {:.1}s",
        tenant.name,
        tenant.generation,
        started.elapsed().as_secs_f64()
    );
    // per-entity files are summed by kind (a tenant may have hundreds of apps)
    let mut read: std::collections::BTreeMap<String, (u64, usize)> = Default::default();
    for (file, n) in &summary.records_read {
        let entry = read.entry(progress::source_of(file)).or_default();
        entry.0 += n;
        entry.1 += 1;
    }
    for (source, (n, files)) in &read {
        match files {
            1 => println!("  read    {n:>8}  {source}"),
            _ => println!("  read    {n:>8}  {source} ({files} files)"),
        }
    }
    for (collection, n) in &summary.rows_written {
        println!("  written {n:>8}  {collection}");
    }
    for (value, n) in &summary.unknown_enums {
        println!("  unknown {n:>8}  {value} (mapped to the Unknown member)");
    }
    for (what, n) in &summary.unmatched {
        println!("  skipped {n:>8}  {what}");
    }
    Ok(())
}

/// `dw ingest --check`: reads and checks a snapshot folder without a store.
fn check_snapshot(
    from: &[String],
    date: time::Date,
    limits: &ingest::SnapshotLimits,
) -> CliResult<()> {
    let dir = match from {
        [dir] if dir != "graph" && dir != "csv" => dir,
        [kind, dir] if kind == "graph" || kind == "csv" => dir,
        _ => {
            return Err(CliError::Usage(
                "--check takes a snapshot folder (--from DIR or --from csv DIR)".into(),
            ))
        }
    };
    let bars = progress::Bars::for_terminal();
    let summary = ingest::check_folder(std::path::Path::new(dir), date, limits, &bars);
    drop(bars);
    let summary =
        summary.map_err(|e| CliError::Failed(format!("the snapshot is not valid: {e}")))?;
    let records: u64 = summary.records_read.values().sum();
    println!(
        "{dir}: valid, {records} records in {} files",
        summary.records_read.len()
    );
    for (value, n) in &summary.unknown_enums {
        println!("  unknown {n:>8}  {value} (would map to the Unknown member)");
    }
    Ok(())
}
