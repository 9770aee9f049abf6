//! The processes the daemon runs and ends besides its loop: `pod` actions, and a
//! process recorded as `PID STARTTIME` (the proxy) killed only if it is still that one.

use crate::podfs::ProcId;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `<dir>/pod ARGS` with stdin/stdout closed: the pod detaches, nothing can hang on it.
pub(super) fn pod_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(dir.join("pod"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Runs a pod action synchronously (outside the loop: startup and `lcc down`).
pub fn run_pod_blocking(dir: &Path, args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    pod_command(dir, args).stderr(Stdio::null()).status()
}

/// Kills the process recorded as `PID STARTTIME` in `file`, if it is still that process.
pub fn kill_recorded(file: &Path) {
    let Some(id) = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| ProcId::parse(&t))
    else {
        return;
    };
    if id.alive() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(id.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        // Its listeners close only once it is gone, every thread of it: wait a moment so
        // a successor can bind.
        for _ in 0..100 {
            if id.released() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_file(file);
}
