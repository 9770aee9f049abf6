//! A real program in the way: another process (python3) listening on a port the cluster
//! wants, killed on drop even when the test fails.

use super::process::KillOnDrop;
use super::wait_until;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The program the squatter runs: bind the port given as its argument, listen, and
/// wait on stdin.
pub const SCRIPT: &str = "import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('127.0.0.1',int(sys.argv[1])));s.listen(8);sys.stdin.read()";

/// A process listening on one port of 127.0.0.1.
#[derive(Debug)]
pub struct Squatter {
    child: KillOnDrop,
    /// Its pid.
    pub pid: i32,
    /// The port it holds.
    pub port: u16,
}

impl Squatter {
    /// Starts one on `port` and waits (up to 10 s) until it accepts connections.
    pub fn hold(port: u16) -> Squatter {
        let child = Command::new("python3")
            .args(["-c", SCRIPT, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3");
        let pid = child.id() as i32;
        let s = Squatter {
            child: KillOnDrop(child),
            pid,
            port,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(
            wait_until(Duration::from_secs(10), || {
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            }),
            "the squatter listens on {port}"
        );
        s
    }

    /// Its command line as `/proc/PID/cmdline` shows it, arguments joined by spaces
    /// (`python3` may be a shim that execs another path, as pyenv's does).
    pub fn command(&self) -> String {
        let raw = std::fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert!(
            args.ends_with(&["-c".to_string(), SCRIPT.to_string(), self.port.to_string()]),
            "{args:?}"
        );
        args.join(" ")
    }

    /// Ends it and waits until it is gone (its socket closed with it).
    pub fn exit(mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}
