//! What the CLI does to a cluster besides running the daemon: ask a daemon to stop (or
//! stop the pods directly when none runs), write desired states and scale overrides.
//! Storages are in [`crate::storage`].

use crate::lock;
use crate::podfs::{self, PodState};
use lcc_core::atomic::write_atomic;
use lcc_core::layout::Layout;
use lcc_core::status;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Errors of the control commands.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No instance of that name.
    #[error("no instance named {name} in {dir}")]
    NoInstance {
        /// The name asked for.
        name: String,
        /// The cluster directory.
        dir: String,
    },
    /// No instance or group of that name.
    #[error("no instance or group named {name} in {dir}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The cluster directory.
        dir: String,
    },
    /// No instance group of that name in the manifests.
    #[error("no instance group named {name} in {dir}")]
    NoGroup {
        /// The name asked for.
        name: String,
        /// The cluster directory.
        dir: String,
    },
    /// A file could not be written or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A pod file could not be written.
    #[error(transparent)]
    Pod(#[from] podfs::PodFileError),
    /// The daemon did not stop in time.
    #[error("daemon pid {pid} did not stop within {secs} s; killed it")]
    DaemonStuck {
        /// Its pid.
        pid: i32,
        /// How long we waited.
        secs: u64,
    },
}

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ControlError {
    let path = path.display().to_string();
    move |source| ControlError::Io { path, source }
}

/// The pod directory of instance `name`: only a pod lcc made (a user's folder with a
/// `pod` file in `.lcc/pods/` is never run nor written into).
pub fn instance(layout: &Layout, name: &str) -> Result<PathBuf, ControlError> {
    let pod = layout.pod(name);
    if podfs::is_lcc_pod(&pod) {
        return Ok(pod);
    }
    Err(ControlError::NoInstance {
        name: name.to_string(),
        dir: layout.root.display().to_string(),
    })
}

/// The instances a name designates: the instance itself, or every member of the group.
pub fn resolve(layout: &Layout, name: &str) -> Result<Vec<String>, ControlError> {
    if instance(layout, name).is_ok() {
        return Ok(vec![name.to_string()]);
    }
    let members: Vec<String> = status::read_all(layout)
        .into_iter()
        .filter(|s| s.group.as_deref() == Some(name))
        .map(|s| s.instance)
        .collect();
    if members.is_empty() {
        return Err(ControlError::Unknown {
            name: name.to_string(),
            dir: layout.root.display().to_string(),
        });
    }
    Ok(members)
}

/// Writes `pod.state` of every instance `name` designates; returns them.
pub fn set_state(
    layout: &Layout,
    name: &str,
    state: PodState,
) -> Result<Vec<String>, ControlError> {
    let insts = resolve(layout, name)?;
    for i in &insts {
        podfs::write_state(&layout.pod(i), state)?;
    }
    Ok(insts)
}

/// Waits until every instance in `names` reached `phase`-like state per `done`.
pub fn wait_for(
    layout: &Layout,
    names: &[String],
    deadline: Instant,
    done: impl Fn(Option<&status::InstanceStatus>) -> bool,
) -> bool {
    loop {
        if names.iter().all(|n| done(status::read(layout, n).as_ref())) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes instance `name` (`pod.state` says removed; the daemon stops and deletes it).
pub fn delete(layout: &Layout, name: &str) -> Result<(), ControlError> {
    let pod = instance(layout, name)?;
    podfs::write_state(&pod, PodState::Removed)?;
    Ok(())
}

/// Restarts every instance `name` designates: stopped, then (once the daemon has
/// stopped them, at most until `deadline`; at once without a daemon) wanted running
/// again. Returns them, and whether all stopped in time. Blocks while it waits.
pub fn restart(
    layout: &Layout,
    name: &str,
    deadline: Instant,
) -> Result<(Vec<String>, bool), ControlError> {
    let insts = set_state(layout, name, PodState::Stopped)?;
    let mut in_time = true;
    if lock::is_held(layout) {
        let stopped = |s: Option<&status::InstanceStatus>| {
            s.is_none_or(|s| s.pid.is_none() && s.phase == status::Phase::Stopped)
        };
        in_time = wait_for(layout, &insts, deadline, stopped);
    }
    for i in &insts {
        podfs::write_state(&layout.pod(i), PodState::Running)?;
    }
    Ok((insts, in_time))
}

/// Writes the replica override of `group`, which the plan must declare.
pub fn scale_group(
    layout: &Layout,
    plan: &lcc_compiler::Plan,
    group: &str,
    replicas: u32,
) -> Result<(), ControlError> {
    if !plan.groups.iter().any(|g| g.name == group) {
        return Err(ControlError::NoGroup {
            name: group.to_string(),
            dir: layout.root.display().to_string(),
        });
    }
    scale(layout, group, replicas)
}

/// Writes the replica override of `group`.
pub fn scale(layout: &Layout, group: &str, replicas: u32) -> Result<(), ControlError> {
    let path = layout.scale(group);
    write_atomic(&path, format!("{replicas}\n").as_bytes()).map_err(io(&path))
}

/// The replica overrides in `.lcc/scale/`.
pub fn scale_overrides(layout: &Layout) -> std::collections::BTreeMap<String, u32> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(layout.scale_dir()) else {
        return out;
    };
    for e in rd.flatten() {
        let (Ok(name), Some(n)) = (
            e.file_name().into_string(),
            std::fs::read_to_string(e.path())
                .ok()
                .and_then(|t| t.trim().parse().ok()),
        ) else {
            continue;
        };
        out.insert(name, n);
    }
    out
}

/// A cluster of the registry whose daemon runs, with its instances' numbers.
#[derive(Debug, Clone)]
pub struct Running {
    /// Its registry entry.
    pub entry: lcc_core::registry::Entry,
    /// Instances, and how many are ready.
    pub total: usize,
    /// Ready instances.
    pub ready: usize,
}

/// The entries of `registry` whose daemon still holds its lock; the entries of daemons
/// that are gone are removed on the way.
pub fn live_entries(registry: &std::path::Path) -> Vec<lcc_core::registry::Entry> {
    lcc_core::registry::entries(registry)
        .into_iter()
        .filter(|entry| {
            let layout = Layout::new(&entry.dir);
            // A daemon killed a moment ago may hold its lock still: waited out briefly.
            let live = lock::held_by_live_daemon(&layout, Duration::from_secs(2))
                && lock::holder_pid(&layout) == Some(entry.pid);
            if !live {
                lcc_core::registry::forget(registry, entry);
            }
            live
        })
        .collect()
}

/// Every cluster of `registry` whose daemon runs, with its instances' numbers.
pub fn clusters(registry: &std::path::Path) -> Vec<Running> {
    live_entries(registry)
        .into_iter()
        .map(|entry| {
            let sts = status::read_all(&Layout::new(&entry.dir));
            Running {
                total: sts.len(),
                ready: sts.iter().filter(|s| s.ready).count(),
                entry,
            }
        })
        .collect()
}

/// Stops the cluster: SIGTERM to its daemon and wait for it to let go of the lock; with
/// no daemon (or one that does not stop), stop every pod and the proxy directly.
pub fn down(layout: &Layout, wait: Duration) -> Result<bool, ControlError> {
    let had_daemon = lock::held_by_live_daemon(layout, Duration::from_secs(2));
    let mut stuck = None;
    if had_daemon {
        if let Some(pid) = lock::holder_pid(layout) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + wait;
            while lock::is_held(layout) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if lock::is_held(layout) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                stuck = Some(ControlError::DaemonStuck {
                    pid,
                    secs: wait.as_secs(),
                });
            }
        }
    }
    stop_pods_directly(layout);
    crate::daemon::kill_recorded(&layout.proxy_pid());
    match stuck {
        Some(e) => Err(e),
        None => Ok(had_daemon),
    }
}

/// `pod stop` on every pod that ever ran: dependants before what they depend on (as the
/// daemon stops them, when the manifests still load), each round in parallel. Not only
/// the pods whose leader lives: an app outlives a killed leader, and `pod stop` finds
/// it by its pod uid.
pub fn stop_pods_directly(layout: &Layout) {
    let Ok(rd) = std::fs::read_dir(layout.pods()) else {
        return;
    };
    let names: Vec<String> = rd
        .flatten()
        .filter(|e| podfs::is_lcc_pod(&e.path()) && e.path().join(".pod/started").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for round in direct_stop_rounds(layout, &names) {
        let handles: Vec<_> = round
            .into_iter()
            .map(|name| {
                let d = layout.pod(&name);
                std::thread::spawn(move || {
                    let _ = crate::daemon::run_pod_blocking(&d, &["stop"]);
                    if let Some(p) = podfs::read_pid(&d).filter(|p| p.alive()) {
                        let _ = nix::sys::signal::killpg(Pid::from_raw(p.pid), Signal::SIGKILL);
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

/// The rounds of [`stop_pods_directly`]: by the manifests' `dependsOn` (a group's
/// target stands for its replicas `<group>-<n>`); one round when they do not load.
fn direct_stop_rounds(layout: &Layout, names: &[String]) -> Vec<Vec<String>> {
    let Ok(plan) = lcc_compiler::load_cluster(&layout.root) else {
        return vec![names.to_vec()];
    };
    let groups: Vec<&str> = plan.groups.iter().map(|g| g.name.as_str()).collect();
    // An Instance's own name, or a group's replicas.
    let instances_of = |target: &str| -> Vec<String> {
        let group = groups.contains(&target);
        names
            .iter()
            .filter(|n| match group {
                true => crate::groups::ordinal(target, n).is_some(),
                false => *n == target,
            })
            .cloned()
            .collect()
    };
    let owners = plan
        .instances
        .iter()
        .map(|i| (i.spec.instance.as_str(), &i.depends_on))
        .chain(plan.groups.iter().map(|g| (g.name.as_str(), &g.depends_on)));
    let mut depends: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (owner, deps) in owners {
        let targets: Vec<String> = deps.iter().flat_map(|d| instances_of(&d.target)).collect();
        for name in instances_of(owner) {
            depends.insert(name, targets.clone());
        }
    }
    crate::dependencies::stop_rounds(names, &depends)
}
