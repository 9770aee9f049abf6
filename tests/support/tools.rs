//! Test tools that come from PyPI: `kubernetes-validate` (it checks every export of
//! `lcc export kubernetes`) and `schemathesis` (it checks the HTTP API against
//! docs/openapi.json). The one on PATH is used when it is the pinned version (`.ci/run`
//! installs kubernetes-validate); otherwise `cargo test` installs that version once,
//! with pip, into the target directory, so that the README's test command needs nothing
//! more than `python3` with pip. A machine where neither works fails the tests that need
//! the tool, with the command to run; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pinned kubernetes-validate: the tests name the Kubernetes versions its schemas
/// hold.
pub const KUBERNETES_VALIDATE: &str = "1.37.0";
/// The pinned schemathesis.
pub const SCHEMATHESIS: &str = "4.32.5";

/// A tool from PyPI: its command on PATH, its package and the pinned version.
struct Tool {
    command: &'static str,
    package: &'static str,
    version: &'static str,
}

/// Where a tool is: `None` on PATH, `Some(dir)` installed in `dir`.
type Provisioned = OnceLock<Result<Option<PathBuf>, String>>;

const KV: Tool = Tool {
    command: "kubernetes-validate",
    package: "kubernetes-validate",
    version: KUBERNETES_VALIDATE,
};
static KV_AT: Provisioned = OnceLock::new();

const ST: Tool = Tool {
    command: "schemathesis",
    package: "schemathesis",
    version: SCHEMATHESIS,
};
static ST_AT: Provisioned = OnceLock::new();

/// Finds `tool` on PATH at its version, else installs it under the target directory.
fn provision(tool: &Tool) -> Result<Option<PathBuf>, String> {
    let on_path = Command::new(tool.command).arg("--version").output();
    if on_path.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .ends_with(tool.version)
    }) {
        return Ok(None);
    }
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{}", tool.package, tool.version));
    if dir.join(".complete").exists() {
        return Ok(Some(dir));
    }
    // Another test process may be installing it: one at a time, by a lock file.
    let lock = std::fs::File::create(sibling(&dir, "lock")).map_err(|e| e.to_string())?;
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e.to_string())?;
    if dir.join(".complete").exists() {
        return Ok(Some(dir));
    }
    let tmp = sibling(&dir, "partial");
    let _ = std::fs::remove_dir_all(&tmp);
    let spec = format!("{}=={}", tool.package, tool.version);
    let pip = |extra: &[&str]| {
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(extra)
            .arg("--target")
            .arg(&tmp)
            .arg(&spec)
            .status()
            .is_ok_and(|s| s.success())
    };
    // --target touches no system file; Debian's Python still asks for the flag.
    if !pip(&[]) && !pip(&["--break-system-packages"]) {
        return Err(format!(
            "{} {} is not on PATH and `python3 -m pip install --target` failed: run `pip install {spec}`",
            tool.command, tool.version
        ));
    }
    std::fs::write(tmp.join(".complete"), b"").map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(|e| e.to_string())?;
    Ok(Some(dir))
}

/// `DIR.suffix` next to `dir` (`with_extension` would cut the version's `.0`).
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.as_os_str().to_os_string();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

fn installed(at: &'static Provisioned, tool: &Tool) -> &'static Option<PathBuf> {
    match at.get_or_init(|| provision(tool)) {
        Ok(dir) => dir,
        Err(why) => panic!("{why}"),
    }
}

/// `kubernetes-validate`, ready for its arguments.
pub fn kubernetes_validate() -> Command {
    match installed(&KV_AT, &KV) {
        None => Command::new("kubernetes-validate"),
        Some(dir) => {
            let mut cmd = python3_with(dir);
            cmd.args(["-m", "kubernetes_validate"]);
            cmd
        }
    }
}

/// `python3` that can import what kubernetes-validate brings (PyYAML).
pub fn python3() -> Command {
    match installed(&KV_AT, &KV) {
        None => Command::new("python3"),
        Some(dir) => python3_with(dir),
    }
}

/// `schemathesis`, ready for its arguments (`run ...`).
pub fn schemathesis() -> Command {
    match installed(&ST_AT, &ST) {
        None => Command::new("schemathesis"),
        Some(dir) => {
            let mut cmd = python3_with(dir);
            cmd.args([
                "-c",
                "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; schemathesis()",
            ]);
            cmd
        }
    }
}

fn python3_with(dir: &Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", dir);
    cmd
}
