//! The other hosts of a multi-host cluster as one daemon sees them (docs/hosts.md,
//! "Cross-host gateways"): whether each is live, decided from its last answers and the
//! time alone, and the ready backends it said it has. Pure: the poller (`daemon/peers`)
//! does the asking, this module decides, so the "dropped within 2 s" promise is a
//! table test.
//!
//! A peer is asked every [`POLL`], each request with a deadline of [`DEADLINE`]; it is
//! live while its last good answer is younger than [`LOST_AFTER`]. A cut link is thus
//! seen at the first failed answer after `LOST_AFTER`, at most `LOST_AFTER + POLL +
//! DEADLINE` after the cut: under 2 s, the bound docs/hosts.md gives. One late answer
//! (a busy peer) does not drop it.

use crate::proxyconf::Backends;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How often each peer is asked for its backends.
pub const POLL: Duration = Duration::from_millis(250);
/// How long one request may take.
pub const DEADLINE: Duration = Duration::from_millis(500);
/// A peer whose last good answer is this old is lost.
pub const LOST_AFTER: Duration = Duration::from_millis(1000);

/// What a host's daemon answers on `GET /api/v1/backends`: its own ready backends per
/// gateway, reachable from the other hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostBackends {
    /// The host that answers (checked against the one asked).
    pub host: String,
    /// Gateway name -> `ADDRESS:PORT` of each ready backend on that host.
    pub gateways: Backends,
}

/// What the daemon knows of one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Not heard from since `since` (the daemon's start): its backends are not used.
    Unknown { since: Instant },
    /// Answered at `last_ok`: its backends serve in this host's gateways.
    Live {
        last_ok: Instant,
        backends: Backends,
    },
    /// Stopped answering (`why`: the last failure): dropped from every gateway.
    Lost { why: String },
}

/// One answer of the poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The peer's backends.
    Backends(Backends),
    /// The request failed: why, for the event.
    Failed(String),
}

/// What a step changed that the daemon must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The peer is lost (event `HostLost`, with the reason).
    Lost(String),
    /// A lost peer answers again (event `HostBack`).
    Back,
}

/// Whether a peer whose last good answer came at `last_ok` is live at `now`.
pub fn live(last_ok: Instant, now: Instant) -> bool {
    now.saturating_duration_since(last_ok) < LOST_AFTER
}

impl Peer {
    /// The backends this peer lends this host's gateways now (none unless live).
    pub fn backends(&self) -> Option<&Backends> {
        match self {
            Peer::Live { backends, .. } => Some(backends),
            _ => None,
        }
    }

    /// The peer after `answer` arrived at `now`; whether its backends changed, and the
    /// transition to report.
    pub fn step(self, answer: Answer, now: Instant) -> (Peer, bool, Option<Transition>) {
        match (self, answer) {
            (Peer::Live { backends: old, .. }, Answer::Backends(new)) => {
                let changed = old != new;
                (
                    Peer::Live {
                        last_ok: now,
                        backends: new,
                    },
                    changed,
                    None,
                )
            }
            (Peer::Unknown { .. }, Answer::Backends(new)) => (
                Peer::Live {
                    last_ok: now,
                    backends: new,
                },
                true,
                None,
            ),
            (Peer::Lost { .. }, Answer::Backends(new)) => (
                Peer::Live {
                    last_ok: now,
                    backends: new,
                },
                true,
                Some(Transition::Back),
            ),
            (Peer::Live { last_ok, backends }, Answer::Failed(why)) => {
                if live(last_ok, now) {
                    (Peer::Live { last_ok, backends }, false, None)
                } else {
                    let gone = !backends.values().all(Vec::is_empty);
                    (
                        Peer::Lost { why: why.clone() },
                        gone,
                        Some(Transition::Lost(why)),
                    )
                }
            }
            (Peer::Unknown { since }, Answer::Failed(why)) => {
                if live(since, now) {
                    (Peer::Unknown { since }, false, None)
                } else {
                    (
                        Peer::Lost { why: why.clone() },
                        false,
                        Some(Transition::Lost(why)),
                    )
                }
            }
            (Peer::Lost { .. }, Answer::Failed(why)) => (Peer::Lost { why }, false, None),
        }
    }
}

/// The backends of a peer's answer that may go into `proxy.conf`: those of gateways
/// this plan has (`known`), each `HOST:PORT` whose host is the peer's own `address`
/// (as its Host document gives it; an IPv6 address in brackets) and whose port is not
/// 0. A peer (even one broken into) can thus neither point this host's gateways at
/// another machine or at this host's loopback, nor make the proxy refuse the whole
/// config, nor add a gateway.
pub fn admit(answer: HostBackends, known: &[&str], address: &str) -> Backends {
    answer
        .gateways
        .into_iter()
        .filter(|(g, _)| known.contains(&g.as_str()))
        .map(|(g, list)| {
            let ok: Vec<String> = list
                .into_iter()
                .filter(|b| backend_ok(b, address))
                .collect();
            (g, ok)
        })
        .collect()
}

fn backend_ok(b: &str, address: &str) -> bool {
    let Some((host, port)) = b.rsplit_once(':') else {
        return false;
    };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    // an IPv6 address only in brackets: `fd00::2:30003` is ambiguous
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6,
        None if host.contains(':') => return false,
        None => host,
    };
    port_ok && !host.is_empty() && host.eq_ignore_ascii_case(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(list: &[&str]) -> Backends {
        Backends::from([(
            "web".to_string(),
            list.iter().map(|s| s.to_string()).collect(),
        )])
    }

    #[test]
    fn a_peer_is_live_until_its_last_answer_is_lost_after_old() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let table = [(0, true), (999, true), (1000, false), (5000, false)];
        for (at, want) in table {
            assert_eq!(live(t0, ms(at)), want, "{at} ms");
        }
        // an answer stamped after `now` (clock order across threads) is live
        assert!(live(ms(10), t0));
    }

    #[test]
    fn steps_of_a_peer() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let live_at = |n: u64, list: &[&str]| Peer::Live {
            last_ok: ms(n),
            backends: b(list),
        };
        let ok = |list: &[&str]| Answer::Backends(b(list));
        let fail = || Answer::Failed("timed out".into());
        let lost = || Peer::Lost {
            why: "timed out".into(),
        };
        // (state, answer, at ms) -> (state, backends changed, transition)
        type Row = (Peer, Answer, u64, (Peer, bool, Option<Transition>));
        let table: Vec<Row> = vec![
            // first contact: used at once, nothing to report
            (
                Peer::Unknown { since: t0 },
                ok(&["10.0.0.2:30001"]),
                100,
                (live_at(100, &["10.0.0.2:30001"]), true, None),
            ),
            // never answered: lost once LOST_AFTER has passed since the start
            (
                Peer::Unknown { since: t0 },
                fail(),
                500,
                (Peer::Unknown { since: t0 }, false, None),
            ),
            (
                Peer::Unknown { since: t0 },
                fail(),
                1000,
                (lost(), false, Some(Transition::Lost("timed out".into()))),
            ),
            // the same backends again: nothing changes but the time
            (
                live_at(0, &["a:1"]),
                ok(&["a:1"]),
                250,
                (live_at(250, &["a:1"]), false, None),
            ),
            (
                live_at(0, &["a:1"]),
                ok(&["a:1", "a:2"]),
                250,
                (live_at(250, &["a:1", "a:2"]), true, None),
            ),
            // one failed answer within the window keeps it (a busy peer)
            (
                live_at(0, &["a:1"]),
                fail(),
                999,
                (live_at(0, &["a:1"]), false, None),
            ),
            // past the window: dropped, its backends leave
            (
                live_at(0, &["a:1"]),
                fail(),
                1000,
                (lost(), true, Some(Transition::Lost("timed out".into()))),
            ),
            (
                live_at(0, &[]),
                fail(),
                1500,
                (lost(), false, Some(Transition::Lost("timed out".into()))),
            ),
            // lost stays lost, reported once
            (lost(), fail(), 3000, (lost(), false, None)),
            // and comes back with its first good answer
            (
                lost(),
                ok(&["a:1"]),
                4000,
                (live_at(4000, &["a:1"]), true, Some(Transition::Back)),
            ),
        ];
        for (i, (state, answer, at, want)) in table.into_iter().enumerate() {
            assert_eq!(state.step(answer, ms(at)), want, "row {i}");
        }
    }

    #[test]
    fn only_known_gateways_and_the_peers_own_backends_are_admitted() {
        let answer = |list: &[&str]| HostBackends {
            host: "h2".into(),
            gateways: Backends::from([
                (
                    "web".to_string(),
                    list.iter().map(|s| s.to_string()).collect(),
                ),
                ("other".to_string(), vec!["10.0.0.2:1".to_string()]),
            ]),
        };
        let table: [(&str, &[&str], &[&str]); 3] = [
            (
                "10.0.0.2",
                &[
                    "10.0.0.2:30001",
                    "10.0.0.2:30002",
                    "10.0.0.3:30001",
                    "127.0.0.1:30001",
                    "evil.example:443",
                    "10.0.0.2",
                    "10.0.0.2:0",
                    "10.0.0.2:99999",
                    ":1",
                    "10.0.0.2 :1",
                ],
                &["10.0.0.2:30001", "10.0.0.2:30002"],
            ),
            (
                "h2.example",
                &["H2.Example:30002", "h2.example.evil:1", "10.0.0.2:30001"],
                &["H2.Example:30002"],
            ),
            (
                "fd00::2",
                &["[fd00::2]:30003", "[fd00::3]:30003", "fd00::2:30003"],
                &["[fd00::2]:30003"],
            ),
        ];
        for (address, given, want) in table {
            let got = admit(answer(given), &["web", "db"], address);
            assert_eq!(got, b(want), "{address}");
        }
    }
}
