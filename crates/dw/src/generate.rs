//! `dw generate`: a synthetic tenant written into the store.

use crate::error::{CliError, CliResult};
use crate::progress;
use crate::settings::{self, open_store, CommonArgs, Settings};
use clap::Args;
use demo::{generate, GenerateOptions};
use warehouse::Store;

/// `dw generate`'s options.
#[derive(Args)]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Number of devices.
    #[arg(long, default_value_t = 2000)]
    devices: u32,
    /// Number of users.
    #[arg(long, default_value_t = 2500)]
    users: u32,
    /// Days of history, ending today (UTC) or at --end-date.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Random seed; the same seed gives the same tenant.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Last day of history (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    end_date: Option<String>,
}

/// Generates a tenant and reports what was written.
pub(crate) fn generate_into(store: &dyn Store, opts: &GenerateOptions) -> CliResult<u64> {
    let started = std::time::Instant::now();
    let (tenant, summary) = generate(store, opts, &progress::GenerationBar::for_terminal())
        .map_err(CliError::store("generating the tenant"))?;
    let rows: u64 = summary.values().sum();
    eprintln!(
        "generated tenant '{}' ({} devices, {} users, {} days): {rows} rows in {:.1}s",
        tenant.name,
        opts.devices,
        opts.users,
        opts.days,
        started.elapsed().as_secs_f64()
    );
    Ok(rows)
}

/// A `YYYY-MM-DD` date from the command line.
pub(crate) fn parse_date(s: &str) -> CliResult<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| CliError::Usage(format!("'{s}' is not a date (YYYY-MM-DD)")))
}

/// Runs `dw generate`.
pub(crate) fn run(a: GenerateArgs) -> CliResult<()> {
    let settings = Settings::load(
        a.common.config.as_deref(),
        &settings::Overrides::from_common(&a.common),
    )?;
    let store = open_store(&settings)?;
    let end_date = match &a.end_date {
        Some(d) => parse_date(d)?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    generate_into(
        store.as_ref(),
        &GenerateOptions {
            tenant: settings.tenant.clone(),
            devices: a.devices,
            users: a.users,
            days: a.days,
            seed: a.seed,
            end_date,
        },
    )?;
    Ok(())
}
