//! `lcc probe` and `lcc port`: the network chores a pod script delegates to `lcc`.

use crate::cli::PortArgs;
use std::process::ExitCode;

/// `lcc probe URL`.
pub fn probe(_url: &str, _timeout: &str, _expect: &str) -> anyhow::Result<ExitCode> {
    anyhow::bail!("probe: not built yet")
}

/// `lcc port`.
pub fn port(_args: &PortArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("port: not built yet")
}
