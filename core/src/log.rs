//! The processes' log: `tracing` to stderr (the daemon's goes to `.lcc/daemon.log`, the
//! proxy's to `.lcc/proxy.log`), at the levels `LCC_LOG` names: a `tracing` filter such
//! as `debug` or `lcc_supervisor=debug`; `info` when unset, empty or unparsable.

use std::io::IsTerminal;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::EnvFilter;

/// Installs the logger; a no-op when the process already has one.
pub fn init() {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(std::env::var("LCC_LOG").unwrap_or_default());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
