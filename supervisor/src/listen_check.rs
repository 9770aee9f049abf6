//! Before `lcc up` starts anything: whether each fixed listen address of the cluster
//! can be bound, and if another program holds it, which one. A proxy of this very
//! cluster that outlived its daemon (killed) does not count: the next daemon replaces it.

use crate::podfs::ProcId;
use lcc_core::holder::{self, Holder};
use lcc_core::layout::Layout;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

/// What stands in the way of one listen address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InTheWay {
    /// The address resolved.
    pub addr: SocketAddr,
    /// The program holding it, when visible (another user's processes are not).
    pub holder: Option<Holder>,
}

/// Another program holds `listen` (`HOST:PORT`): it and its holder; `None` when the
/// address can be bound, is held by this cluster's own proxy, or fails for another
/// reason than being taken (that is the proxy's to report).
pub fn in_the_way(layout: &Layout, listen: &str) -> Option<InTheWay> {
    let addr = listen.to_socket_addrs().ok()?.next()?;
    // std sets SO_REUSEADDR, as the proxy does: a port in TIME_WAIT is not taken
    match TcpListener::bind(addr) {
        Ok(_) => return None,
        Err(e) if e.kind() != std::io::ErrorKind::AddrInUse => return None,
        Err(_) => {}
    }
    let ours = std::fs::read_to_string(layout.proxy_pid())
        .ok()
        .and_then(|t| ProcId::parse(&t))
        .filter(ProcId::alive);
    let holder = holder::find(addr);
    match (&holder, ours) {
        (Some(h), Some(p)) if h.pid == p.pid => None,
        // not visible, while our own proxy runs: most likely it
        (None, Some(_)) => None,
        _ => Some(InTheWay { addr, holder }),
    }
}
