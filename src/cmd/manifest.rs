//! `lcc validate` and `lcc compile`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `lcc validate [PATH...]`.
pub fn validate(_cluster_dir: &Path, _paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    anyhow::bail!("validate: not built yet")
}

/// `lcc compile FILE... -o DIR`.
pub fn compile(_files: &[PathBuf], _output: &Path) -> anyhow::Result<ExitCode> {
    anyhow::bail!("compile: not built yet")
}
