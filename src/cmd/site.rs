//! `lcc fetch` and `lcc serve-static`: what a static pod runs.

use crate::cli::{FetchArgs, ServeArgs};
use std::process::ExitCode;

/// `lcc fetch URL --into DIR`.
pub fn fetch(_args: &FetchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("fetch: not built yet")
}

/// `lcc serve-static DIR --listen ADDR`.
pub fn serve(_args: &ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("serve-static: not built yet")
}
