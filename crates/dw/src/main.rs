//! `dw`: the Device Warehouse command line: serve the warehouse, generate demo tenants, measure.

mod admin;
mod auth_setup;
mod bench;
mod docs;
mod doctor;
mod error;
mod export;
mod generate;
mod ingest_cmd;
mod loadgen;
mod logging;
mod memory;
mod metrics_endpoint;
mod progress;
mod publication_metrics;
mod schedule;
mod serve;
mod settings;
mod signals;
mod tls;

use crate::error::CliResult;
use clap::{Parser, Subcommand};

/// Device Warehouse: an Intune-compatible device-management data warehouse over OData v4.
#[derive(Parser)]
#[command(name = "dw", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the warehouse over HTTP.
    Serve(serve::ServeArgs),
    /// Write a synthetic tenant into the store (replaces that tenant's data atomically).
    Generate(generate::GenerateArgs),
    /// Ingest one day's snapshot (a folder of Microsoft Graph responses) and publish it atomically.
    Ingest(ingest_cmd::IngestArgs),
    /// Measure export throughput, paging latency and small-query latency.
    Bench(bench::BenchArgs),
    /// Manage tenants (each holds its own data; tokens name the tenant they read).
    #[command(subcommand)]
    Tenants(admin::TenantsCommand),
    /// Manage OAuth clients of the built-in token service.
    #[command(subcommand)]
    Clients(admin::ClientsCommand),
    /// Manage users of the built-in sign-in page.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// Manage the built-in token service's signing keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Print an access token for a client (for scripts and curl).
    Token(admin::TokenArgs),
    /// Write a collection to a file (CSV, NDJSON or JSON), straight from the store.
    Export(export::ExportArgs),
    /// Check the configuration, store, permissions, issuers, TLS certificate and schedule.
    Doctor(doctor::DoctorArgs),
    /// Print the completion script of a shell (`dw completions bash > /etc/bash_completion.d/dw`).
    Completions(docs::CompletionsArgs),
    /// Print the manual page (`dw man | man -l -`), or write one per command into a directory.
    Man(docs::ManArgs),
}

/// Lets a command whose output goes to a closed pipe (`dw ingest ... | head -1`) end quietly, as
/// command-line tools do, instead of failing to print. The server keeps ignoring SIGPIPE: a client
/// hanging up must not stop it.
#[cfg(unix)]
fn end_quietly_on_closed_pipe() {
    // SAFETY: called once at start, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Parses the command line and runs the command; a failure is reported on standard error and
/// in the exit status ([`CliError::exit_code`]).
fn main() {
    // Ingesting a 100 000-device day allocates and frees millions of small values; with fast
    // bins, sweeping them took about a tenth of the run.
    host::allocator::without_fast_bins();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("dw: {e}");
        std::process::exit(e.exit_code());
    }
}

/// Runs the command `cli` names.
fn run(cli: Cli) -> CliResult<()> {
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_closed_pipe();
    }
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Ingest(a) => ingest_cmd::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Tenants(c) => admin::tenants(c),
        Command::Clients(c) => admin::clients(c),
        Command::Users(c) => admin::users(c),
        Command::Keys(c) => admin::keys(c),
        Command::Token(a) => admin::token(a),
        Command::Export(a) => export::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Completions(a) => docs::completions::<Cli>(a),
        Command::Man(a) => docs::man::<Cli>(a),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
