//! Test tools that come from PyPI: `kubernetes-validate` (it checks every export of
//! `lcc export kubernetes`). The one on PATH is used when it is the pinned version
//! (`.ci/run` installs it); otherwise `cargo test` installs that version once, with pip,
//! into the target directory, so that the README's test command needs nothing more than
//! `python3` with pip. A machine where neither works fails the export tests, with the
//! command to run; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pinned version: the tests name the Kubernetes versions its schemas hold.
pub const KUBERNETES_VALIDATE: &str = "1.37.0";

/// Where `cargo test` installs it when PATH has no such version.
fn local_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kubernetes-validate-{KUBERNETES_VALIDATE}"))
}

/// `None`: the one on PATH; `Some(dir)`: the package installed in `dir`.
fn provision() -> &'static Result<Option<PathBuf>, String> {
    static TOOL: OnceLock<Result<Option<PathBuf>, String>> = OnceLock::new();
    TOOL.get_or_init(|| {
        let on_path = Command::new("kubernetes-validate").arg("--version").output();
        if on_path.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == KUBERNETES_VALIDATE) {
            return Ok(None);
        }
        let dir = local_dir();
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
        let spec = format!("kubernetes-validate=={KUBERNETES_VALIDATE}");
        let pip = |extra: &[&str]| {
            Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
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
                "kubernetes-validate {KUBERNETES_VALIDATE} is not on PATH and `python3 -m pip install --target` failed: run `pip install {spec}` (or `.ci/run`, which does)"
            ));
        }
        std::fs::write(tmp.join(".complete"), b"").map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|e| e.to_string())?;
        Ok(Some(dir))
    })
}

/// `DIR.suffix` next to `dir` (`with_extension` would cut the version's `.0`).
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.as_os_str().to_os_string();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

fn installed() -> &'static Option<PathBuf> {
    match provision() {
        Ok(dir) => dir,
        Err(why) => panic!("{why}"),
    }
}

/// `kubernetes-validate`, ready for its arguments.
pub fn kubernetes_validate() -> Command {
    match installed() {
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
    match installed() {
        None => Command::new("python3"),
        Some(dir) => python3_with(dir),
    }
}

fn python3_with(dir: &Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", dir);
    cmd
}
