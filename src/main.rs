//! `lcc`: the Local Cluster command line. Parses arguments and hands each command
//! to the crate that does the work; maps errors to exit codes (1 failure, 2 usage).

#![forbid(unsafe_code)]

mod cli;
mod cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("lcc: {err:#}");
            ExitCode::from(1)
        }
    }
}
