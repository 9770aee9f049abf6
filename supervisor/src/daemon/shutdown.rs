//! Shutdown: stop every pod within its stop timeout, then the proxy.

use super::{Daemon, Msg};
use crate::instance::Op;
use crate::reconcile::State;
use lcc_compiler::podspec::AppKind;
use lcc_core::events::Reason;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

impl Daemon {
    pub(super) async fn shutdown(
        &mut self,
        rx: &mut UnboundedReceiver<Msg>,
        sigchld: &mut tokio::signal::unix::Signal,
    ) {
        self.stopping = true;
        self.stop_acme();
        self.emit(
            &format!("cluster/{}", self.plan.name),
            Reason::ShuttingDown,
            "stopping every pod",
        );
        let longest = self
            .insts
            .values()
            .map(|i| i.spec.stop.timeout_ms)
            .max()
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(longest) + Duration::from_secs(10);
        // Dependants stop before what they depend on: a round starts once every
        // instance of the rounds before it is down (without dependencies, one round).
        let rounds = self.stop_rounds();
        loop {
            let busy = |i: &crate::instance::Inst| i.op.is_some() || i.up();
            let names: Vec<String> = rounds
                .iter()
                .find(|round| round.iter().any(|n| self.insts.get(n).is_some_and(busy)))
                .cloned()
                .unwrap_or_default();
            for name in &names {
                let Some(inst) = self.insts.get(name) else {
                    continue;
                };
                if inst.op.is_none() && inst.up() {
                    self.stop(name, Op::Stop);
                } else if inst.op.is_none() && inst.spec.kind == AppKind::Remote {
                    if let Some(i) = self.insts.get_mut(name) {
                        i.remote_up = false;
                    }
                }
            }
            self.flush_with(None, Duration::ZERO);
            let busy = self.insts.values().any(|i| i.op.is_some() || i.up());
            if !busy || Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                Some(msg) = rx.recv() => { self.handle(msg); }
                _ = sigchld.recv() => { self.reap(); }
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
        for inst in self.insts.values_mut() {
            if let Some(p) = inst.proc_id.filter(|p| p.alive()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            inst.end_run();
            inst.op = None;
            inst.st.ready = false;
            inst.set_state(State::Stopped);
        }
        self.flush_with(None, Duration::ZERO);
        self.stop_proxy().await;
        let _ = std::fs::remove_file(self.layout.daemon_up());
        let _ = std::fs::remove_file(self.layout.daemon_pid());
        self.reaper.reap();
    }
}
