//! Readiness: probe scheduling and results, and marking instances ready or not.

use super::util::pod_command;
use super::{Daemon, Msg};
use crate::compat;
use crate::instance::Op;
use crate::reaper::RunError;
use lcc_compiler::podspec::{AppKind, ProbeAction, RestartPolicy};
use lcc_compiler::PodSpec;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Shortest probe interval before a run's first pass.
const STARTUP_PROBE_MS: u64 = 20;
/// How long a steady HTTP probe lets the app answer before reading: the answers of one
/// grid instant's probes are then read in one wake-up (see `coalesce`).
const STEADY_SETTLE: Duration = Duration::from_millis(20);
/// Before the first success, probe misses restart only after this long.
const STARTUP_WINDOW: Duration = Duration::from_secs(10);

impl Daemon {
    /// Launches the instance's probe if one is due; its result comes back as `Msg::Probe`.
    pub(super) fn probe_if_due(&mut self, name: &str, now: Instant) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.probing || inst.next_probe.is_some_and(|t| t > now) {
            return;
        }
        let Some(probe) = effective_probe(&inst.spec) else {
            self.mark_ready(name, "Running (no probe)");
            return;
        };
        inst.probing = true;
        // Until its first pass a run is probed sooner, every quarter of the time it has
        // been starting (at least 20 ms, at most the period): readiness is seen soon
        // after the app listens (the start gate waits for it) and a slow starter is not
        // flooded; then at the manifest's period.
        let period = if inst.ever_ready {
            probe.period_ms
        } else {
            let starting = inst
                .run_started
                .map_or(0, |t| now.duration_since(t).as_millis());
            (starting as u64 / 4).clamp(STARTUP_PROBE_MS, probe.period_ms.max(STARTUP_PROBE_MS))
        };
        let due = now + Duration::from_millis(period.max(10));
        inst.next_probe = Some(if inst.ever_ready {
            coalesce(due, self.epoch, Duration::from_millis(probe.period_ms / 10))
        } else {
            due
        });
        let gen = inst.gen;
        let settle = if inst.ever_ready {
            STEADY_SETTLE
        } else {
            Duration::ZERO
        };
        let timeout = Duration::from_millis(probe.timeout_ms.max(1));
        let tx = self.tx.clone();
        let name = name.to_string();
        let host = inst
            .spec
            .remote
            .as_ref()
            .map_or("127.0.0.1".to_string(), |r| r.host.clone());
        let port_of = |iface: &str| {
            inst.st.ports.get(iface).copied().or_else(|| {
                inst.spec
                    .interfaces
                    .iter()
                    .find(|i| i.name == iface)
                    .and_then(|i| i.port)
            })
        };
        match probe.action {
            ProbeAction::Http { interface, path } => {
                let port = port_of(&interface).unwrap_or(0);
                tokio::spawn(async move {
                    let result = compat::probe_http(&host, port, &path, timeout, settle).await;
                    let _ = tx.send(Msg::Probe { name, gen, result });
                });
            }
            ProbeAction::Tcp { interface } => {
                let port = port_of(&interface).unwrap_or(0);
                tokio::spawn(async move {
                    let result = compat::probe_tcp(&host, port, timeout).await;
                    let _ = tx.send(Msg::Probe { name, gen, result });
                });
            }
            ProbeAction::Exec { .. } => {
                let cmd = pod_command(&inst.dir, &["readiness"]);
                let reaper = std::sync::Arc::clone(&self.reaper);
                tokio::spawn(async move {
                    let mut cmd = cmd;
                    cmd.stderr(Stdio::null());
                    let result = match reaper.run(cmd, timeout).await {
                        Ok(0) => Ok(()),
                        Ok(c) => Err(format!("readiness exited {c}")),
                        Err(RunError::Timeout) => Err("readiness timed out".to_string()),
                        Err(e) => Err(format!("cannot run readiness: {e}")),
                    };
                    let _ = tx.send(Msg::Probe { name, gen, result });
                });
            }
        }
    }
}

impl Daemon {
    pub(super) fn probe_done(&mut self, name: &str, gen: u64, result: Result<(), String>) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.gen != gen {
            return;
        }
        inst.probing = false;
        if inst.op.is_some() || !inst.up() {
            return;
        }
        let Some(probe) = effective_probe(&inst.spec) else {
            return;
        };
        let err = match result {
            Ok(()) => {
                inst.misses = 0;
                self.mark_ready(name, "ProbePassed");
                return;
            }
            Err(e) => e,
        };
        inst.misses += 1;
        if inst.misses < probe.failure_threshold.max(1) {
            return;
        }
        let in_startup = !inst.ever_ready
            && inst
                .run_started
                .is_some_and(|t| t.elapsed() < STARTUP_WINDOW);
        let policy = inst.spec.restart.policy;
        let misses = inst.misses;
        self.mark_unready(name, &format!("ProbeFailed: {err}"));
        if in_startup || policy == RestartPolicy::Never {
            return;
        }
        let obj = format!("instance/{name}");
        self.emit(
            &obj,
            "Unhealthy",
            &format!("{misses} probes failed in a row ({err}); restarting"),
        );
        self.stop(name, Op::Restart);
    }

    pub(super) fn mark_ready(&mut self, name: &str, reason: &str) {
        self.release_slot(name);
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if !inst.st.ready {
            self.dirty = true;
            self.backends_dirty = true;
            inst.st.ready = true;
            inst.ever_ready = true;
            inst.ready_since = Some(Instant::now());
            inst.st
                .set_condition("Ready", true, reason, crate::events::now_secs());
            let obj = inst.object();
            self.events.emit(&obj, "Ready", reason);
        }
    }

    pub(super) fn mark_unready(&mut self, name: &str, reason: &str) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.st.ready {
            self.dirty = true;
            self.backends_dirty = true;
            inst.st.ready = false;
            inst.ready_since = None;
            inst.st
                .set_condition("Ready", false, reason, crate::events::now_secs());
            let obj = inst.object();
            self.events.emit(&obj, "NotReady", reason);
        }
    }
}

/// `t` rounded up to the next multiple of `slack` (at most 1 s) since `epoch`: the
/// steady probes of many instances fall on the same instants and are sent in one wake-up
/// instead of one each (instances started a few at a time would otherwise spread them
/// evenly), like the kernel's timer slack. Costs at most a tenth of a period.
fn coalesce(t: Instant, epoch: Instant, slack: Duration) -> Instant {
    let slack = slack.min(Duration::from_secs(1)).as_millis() as u64;
    if slack < 2 {
        return t;
    }
    let ms = t.saturating_duration_since(epoch).as_millis() as u64;
    epoch + Duration::from_millis(ms.div_ceil(slack) * slack)
}

/// The manifest's probe; static and remote apps without one get a TCP connect to their
/// first interface (as `pod readiness` does).
pub(super) fn effective_probe(spec: &PodSpec) -> Option<lcc_compiler::podspec::Probe> {
    if spec.probe.is_some() || spec.kind == AppKind::Local {
        return spec.probe.clone();
    }
    let iface = spec.interfaces.first()?;
    Some(lcc_compiler::podspec::Probe {
        action: ProbeAction::Tcp {
            interface: iface.name.clone(),
        },
        initial_delay_ms: 0,
        period_ms: 2000,
        timeout_ms: 1000,
        failure_threshold: 3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_rounds_up_to_the_grid() {
        let e = Instant::now();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(coalesce(e + ms(10_001), e, ms(1000)), e + ms(11_000));
        assert_eq!(coalesce(e + ms(11_000), e, ms(1000)), e + ms(11_000));
        // The slack is capped at 1 s; below 2 ms nothing is rounded.
        assert_eq!(coalesce(e + ms(2_500), e, ms(6000)), e + ms(3_000));
        assert_eq!(coalesce(e + ms(2_501), e, ms(1)), e + ms(2_501));
    }
}
