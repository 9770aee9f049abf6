//! `lcc-proxy --config FILE`: serve gateways and entrances from FILE.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Command line of `lcc-proxy`.
#[derive(Debug, Parser)]
#[command(
    name = "lcc-proxy",
    version,
    about = "Local Cluster proxy: gateways and entrances with live reload"
)]
struct Args {
    /// The proxy.conf to serve; reloaded whenever it changes and on SIGHUP.
    #[arg(long)]
    config: PathBuf,
    /// After each config applied, write the SHA-256 of its bytes here (atomically).
    #[arg(long, value_name = "FILE")]
    applied: Option<PathBuf>,
    /// Write the listen addresses served, and those that cannot be bound yet with who
    /// holds them, here (JSON, atomically) at start and whenever that changes.
    #[arg(long, value_name = "FILE")]
    listeners: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match lcc_proxy::standalone::serve_until_signalled(args.config, args.applied, args.listeners) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // the command's own error, not a log line: printed whatever LCC_LOG says
            eprintln!("lcc-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}
