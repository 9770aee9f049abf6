//! Ports for the tests, below the kernel's ephemeral range (32768-60999 on Linux), so
//! that no socket bound to port 0 and no outgoing connection (of a test's load, of a
//! probe) takes one while the program meant to listen on it is not up yet.
//!
//! One process-wide registry hands out blocks of [`BLOCK`] consecutive ports from
//! [`FIRST`] up to [`LAST`], never the same block twice: a [`Cluster`](super::Cluster)
//! takes a whole block, and [`free_port`] takes single ports from a block of its own.
//! Each port of a block is checked free by binding it before the block is handed out; a
//! block with a busy port is skipped. A block is also claimed across processes with an
//! exclusive `flock` on `$TMPDIR/lcc-test-ports/<first port>` held until the process
//! exits, so that two test runs on one machine (two checkouts, two developers) do not
//! hand out the same block either.

use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::net::TcpListener;
use std::sync::Mutex;

/// The first port handed out.
pub const FIRST: u16 = 20000;
/// The last port handed out (below lcc's default `hostPorts` 30000-31999, which pods of
/// the pod tests allocate from, and below the ephemeral range).
pub const LAST: u16 = 29999;
/// Ports per block.
pub const BLOCK: u16 = 50;

/// A block of [`BLOCK`] ports, `lo..lo + BLOCK`, this process's alone.
#[derive(Debug, Clone, Copy)]
pub struct PortBlock {
    /// Its first port.
    pub lo: u16,
}

impl PortBlock {
    /// The `i`-th port of the block.
    pub fn port(&self, i: u16) -> u16 {
        assert!(i < BLOCK, "port {i} of a block of {BLOCK}");
        self.lo + i
    }
}

#[derive(Debug)]
struct Registry {
    /// The first port of the next block to try.
    next: u16,
    /// The block single ports come from, and how many of it are handed out.
    singles: Option<(PortBlock, u16)>,
    /// The cross-process claims, held until the process exits.
    claims: Vec<Flock<File>>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: FIRST,
    singles: None,
    claims: Vec::new(),
});

/// A fresh block of [`BLOCK`] ports, each free a moment ago.
pub fn block() -> PortBlock {
    let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    claim(&mut reg)
}

/// A single port, free a moment ago, handed out once per process.
pub fn free_port() -> u16 {
    let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (block, used) = match reg.singles {
            Some((block, used)) if used < BLOCK => (block, used),
            _ => (claim(&mut reg), 0),
        };
        reg.singles = Some((block, used + 1));
        let port = block.port(used);
        // Checked at claim time; checked again, as it may have been a while.
        if bindable(port) {
            return port;
        }
    }
}

/// The next block whose every port binds, claimed across processes.
fn claim(reg: &mut Registry) -> PortBlock {
    while u32::from(reg.next) + u32::from(BLOCK) - 1 <= u32::from(LAST) {
        let lo = reg.next;
        reg.next += BLOCK;
        let Some(claim) = lock(lo) else {
            continue;
        };
        if (lo..lo + BLOCK).all(bindable) {
            reg.claims.extend(claim);
            return PortBlock { lo };
        }
    }
    panic!("no block of {BLOCK} free ports left in {FIRST}-{LAST}");
}

/// The cross-process claim of the block at `lo`: `Some(None)` when the lock directory
/// cannot be used (the bind check alone then decides), `None` when another process holds
/// the block.
fn lock(lo: u16) -> Option<Option<Flock<File>>> {
    let dir = std::env::temp_dir().join("lcc-test-ports");
    let file = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(lo.to_string()))
    });
    let Ok(file) = file else {
        return Some(None);
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .ok()
        .map(Some)
}

/// Whether 127.0.0.1:`port` can be bound now.
fn bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}
