//! Who holds a TCP port: the listening socket of an address in `/proc/net/tcp` and
//! `/proc/net/tcp6`, then the process that has that socket open (`/proc/PID/fd/*` links
//! to `socket:[INODE]`). Used by `lcc up` to name what is in the way of a listener and
//! by the proxy to say who holds an address it cannot bind. Another user's processes
//! are not visible (their `fd/` cannot be read): the holder is then unknown, not an error.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// The process holding a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Its pid.
    pub pid: i32,
    /// Its command line (arguments joined by spaces), or its `comm` if that is empty.
    pub command: String,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} ({})", self.pid, self.command)
    }
}

/// The TCP state LISTEN in `/proc/net/tcp*`.
const LISTEN: &str = "0A";

/// The process listening where a bind of `addr` would collide: a listener on the same
/// port at the same address or at a wildcard one (or, for a wildcard `addr`, at any
/// address). `None` when no such socket is visible.
pub fn find(addr: SocketAddr) -> Option<Holder> {
    let proc = Path::new("/proc");
    let mut inodes = Vec::new();
    for table in ["net/tcp", "net/tcp6"] {
        let text = std::fs::read_to_string(proc.join(table)).unwrap_or_default();
        inodes.extend(listening_inodes(&text, addr));
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut pids: Vec<i32> = std::fs::read_dir(proc)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    // the oldest process first: a listener shared by a parent and its children (a
    // pre-fork server) is named by the parent
    pids.sort_unstable();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(proc.join(pid.to_string()).join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|l| wanted.iter().any(|w| l.as_os_str() == w.as_str()))
        });
        if holds {
            return Some(Holder {
                pid,
                command: command_of(pid),
            });
        }
    }
    None
}

/// The command line of `pid`, arguments joined by spaces (its `comm` for a kernel
/// thread or a process whose command line is gone).
fn command_of(pid: i32) -> String {
    let dir = Path::new("/proc").join(pid.to_string());
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if !args.is_empty() {
        return args.join(" ");
    }
    std::fs::read_to_string(dir.join("comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "?".to_string())
}

/// The inodes of the listening sockets of a `/proc/net/tcp*` table that collide with
/// a bind of `addr`.
fn listening_inodes(table: &str, addr: SocketAddr) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
            if *state != LISTEN {
                return None;
            }
            let (ip, port) = parse_local(local)?;
            let collides = port == addr.port()
                && (ip == addr.ip()
                    || ip.is_unspecified()
                    || addr.ip().is_unspecified()
                    || same_v4(ip, addr.ip()));
            collides.then(|| inode.parse().ok()).flatten()
        })
        .collect()
}

/// An IPv4 address and its IPv4-mapped IPv6 form are the same address.
fn same_v4(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6), as the kernel prints them:
/// each 32-bit word of the address as the number its bytes make in the machine's byte
/// order, the port in hex.
fn parse_local(text: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => {
            let b: [u8; 16] = bytes.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses_parse_as_the_kernel_prints_them() {
        let cases: &[(&str, Option<(&str, u16)>)] = &[
            ("0100007F:1F90", Some(("127.0.0.1", 8080))),
            ("00000000:0050", Some(("0.0.0.0", 80))),
            ("00000000000000000000000001000000:2382", Some(("::1", 9090))),
            (
                "0000000000000000FFFF00000100007F:2382",
                Some(("::ffff:127.0.0.1", 9090)),
            ),
            ("garbage", None),
            ("0100007F:XYZ", None),
        ];
        // the tables below are what a little-endian machine prints
        if cfg!(target_endian = "big") {
            return;
        }
        for (text, want) in cases {
            let got = parse_local(text);
            let want = want.map(|(ip, port)| (ip.parse::<IpAddr>().unwrap(), port));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn a_listener_collides_at_its_address_or_a_wildcard() {
        if cfg!(target_endian = "big") {
            return;
        }
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0\n\
            1: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 100 0 0 10 0\n\
            2: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 100 0 0 10 0\n";
        let cases: &[(&str, &[u64])] = &[
            ("127.0.0.1:8080", &[111]),
            ("0.0.0.0:8080", &[111]),
            ("127.0.0.2:8080", &[]),
            ("127.0.0.1:9090", &[222]),
            // an established connection is not a listener
            ("127.0.0.1:8081", &[]),
        ];
        for (addr, want) in cases {
            assert_eq!(
                listening_inodes(table, addr.parse().unwrap()),
                *want,
                "{addr}"
            );
        }
    }

    #[test]
    fn the_holder_of_a_listener_of_this_process_is_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let holder = find(addr).expect("visible");
        assert_eq!(holder.pid, std::process::id() as i32);
        assert!(!holder.command.is_empty());
        drop(listener);
        assert_eq!(find(addr), None);
    }
}
