//! `lcc-proxy --config FILE`: serve gateways and entrances from FILE.

use anyhow::Context as _;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};

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
}

fn main() -> ExitCode {
    let args = Args::parse();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lcc-proxy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Args) -> anyhow::Result<()> {
    // one thread by default: no cross-thread wake-ups, the least CPU per request;
    // LCC_PROXY_THREADS=N (N > 1) spreads the work over N threads
    let threads = std::env::var("LCC_PROXY_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1);
    let mut builder = if threads > 1 {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        lcc_proxy::run(lcc_proxy::Options::new(args.config), stop).await?;
        Ok(())
    })
}
