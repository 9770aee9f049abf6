//! The gateway proxy: backends from the ready set, `proxy.conf` writing, and spawning
//! and supervising the lcc-proxy child.

use super::process::kill_recorded;
use super::{Daemon, Msg};
use crate::instance::Owner;
use crate::podfs::PodState;
use crate::podfs::{self, ProcId};
use crate::proxy_restart;
use crate::proxyconf;
use lcc_core::events::Reason;
use lcc_core::proxy_listeners::Listeners;
use lcc_core::status;
use std::collections::BTreeSet;
use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How much of the end of `proxy.log` is read for the proxy's last line.
const LAST_LINE_BYTES: u64 = 4096;

impl Daemon {
    pub(super) fn backends(&self) -> proxyconf::Backends {
        let mut out = proxyconf::Backends::new();
        for g in &self.plan.gateways {
            let mut list: Vec<(String, (String, u64), String)> = Vec::new();
            for i in self
                .insts
                .values()
                .filter(|i| i.st.ready && i.desired == PodState::Running)
                // Draining before a restart for a change: no new requests.
                .filter(|i| !matches!(i.change, crate::source_watch::Restart::Draining(_)))
            {
                let owned = i.spec.instance == g.target
                    || (i.spec.group.as_deref() == Some(&g.target)
                        && i.owner == Owner::Group(g.target.clone()));
                if !owned {
                    continue;
                }
                let host = i
                    .spec
                    .remote
                    .as_ref()
                    .map_or(self.plan.this_address().to_string(), |r| r.host.clone());
                let port = i.st.ports.get(&g.interface).copied().or_else(|| {
                    i.spec
                        .interfaces
                        .iter()
                        .find(|x| x.name == g.interface)
                        .and_then(|x| x.port)
                });
                if let Some(p) = port {
                    list.push((
                        i.spec.instance.clone(),
                        status::natural_key(&i.spec.instance),
                        proxyconf::backend(&host, p),
                    ));
                }
            }
            list.sort_by(|a, b| a.1.cmp(&b.1));
            out.insert(g.name.clone(), list.into_iter().map(|x| x.2).collect());
        }
        out
    }

    pub(super) fn tick_proxy(&mut self) {
        if self.stopping || !proxyconf::needed(&self.plan) {
            return;
        }
        if std::mem::take(&mut self.backends_dirty) || self.last_conf.is_none() {
            self.write_proxy_conf();
        }
        if self.proxy.pid.is_none() && self.proxy.restart_at.is_none_or(|t| t <= Instant::now()) {
            self.proxy.restart_at = None;
            self.spawn_proxy();
        }
    }

    pub(super) fn write_proxy_conf(&mut self) {
        // the local CA is made the first time a cluster asks for https
        let ca = self.plan.https.as_ref().and_then(|_| {
            let made = lcc_core::ca::default_dir().and_then(|dir| lcc_core::ca::ensure(&dir));
            made.map_err(|e| tracing::warn!("no local CA: {e}"))
                .ok()
                .map(|(files, _)| files)
        });
        let acme = self.acme_served();
        let local = self.backends();
        if let Some(api) = &self.api {
            api.set_backends(local.clone());
        }
        let all = proxyconf::merge(local, self.peer_backends());
        let conf = proxyconf::build(&self.plan, &all, ca.as_ref(), acme.as_ref());
        let text = conf.to_yaml();
        if self.last_conf.as_deref() == Some(text.as_str()) {
            return;
        }
        match lcc_core::atomic::write_atomic(&self.layout.proxy_conf(), text.as_bytes()) {
            Ok(()) => {
                self.last_conf = Some(text);
                self.conf_key = podfs::file_key(&self.layout.proxy_conf());
            }
            Err(_) => self.backends_dirty = true,
        }
    }

    pub(super) fn spawn_proxy(&mut self) {
        let Some(bin) = self.opts.proxy_bin.clone() else {
            if !self.proxy.missing_reported {
                self.proxy.missing_reported = true;
                self.emit("proxy", Reason::ProxyMissing, "neither lcc-proxy (next to lcc or in $LCC_PROXY_BIN) nor lcc itself can be run; gateways are not served");
            }
            return;
        };
        kill_recorded(&self.layout.proxy_pid());
        // markers are the word of a proxy that runs: the new one writes its own
        let _ = std::fs::remove_file(self.layout.proxy_applied());
        let _ = std::fs::remove_file(self.layout.proxy_listeners());
        self.proxy.listeners_key = None;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.layout.proxy_log());
        self.proxy.log_from = log
            .as_ref()
            .ok()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        let mut cmd = Command::new(&bin);
        cmd.args(&self.opts.proxy_args)
            .arg("--config")
            .arg(self.layout.proxy_conf())
            .arg("--applied")
            .arg(self.layout.proxy_applied())
            .arg("--listeners")
            .arg(self.layout.proxy_listeners())
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match log {
            Ok(f) => {
                let f2 = f.try_clone();
                cmd.stdout(f);
                if let Ok(f2) = f2 {
                    cmd.stderr(f2);
                }
            }
            Err(_) => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        match self.reaper.spawn(&mut cmd) {
            Ok((pid, rx)) => {
                self.proxy.pid = Some(pid);
                self.proxy.started = Some(Instant::now());
                if let Some(id) = ProcId::of(pid) {
                    let _ = lcc_core::atomic::write_atomic(
                        &self.layout.proxy_pid(),
                        format!("{} {}\n", id.pid, id.start).as_bytes(),
                    );
                }
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let code = rx.await.unwrap_or(-1);
                    let _ = tx.send(Msg::ProxyExited(code));
                });
                self.emit(
                    "proxy",
                    Reason::ProxyStarted,
                    &format!("lcc-proxy pid {pid}"),
                );
            }
            Err(e) => {
                self.emit(
                    "proxy",
                    Reason::ProxyFailed,
                    &format!("cannot start {}: {e}", bin.display()),
                );
                self.proxy.restart_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }

    pub(super) async fn stop_proxy(&mut self) {
        let Some(pid) = self.proxy.pid.take() else {
            return;
        };
        let p = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..40 {
            self.reaper.reap();
            if nix::sys::signal::kill(p, None).is_err()
                || ProcId::of(pid).is_none_or(|id| !id.alive())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
        self.forget_proxy_files();
    }

    /// The proxy exited: say so with the last line it wrote, and start it again after
    /// the backoff of `proxy_restart`.
    pub(super) fn proxy_exited(&mut self, code: i32) {
        self.proxy.pid = None;
        self.forget_proxy_files();
        if self.stopping {
            return;
        }
        let ran = self
            .proxy
            .started
            .take()
            .map_or(Duration::ZERO, |t| t.elapsed());
        let (exits, delay) = proxy_restart::after_exit(self.proxy.exits, ran);
        self.proxy.exits = exits;
        self.proxy.restart_at = Some(Instant::now() + delay);
        let said = last_line(&self.layout.proxy_log(), self.proxy.log_from)
            .map_or(String::new(), |l| format!(": {l}"));
        self.emit(
            "proxy",
            Reason::ProxyExited,
            &format!(
                "lcc-proxy exited with code {code}{said}; restarting in {}ms (exit {exits} in a row)",
                delay.as_millis()
            ),
        );
    }

    /// Reads `proxy.listeners` when it changed: an address newly busy is reported once
    /// (`ListenerBusy`, with its holder), one reported busy that the proxy now serves
    /// as `ListenerBound`. The addresses reported stay known across a restart of the
    /// proxy, so a new proxy that finds the same port taken says nothing new.
    pub(super) fn read_proxy_listeners(&mut self) {
        if self.proxy.pid.is_none() {
            return;
        }
        let path = self.layout.proxy_listeners();
        let key = podfs::file_key(&path);
        if key.is_none() || key == self.proxy.listeners_key {
            return;
        }
        let Some(now) = Listeners::read(&path) else {
            return;
        };
        self.proxy.listeners_key = key;
        for b in &now.busy {
            if self.proxy.busy.insert(b.listen.clone()) {
                self.emit(
                    "proxy",
                    Reason::ListenerBusy,
                    &format!(
                        "{}; the other listeners are served, this one is retried",
                        b.describe()
                    ),
                );
            }
        }
        for addr in &now.listening {
            if self.proxy.busy.remove(addr) {
                self.emit(
                    "proxy",
                    Reason::ListenerBound,
                    &format!("listening on {addr}"),
                );
            }
        }
        // a certificate problem is reported once, until it is gone
        let notes: BTreeSet<(String, String)> = now
            .certs
            .iter()
            .map(|c| (c.name.clone(), c.problem.clone()))
            .collect();
        for c in &now.certs {
            if !self
                .proxy
                .certs
                .contains(&(c.name.clone(), c.problem.clone()))
            {
                let reason = match c.expired {
                    true => Reason::CertExpired,
                    false => Reason::CertRefused,
                };
                let whose = match c.name.as_str() {
                    "ca" => "the local CA".to_string(),
                    name => format!("entrance {name}"),
                };
                self.emit("proxy", reason, &format!("{whose}: {}", c.problem));
            }
        }
        self.proxy.certs = notes;
        // an address no longer in the config is forgotten without an event
        self.proxy
            .busy
            .retain(|a| now.busy.iter().any(|b| &b.listen == a));
    }

    /// Removes the files that speak for a running proxy (its pid, its applied-config
    /// marker and its listeners) once it is gone: a stale one must never claim service.
    pub(super) fn forget_proxy_files(&self) {
        let _ = std::fs::remove_file(self.layout.proxy_pid());
        let _ = std::fs::remove_file(self.layout.proxy_applied());
        let _ = std::fs::remove_file(self.layout.proxy_listeners());
    }
}

/// The last non-empty line written to `log` from byte `from` on (at most its last
/// [`LAST_LINE_BYTES`]), if any.
fn last_line(log: &Path, from: u64) -> Option<String> {
    let mut f = std::fs::File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    let start = from.max(len.saturating_sub(LAST_LINE_BYTES));
    f.seek(std::io::SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::new();
    f.take(len - start).read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_the_last_one_written_since_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("proxy.log");
        let earlier = "lcc-proxy: an earlier run's last words\n";
        // (what the run wrote after `earlier`) -> its last line
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            ("\n\n", None),
            ("one\n", Some("one")),
            ("one\ntwo", Some("two")),
            (
                "INFO serving\nlcc-proxy: proxy.conf: bad\n\n  \n",
                Some("lcc-proxy: proxy.conf: bad"),
            ),
        ];
        for (run, want) in cases {
            std::fs::write(&log, format!("{earlier}{run}")).unwrap();
            let got = last_line(&log, earlier.len() as u64);
            assert_eq!(got.as_deref(), *want, "{run:?}");
        }
        let long = format!("{}\n", "x".repeat(10_000));
        std::fs::write(&log, format!("{earlier}{long}")).unwrap();
        let got = last_line(&log, 0).unwrap();
        assert_eq!(got.len() as u64, LAST_LINE_BYTES - 1, "bounded");
        assert_eq!(last_line(&dir.path().join("absent.log"), 0), None);
    }
}
