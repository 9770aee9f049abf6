//! `lcc dashboard`: its API over every cluster of the registry (serve.rs) and its web
//! page in a real Chromium (browser.rs).

mod browser;
mod serve;

use crate::support::{free_port, wait_until, Cluster, KillOnDrop};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

/// A running `lcc dashboard`, killed on drop.
#[derive(Debug)]
struct Dashboard {
    addr: SocketAddr,
    _process: KillOnDrop,
}

impl Dashboard {
    /// `lcc dashboard --listen 127.0.0.1:PORT EXTRA...` over `cluster`'s registry; waits
    /// until it answers.
    fn start(cluster: &Cluster, extra: &[&str]) -> Dashboard {
        Dashboard::start_with(cluster, extra, &[])
    }

    /// [`Dashboard::start`] with more environment variables.
    fn start_with(cluster: &Cluster, extra: &[&str], env: &[(&str, &str)]) -> Dashboard {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let listen = addr.to_string();
        let mut args = vec!["dashboard", "--listen", listen.as_str()];
        args.extend_from_slice(extra);
        let child = cluster
            .command(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn lcc dashboard");
        let process = KillOnDrop(child);
        let up = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(addr).is_ok()
        });
        assert!(up, "lcc dashboard does not listen on {addr}");
        Dashboard {
            addr,
            _process: process,
        }
    }
}
