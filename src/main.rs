//! `lcc`: the Local Cluster command line. Parses arguments and hands each command
//! to the crate that does the work; maps errors to exit codes (1 failure, 2 usage).

#![forbid(unsafe_code)]

mod cli;
mod cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    lcc_core::log::init();
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("lcc: {}", render(&err));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, each cause once: library errors often name
/// their source in their own message already.
fn render(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1).map(|c| c.to_string()) {
        if !line.contains(&cause) {
            line = format!("{line}: {cause}");
        }
    }
    line
}
