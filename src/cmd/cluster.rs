//! The cluster commands: `up`, `down`, `ps`, `logs`, `start`/`stop`/`restart`,
//! `scale`, `delete`, `storage`, `events`, `completions`, and the hidden `daemon`.

use crate::cli::Command;
use std::path::Path;
use std::process::ExitCode;

/// Runs a cluster command against the cluster in `dir`.
pub fn run(_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("{command:?}: not built yet")
}

/// `lcc completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "lcc", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
