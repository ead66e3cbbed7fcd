//! `dw completions` and `dw man`: shell completion scripts and manual pages generated from the
//! command-line definition itself, so they never drift from it.

use crate::error::{CliError, CliResult};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::io::Write;
use std::path::PathBuf;

/// `dw completions SHELL`.
#[derive(Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    shell: Shell,
}

/// `dw man [--out-dir DIR]`.
#[derive(Args)]
pub(crate) struct ManArgs {
    /// Write `dw.1` and a page per command (`dw-serve.1`, `dw-clients-add.1`, ...) into this
    /// directory instead of printing `dw.1`.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

/// Prints the completion script of `a.shell` for the command line `C`.
pub(crate) fn completions<C: CommandFactory>(a: CompletionsArgs) -> CliResult<()> {
    let mut command = C::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(a.shell, &mut command, "dw", &mut out);
    out.flush().map_err(CliError::io_doing("standard output"))
}

/// Prints the manual page of the command line `C`, or writes every page into a directory.
pub(crate) fn man<C: CommandFactory>(a: ManArgs) -> CliResult<()> {
    let command = C::command();
    match a.out_dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .and_then(|()| out.flush())
                .map_err(CliError::io_doing("standard output"))
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(CliError::io(&dir))?;
            clap_mangen::generate_to(command, &dir).map_err(CliError::io(&dir))
        }
    }
}
