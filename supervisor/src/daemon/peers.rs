//! The other hosts, from this host's daemon (docs/hosts.md, "Cross-host gateways"): a
//! poller thread per active peer asks its daemon for its ready backends every
//! [`POLL`](crate::peers::POLL), with the peer token and a deadline, and hands each
//! answer to the loop as a message; the loop steps the peer's state
//! ([`crate::peers::Peer::step`]), reports a host lost or back, and rewrites
//! `proxy.conf` when the backends it lends change.
//!
//! The pollers are threads of their own (blocking requests with a deadline): the
//! loop may be busy for seconds (a scale to hundreds), and a peer's answer must not
//! wait for it to be asked.

use super::{Daemon, Msg};
use crate::peer_client::PeerClient;
use crate::peers::{self, Answer, HostBackends, Peer, Transition};
use lcc_core::events::Reason;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// One peer's poller: asks `address` until stopped (on drop).
#[derive(Debug)]
pub(super) struct Poller {
    address: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Poller {
    /// Starts asking host `name` at `address` (`IP:PORT`), sending each answer to `tx`.
    fn spawn(
        name: &str,
        address: &str,
        token: &str,
        tx: UnboundedSender<Msg>,
    ) -> std::io::Result<Poller> {
        let stop = Arc::new(AtomicBool::new(false));
        let client = PeerClient::new(token, peers::DEADLINE);
        let (host, addr, flag) = (name.to_string(), address.to_string(), Arc::clone(&stop));
        std::thread::Builder::new()
            .name(format!("lcc-peer-{name}"))
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let answer = client
                        .get::<HostBackends>(&addr, "/api/v1/backends")
                        .map_err(|e| e.to_string());
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    let msg = Msg::Peer {
                        host: host.clone(),
                        answer,
                    };
                    if tx.send(msg).is_err() {
                        break;
                    }
                    std::thread::sleep(peers::POLL.saturating_sub(started.elapsed()));
                }
            })?;
        Ok(Poller {
            address: address.to_string(),
            stop,
        })
    }
}

impl Daemon {
    /// Makes the pollers match the plan: one per active Host other than this one (an
    /// inactive host is given no traffic). A host that left the plan, or moved, has
    /// its poller stopped and its backends dropped.
    pub(super) fn start_peers(&mut self) {
        let Some(token) = self.peer_token.clone() else {
            return;
        };
        let here = self.plan.this_host.clone();
        let wanted: BTreeMap<String, String> = self
            .plan
            .hosts
            .iter()
            .filter(|h| h.active && Some(&h.name) != here.as_ref() && !h.is_local())
            .map(|h| (h.name.clone(), self.plan.peer_address(h)))
            .collect();
        let before = self.pollers.len();
        self.pollers
            .retain(|name, p| wanted.get(name) == Some(&p.address));
        self.peers.retain(|name, _| self.pollers.contains_key(name));
        if self.pollers.len() != before {
            self.backends_dirty = true;
        }
        for (name, address) in wanted {
            if self.pollers.contains_key(&name) {
                continue;
            }
            match Poller::spawn(&name, &address, &token, self.tx.clone()) {
                Ok(p) => {
                    self.pollers.insert(name.clone(), p);
                    self.peers.insert(
                        name,
                        Peer::Unknown {
                            since: Instant::now(),
                        },
                    );
                }
                Err(e) => tracing::warn!("no thread to ask host {name}: {e}"),
            }
        }
    }

    /// A poller's answer from host `host`.
    pub(super) fn peer_answered(&mut self, host: String, answer: Result<HostBackends, String>) {
        let Some(state) = self.peers.remove(&host) else {
            // a poller stopped since: its host is no longer asked
            return;
        };
        let known: Vec<&str> = self.plan.gateways.iter().map(|g| g.name.as_str()).collect();
        let own = self.plan.host(&host).map_or("", |h| h.address.as_str());
        let answer = match answer {
            Ok(hb) if hb.host == host => Answer::Backends(peers::admit(hb, &known, own)),
            Ok(hb) => Answer::Failed(format!("it answers as host {:?}", hb.host)),
            Err(why) => Answer::Failed(why),
        };
        let never_heard = matches!(state, Peer::Unknown { .. });
        let (next, changed, transition) = state.step(answer, Instant::now());
        let address = self
            .pollers
            .get(&host)
            .map_or(String::new(), |p| p.address.clone());
        let count = next
            .backends()
            .map_or(0, |b| b.values().map(Vec::len).sum::<usize>());
        self.peers.insert(host.clone(), next);
        if changed {
            self.backends_dirty = true;
        }
        let object = format!("host/{host}");
        match transition {
            Some(Transition::Lost(why)) if never_heard => self.emit(
                &object,
                Reason::HostLost,
                &format!(
                    "{host} has not answered at {address} since this daemon started ({why}); its backends are not used"
                ),
            ),
            Some(Transition::Lost(why)) => self.emit(
                &object,
                Reason::HostLost,
                &format!(
                    "{host} does not answer at {address} ({why}); its backends left every gateway of this host"
                ),
            ),
            Some(Transition::Back) => self.emit(
                &object,
                Reason::HostBack,
                &format!(
                    "{host} answers again at {address}; its {count} ready backends are back in the gateways"
                ),
            ),
            None => {}
        }
    }

    /// The backends the live peers lend, by host name.
    pub(super) fn peer_backends(&self) -> impl Iterator<Item = &crate::proxyconf::Backends> {
        self.peers.values().filter_map(Peer::backends)
    }
}
