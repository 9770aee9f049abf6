//! Interface ports: is a port free on 127.0.0.1, and pick a free one from a range.
//!
//! A port found free here can still be taken before the app binds it (docs/daemon.md,
//! Ports): callers treat an app that fails to bind as a normal failure.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;

/// The range used when the cluster names none (the `hostPorts` default, docs/manifests.md).
pub const DEFAULT_RANGE: RangeInclusive<u16> = 30000..=31999;

/// True when a listener can be bound on `127.0.0.1:port` right now. Port 0 is never free.
pub fn is_free(port: u16) -> bool {
    port != 0 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A free port of `range` that is not in `taken`, starting the search at a random
/// offset so that callers working in parallel rarely pick the same port.
pub fn pick_free(range: RangeInclusive<u16>, taken: &HashSet<u16>) -> Option<u16> {
    let (lo, hi) = (*range.start(), *range.end());
    if lo > hi {
        return None;
    }
    let len = u32::from(hi - lo) + 1;
    let start = random_u32() % len;
    (0..len)
        .map(|i| lo + ((start + i) % len) as u16)
        .find(|port| !taken.contains(port) && is_free(*port))
}

/// Parses `LO-HI` (inclusive) as accepted by `lcc port --range`.
pub fn parse_range(text: &str) -> Option<RangeInclusive<u16>> {
    let (lo, hi) = text.trim().split_once('-')?;
    let lo: u16 = lo.trim().parse().ok()?;
    let hi: u16 = hi.trim().parse().ok()?;
    (lo >= 1 && lo <= hi).then_some(lo..=hi)
}

/// A random number from the std hasher's per-process random keys, mixed with the pid
/// and the clock so that two processes started at once still differ.
fn random_u32() -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    (hasher.finish() >> 16) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_port_is_not_free_and_is_skipped() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(!is_free(port));
        assert_eq!(pick_free(port..=port, &HashSet::new()), None);
        drop(listener);
        assert!(is_free(port));
        assert_eq!(pick_free(port..=port, &HashSet::new()), Some(port));
    }

    #[test]
    fn taken_ports_are_skipped() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let taken: HashSet<u16> = [port].into_iter().collect();
        assert_eq!(pick_free(port..=port, &taken), None);
    }

    #[test]
    fn picks_stay_in_range_and_vary() {
        let picks: HashSet<u16> = (0..20)
            .filter_map(|_| pick_free(40000..=40999, &HashSet::new()))
            .collect();
        assert!(picks.iter().all(|p| (40000..=40999).contains(p)));
        assert!(picks.len() > 1, "start offset is not random: {picks:?}");
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("30000-31999"), Some(30000..=31999));
        assert_eq!(parse_range("5-5"), Some(5..=5));
        assert_eq!(parse_range("9-5"), None);
        assert_eq!(parse_range("0-5"), None);
        assert_eq!(parse_range("x-5"), None);
        assert_eq!(parse_range("5"), None);
        assert!(!is_free(0));
    }
}
