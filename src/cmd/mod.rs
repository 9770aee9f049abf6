//! Dispatch of each subcommand to the module that runs it.

mod across;
mod cert;
mod cluster;
mod dashboard;
mod export;
mod hosts;
mod manifest;
mod net;
mod site;
mod sync;

use crate::cli::{CertCommand, Cli, Command, ExportCommand};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs one parsed command line.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    // Like `git -C`: every path on the command line is relative to DIR.
    if let Some(dir) = &cli.dir {
        std::env::set_current_dir(dir)
            .with_context(|| format!("cannot enter {}", dir.display()))?;
    }
    let cluster_dir = PathBuf::from(".");
    match cli.command {
        Command::Validate { paths } => manifest::validate(&cluster_dir, &paths),
        Command::Compile { files, output } => manifest::compile(&files, &output),
        Command::Receive(args) => sync::receive(args.dir.as_deref().unwrap_or(&cluster_dir), &args),
        Command::SyncState { dir, session } => {
            sync::state(dir.as_deref().unwrap_or(&cluster_dir), session)
        }
        Command::Sync(args) => {
            sync::operator::sync(args.dir.as_deref().unwrap_or(&cluster_dir), &args)
        }
        Command::Plan { dir } => hosts::plan(dir.as_deref().unwrap_or(&cluster_dir)),
        Command::Export(ExportCommand::Kubernetes(args)) => export::kubernetes(&cluster_dir, args),
        Command::Probe {
            url,
            timeout,
            expect,
        } => net::probe(&url, &timeout, &expect),
        Command::Port(args) => net::port(&args),
        Command::Fetch(args) => site::fetch(&args),
        Command::ServeStatic(args) => site::serve(&args),
        Command::Completions { shell } => cluster::completions(shell),
        Command::Ls { output } => cluster::ls(output),
        Command::Cert(CertCommand::Ca { install }) => cert::ca(install),
        Command::Dashboard {
            listen,
            open,
            token_file,
        } => dashboard::run(listen, open, token_file.as_deref()),
        Command::Proxy {
            config,
            applied,
            listeners,
        } => {
            lcc_proxy::standalone::serve_until_signalled(config, applied, listeners)?;
            Ok(ExitCode::SUCCESS)
        }
        other => cluster::run(&cluster_dir, other),
    }
}
