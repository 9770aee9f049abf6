//! The cluster commands: `up`, `down`, `ps`, `logs`, `start`/`stop`/`restart`,
//! `scale`, `delete`, `storage`, `events`, `completions`, and the hidden `daemon`.

use crate::cli::{ApiCommand, Command, Format, LoadArgs, StorageCommand, UpArgs};
use anyhow::{bail, Context};
use lcc_core::events;
use lcc_core::layout::Layout;
use lcc_core::pod_state::PodState;
use lcc_core::protected::Protected;
use lcc_core::status::{self, InstanceStatus, Phase};
use lcc_supervisor::up_wait::{keeps_from_ready, Outcome, Seen, UpWait};
use lcc_supervisor::{control, daemon, lock, storage};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Runs a cluster command against the cluster in `dir`.
pub fn run(dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up(args) => up(args.dir.as_deref().unwrap_or(dir), &args),
        Command::Down { dir: d } => down(d.as_deref().unwrap_or(dir)),
        Command::Daemon { dir, load } => run_daemon(&dir, &load),
        Command::Ps { output } => ps(dir, output),
        Command::Logs { .. }
        | Command::Events { .. }
        | Command::Start { .. }
        | Command::Stop { .. }
        | Command::Restart { .. }
        | Command::Scale { .. }
        | Command::Delete { .. }
        | Command::Storage(_)
        | Command::Api(_)
            if !is_cluster(dir) =>
        {
            bail!(no_cluster(dir))
        }
        Command::Logs {
            instance,
            follow,
            lines,
            stderr,
        } => logs(dir, &instance, follow, lines, stderr),
        Command::Start { name } => set_state(dir, &name, PodState::Running, "start"),
        Command::Stop { name } => set_state(dir, &name, PodState::Stopped, "stop"),
        Command::Restart { name } => restart(dir, &name),
        Command::Scale { group, replicas } => scale(dir, &group, replicas),
        Command::Delete { instance } => delete(dir, &instance),
        Command::Storage(sub) => storage(dir, sub),
        Command::Events { follow, output } => events_cmd(dir, follow, output),
        Command::Api(ApiCommand::Token { rotate }) => api_token(dir, rotate),
        other => bail!("{other:?}: not a cluster command"),
    }
}

/// Whether `dir` holds a cluster: manifests, or the state of one (`.lcc/`, which
/// outlives manifests moved away, so its instances can still be listed and stopped).
fn is_cluster(dir: &Path) -> bool {
    let manifests = lcc_compiler::manifest_files(dir).is_ok_and(|f| !f.is_empty());
    manifests || Layout::new(dir).state.exists()
}

/// The error of a cluster command run outside a cluster, naming the directory in full
/// (`-C DIR` made it the current one, so `dir` is `.`).
fn no_cluster(dir: &Path) -> String {
    let shown = std::path::absolute(dir)
        .ok()
        .map(|p| p.components().collect::<std::path::PathBuf>())
        .unwrap_or_else(|| dir.to_path_buf());
    format!("no cluster in {} (no *.yaml)", shown.display())
}

/// `lcc ls`: the running clusters of this user's registry.
pub fn ls(output: Format) -> anyhow::Result<ExitCode> {
    let clusters = lcc_core::registry::dir()
        .map(|r| control::clusters(&r))
        .unwrap_or_default();
    if output == Format::Json {
        let list: Vec<serde_json::Value> = clusters
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.entry.name,
                    "dir": c.entry.dir,
                    "socket": c.entry.socket,
                    "daemonPid": c.entry.pid,
                    "state": "running",
                    "ready": c.ready,
                    "total": c.total,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "clusters": list }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let name_w = clusters
        .iter()
        .map(|c| c.entry.name.len())
        .max()
        .unwrap_or(0)
        .max(7);
    println!("{:<name_w$}  {:<8} {:<7} DIR", "CLUSTER", "STATE", "READY");
    for c in &clusters {
        println!(
            "{:<name_w$}  {:<8} {:<7} {}",
            c.entry.name,
            "running",
            format!("{}/{}", c.ready, c.total),
            c.entry.dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `lcc completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "lcc", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

// ----- up / down / daemon -----

fn up(dir: &Path, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    // Checked before anything is created: a directory without manifests is not a cluster.
    if lcc_compiler::manifest_files(&layout.root).is_ok_and(|f| f.is_empty()) {
        eprintln!("lcc: no manifest (*.yaml) in {}", layout.root.display());
        return Ok(ExitCode::from(1));
    }
    // First: even the lock check below creates `.lcc/daemon.lock`.
    layout.check_state_dir()?;
    let plan = match lcc_compiler::load_cluster_with(&layout.root, &args.load.options()) {
        Ok(plan) => plan,
        Err(diag) => {
            eprintln!("{diag}");
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(why) = lcc_supervisor::daemon::not_a_host(&layout.root, &plan) {
        eprintln!("lcc: {why}");
        return Ok(ExitCode::from(1));
    }
    if lock::held_by_live_daemon(&layout, Duration::from_secs(3)) {
        let pid = lock::holder_pid(&layout).map_or("?".to_string(), |p| p.to_string());
        bail!(
            "cluster {} is already up: daemon pid {pid}",
            layout.root.display()
        );
    }
    if !args.force {
        let taken = taken_listeners(&layout, &args.load, &plan)?;
        if !taken.is_empty() {
            eprintln!("{}", lcc_compiler::Diagnostics::new(taken.clone()));
            let n = taken.len();
            eprintln!(
                "\nlcc: nothing started: {n} listen address{} of the cluster {} taken by another program; free {} or start anyway with `lcc up --force` (the proxy serves the rest and takes {} once free)",
                if n == 1 { "" } else { "es" },
                if n == 1 { "is" } else { "are" },
                if n == 1 { "it" } else { "them" },
                if n == 1 { "it" } else { "each" },
            );
            return Ok(ExitCode::from(1));
        }
    }
    if args.detach {
        let timeout = args
            .wait_timeout
            .unwrap_or_else(|| env_secs("LCC_WAIT_TIMEOUT", 60));
        let wait = args.wait.then_some(Wait {
            timeout,
            force: args.force,
        });
        return up_detached(&layout, &plan, wait, &args.load);
    }
    up_foreground(&layout, &plan, &args.load)
}

/// How `lcc up -d --wait` waits.
#[derive(Debug, Clone, Copy)]
struct Wait {
    /// At most this long.
    timeout: Duration,
    /// `--force`: a listen address taken does not fail the wait (it is served later).
    force: bool,
}

/// Every fixed listen address of the cluster that another program holds, as a
/// diagnostic at its place in the manifests.
fn taken_listeners(
    layout: &Layout,
    load: &LoadArgs,
    plan: &lcc_compiler::Plan,
) -> anyhow::Result<Vec<lcc_compiler::Diagnostic>> {
    let listeners = lcc_compiler::fixed_listeners(&layout.root, &load.options(), plan)
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let mut out = Vec::new();
    for l in listeners {
        let Some(way) = lcc_supervisor::listen_check::in_the_way(layout, &l.listen) else {
            continue;
        };
        let who = way.holder.map_or(
            "another program (not visible to this user)".to_string(),
            |h| h.to_string(),
        );
        let mut d = l.place;
        d.message = format!("{} is taken by {who}", l.listen);
        out.push(d);
    }
    Ok(out)
}

fn up_foreground(
    layout: &Layout,
    plan: &lcc_compiler::Plan,
    load: &LoadArgs,
) -> anyhow::Result<ExitCode> {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let printer = {
        let (layout, plan, done) = (layout.clone(), plan.clone(), done.clone());
        std::thread::spawn(move || follow_up(&layout, &plan, &done))
    };
    let options = daemon::Options {
        load: load.options(),
        watch: load.watch,
        ..daemon::Options::from_env()
    };
    let result = daemon::run(layout, options, daemon::termination());
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = printer.join();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Prints events as they come, and the URLs once every instance is ready: every one with
/// a status file settled, and every explicit Instance whose pod an event said could not
/// be made (it then has no status file to wait on) has one by then.
fn follow_up(layout: &Layout, plan: &lcc_compiler::Plan, done: &std::sync::atomic::AtomicBool) {
    let mut tail = events::Tail::at_end(&layout.events());
    let mut announced = false;
    let mut held_back = std::collections::BTreeSet::new();
    let colour = colour_on();
    loop {
        let finished = done.load(std::sync::atomic::Ordering::SeqCst);
        for (_, ev) in tail.read(&layout.events()) {
            println!("{}", format_event(&ev, colour));
            // a Failed instance has a status file, which holds the announcement itself
            let name = ev.object.strip_prefix("instance/");
            if let Some(name) = name.filter(|_| ev.reason != events::Reason::Failed) {
                if keeps_from_ready(ev.reason, is_explicit(plan, name)) {
                    held_back.insert(name.to_string());
                }
            }
        }
        if !announced && layout.daemon_up().exists() {
            let sts = status::read_all(layout);
            let all_there = held_back
                .iter()
                .all(|name| sts.iter().any(|s| &s.instance == name));
            if all_there && !sts.is_empty() && sts.iter().all(InstanceStatus::settled) {
                announced = true;
                print_urls(plan);
            }
        }
        if finished {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn print_urls(plan: &lcc_compiler::Plan) {
    println!("all instances ready");
    for e in &plan.entrances {
        println!(
            "entrance {}: {}",
            e.name,
            e.url(&plan.http, plan.https.as_ref())
        );
    }
    for g in &plan.gateways {
        let scheme = if g.protocol == lcc_compiler::podspec::Protocol::Http {
            "http"
        } else {
            "tcp"
        };
        println!("gateway {}: {scheme}://{}:{}", g.name, g.address, g.port);
    }
    let _ = std::io::stdout().flush();
}

fn up_detached(
    layout: &Layout,
    plan: &lcc_compiler::Plan,
    wait: Option<Wait>,
    load: &LoadArgs,
) -> anyhow::Result<ExitCode> {
    lcc_core::layout::make_private_dir(&layout.state)?;
    let _ = std::fs::remove_file(layout.daemon_up());
    // the events of this run only: an instance that gives up ends the wait at once
    let mut tail = events::Tail::at_end(&layout.events());
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.daemon_log())?;
    let exe = std::env::current_exe().context("cannot find the lcc executable")?;
    let mut child = std::process::Command::new(exe)
        .arg("daemon")
        .arg(&layout.root)
        .args(load.to_args())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start the daemon")?;
    let pid = child.id().to_string();
    let deadline = Instant::now() + env_secs("LCC_UP_TIMEOUT", 60);
    loop {
        if std::fs::read_to_string(layout.daemon_up()).is_ok_and(|t| t.trim() == pid) {
            break;
        }
        if let Ok(Some(st)) = child.try_wait() {
            bail!(
                "the daemon exited ({st}); see {}:\n{}",
                layout.daemon_log().display(),
                log_tail(layout)
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "the daemon did not come up in time; see {}",
                layout.daemon_log().display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let names: Vec<String> = status::read_all(layout)
        .into_iter()
        .map(|s| s.instance)
        .collect();
    let started = |s: Option<&InstanceStatus>| {
        s.is_none_or(|s| {
            s.desired != PodState::Running || !matches!(s.phase, Phase::Pending | Phase::Starting)
        })
    };
    control::wait_for(layout, &names, deadline, started);
    println!("cluster {} is up: daemon pid {pid}", plan.name);
    let Some(wait) = wait else {
        return Ok(ExitCode::SUCCESS);
    };
    let deadline = Instant::now() + wait.timeout;
    let mut up_wait = UpWait::new(wait.force);
    loop {
        let failed = tail
            .read(&layout.events())
            .into_iter()
            .filter_map(|(_, ev)| {
                let name = ev.object.strip_prefix("instance/")?.to_string();
                keeps_from_ready(ev.reason, is_explicit(plan, &name))
                    .then(|| (name, format!("{}: {}", ev.reason, ev.message)))
            })
            .collect();
        let busy = lcc_core::proxy_listeners::Listeners::read(&layout.proxy_listeners())
            .map(|l| l.busy)
            .unwrap_or_default();
        // with --force, the ready cluster still says what it is without
        let unserved: Vec<String> = busy.iter().map(|b| b.describe()).collect();
        let statuses = status::read_all(layout);
        let now = Instant::now();
        let seen = Seen {
            statuses: &statuses,
            failed,
            busy,
            now,
            timed_out: now >= deadline,
        };
        // Ready also means reachable: the gateways must serve the ready instances, so
        // the proxy must have applied the proxy.conf written for them (the daemon writes
        // it before the statuses that made them ready).
        match up_wait.look(seen, || proxy_current(layout, plan)) {
            Outcome::Waiting => std::thread::sleep(Duration::from_millis(50)),
            Outcome::Ready => {
                print_urls(plan);
                for b in unserved {
                    eprintln!("lcc: warning: listener {b}; the proxy takes it once free");
                }
                return Ok(ExitCode::SUCCESS);
            }
            Outcome::NotReady {
                in_time,
                lines,
                proxy_behind,
            } => {
                eprintln!("lcc: not ready{}:", if in_time { "" } else { " in time" });
                for line in lines {
                    eprintln!("  {line}");
                }
                if proxy_behind {
                    let log = layout.proxy_log();
                    eprintln!(
                        "  proxy: not serving the last proxy.conf (see {})",
                        log.display()
                    );
                }
                return Ok(ExitCode::from(1));
            }
        }
    }
}

/// Whether `instance` is one of the plan's explicit Instances (not a group's member).
fn is_explicit(plan: &lcc_compiler::Plan, instance: &str) -> bool {
    plan.instances.iter().any(|i| i.spec.instance == instance)
}

/// Whether the proxy serves the `proxy.conf` the daemon wrote last: its marker holds that
/// file's digest (a cluster without gateways runs no proxy, so it always does).
fn proxy_current(layout: &Layout, plan: &lcc_compiler::Plan) -> bool {
    if !lcc_supervisor::proxyconf::needed(plan) {
        return true;
    }
    let Ok(conf) = std::fs::read(layout.proxy_conf()) else {
        return false;
    };
    std::fs::read_to_string(layout.proxy_applied())
        .is_ok_and(|marker| marker == lcc_core::proxy_config::digest(&conf))
}

fn log_tail(layout: &Layout) -> String {
    let text = std::fs::read_to_string(layout.daemon_log()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn run_daemon(dir: &Path, load: &LoadArgs) -> anyhow::Result<ExitCode> {
    // Its own session: the terminal that ran `lcc up -d` can close without killing it.
    daemon::new_session();
    let options = daemon::Options {
        load: load.options(),
        watch: load.watch,
        ..daemon::Options::from_env()
    };
    daemon::run(&Layout::new(dir), options, daemon::termination())?;
    Ok(ExitCode::SUCCESS)
}

fn down(dir: &Path) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    // A `.lcc` leading elsewhere is not this cluster's state: nothing there is stopped.
    layout.check_state_dir()?;
    let had = control::down(&layout, env_secs("LCC_DOWN_TIMEOUT", 120))?;
    if had {
        println!("cluster {} is down", layout.root.display());
    } else {
        println!(
            "no daemon was running for {}; pods stopped",
            layout.root.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ----- ps / logs / events -----

pub(super) fn colour_on() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The STATE column: the phase, and what a Waiting instance waits on
/// (`Waiting (on db: ready)`).
fn state_text(s: &InstanceStatus) -> String {
    if s.phase == Phase::Waiting && !s.waiting_on.is_empty() {
        format!("Waiting (on {})", s.waiting_on.join(", "))
    } else {
        s.phase.as_str().to_string()
    }
}

fn ps(dir: &Path, output: Format) -> anyhow::Result<ExitCode> {
    if !is_cluster(dir) {
        bail!(no_cluster(dir));
    }
    if let Some(plan) = super::across::plan_with_hosts(dir) {
        return super::across::ps(dir, &plan, output);
    }
    let layout = Layout::new(dir);
    let sts = status::read_all(&layout);
    let scale = control::scale_overrides(&layout);
    if output == Format::Json {
        let doc = serde_json::json!({ "instances": sts, "scale": scale, "daemon": lock::is_held(&layout).then(|| lock::holder_pid(&layout)).flatten() });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    let colour = colour_on();
    let now = events::now_secs();
    let rows: Vec<[String; 8]> = sts
        .iter()
        .map(|s| {
            let ports: Vec<String> = s.ports.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let age = s
                .started
                .filter(|_| s.pid.is_some() || s.phase == Phase::Running)
                .map_or("-".into(), |t| human(now - t));
            [
                s.instance.clone(),
                s.app.clone(),
                s.group.clone().unwrap_or_else(|| "-".into()),
                state_text(s),
                if s.ready { "yes".into() } else { "no".into() },
                s.restarts.to_string(),
                if ports.is_empty() {
                    "-".into()
                } else {
                    ports.join(",")
                },
                age,
            ]
        })
        .collect();
    let head = [
        "INSTANCE", "APP", "GROUP", "STATE", "READY", "RESTARTS", "PORTS", "AGE",
    ]
    .map(String::from);
    let mut widths = head.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |r: &[String; 8], paint: Option<Phase>| {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let padded = format!("{c:<w$}");
                match paint {
                    Some(phase) if i == 3 => paint_phase(phase, &padded),
                    _ => padded,
                }
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    println!("{}", line(&head, None));
    for (r, st) in rows.iter().zip(&sts) {
        println!("{}", line(r, colour.then_some(st.phase)));
    }
    for (g, n) in scale {
        println!("group {g}: scaled to {n} replicas (lcc scale)");
    }
    if !lock::is_held(&layout) && !sts.is_empty() {
        println!("(no daemon running: lcc up)");
    }
    Ok(ExitCode::SUCCESS)
}

fn paint_phase(phase: Phase, padded: &str) -> String {
    let code = match phase {
        Phase::Running => "32",
        Phase::Failed => "31",
        Phase::BackOff | Phase::Starting | Phase::Stopping | Phase::Pending | Phase::Waiting => {
            "33"
        }
        _ => return padded.to_string(),
    };
    format!("\x1b[{code}m{padded}\x1b[0m")
}

pub(super) fn human(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn logs(
    dir: &Path,
    instance: &str,
    follow: bool,
    lines: Option<usize>,
    stderr: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(plan) = super::across::plan_with_hosts(dir) {
        return super::across::logs(dir, &plan, instance, follow, lines, stderr);
    }
    let layout = Layout::new(dir);
    let pod = control::instance(&layout, instance)?;
    let mut cmd = std::process::Command::new(pod.join("pod"));
    cmd.arg("logs");
    if follow {
        cmd.arg("-f");
    }
    if let Some(n) = lines {
        cmd.arg("-n").arg(n.to_string());
    }
    if stderr {
        cmd.arg("--stderr");
    }
    let st = cmd.status().context("cannot run the pod")?;
    Ok(ExitCode::from(st.code().unwrap_or(1).clamp(0, 255) as u8))
}

pub(super) fn format_event(ev: &events::Event, colour: bool) -> String {
    let secs = ev.time as u64;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let ms = ((ev.time - ev.time.floor()) * 1000.0) as u64;
    let word = format!("{:<14}", ev.reason.to_string());
    let reason = match colour {
        true if ev.reason.is_failure() => format!("\x1b[31m{word}\x1b[0m"),
        true if ev.reason.is_progress() => format!("\x1b[32m{word}\x1b[0m"),
        true => format!("\x1b[33m{word}\x1b[0m"),
        false => word,
    };
    format!(
        "{h:02}:{m:02}:{s:02}.{ms:03}  {:<24} {reason} {}",
        ev.object, ev.message
    )
}

fn events_cmd(dir: &Path, follow: bool, output: Format) -> anyhow::Result<ExitCode> {
    if let Some(plan) = super::across::plan_with_hosts(dir) {
        return super::across::events(dir, &plan, follow, output);
    }
    let layout = Layout::new(dir);
    let colour = colour_on();
    let mut tail = events::Tail::start();
    loop {
        for (_, ev) in tail.read(&layout.events()) {
            match output {
                Format::Json => println!("{}", serde_json::to_string(&ev)?),
                Format::Table => println!("{}", format_event(&ev, colour)),
            }
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `lcc api token [--rotate]`.
fn api_token(dir: &Path, rotate: bool) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    layout.check_state_dir()?;
    lcc_core::layout::make_private_dir(&layout.state)
        .with_context(|| format!("cannot create {}", layout.state.display()))?;
    let token = if rotate {
        lcc_supervisor::api::token::rotate(&layout)
    } else {
        lcc_supervisor::api::token::ensure(&layout)
    }
    .with_context(|| format!("{}", layout.api_token().display()))?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

// ----- desired state -----

fn no_daemon_note(layout: &Layout) {
    if !lock::is_held(layout) {
        eprintln!(
            "lcc: note: no daemon runs for {}; it takes effect at the next `lcc up`",
            layout.root.display()
        );
    }
}

fn set_state(dir: &Path, name: &str, state: PodState, verb: &str) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    for i in control::set_state(&layout, name, state)? {
        println!("{verb} {i}");
    }
    no_daemon_note(&layout);
    Ok(ExitCode::SUCCESS)
}

fn restart(dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    let deadline = Instant::now() + env_secs("LCC_DOWN_TIMEOUT", 120);
    let (insts, in_time) = control::restart(&layout, name, deadline)?;
    if !in_time {
        eprintln!("lcc: some instances did not stop in time; starting them anyway");
    }
    for i in &insts {
        println!("restart {i}");
    }
    no_daemon_note(&layout);
    Ok(ExitCode::SUCCESS)
}

fn scale(dir: &Path, group: &str, replicas: u32) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    let plan = lcc_compiler::load_cluster(&layout.root).map_err(|d| anyhow::anyhow!("{d}"))?;
    control::scale_group(&layout, &plan, group, replicas)?;
    println!("group {group} scaled to {replicas}");
    no_daemon_note(&layout);
    Ok(ExitCode::SUCCESS)
}

fn delete(dir: &Path, instance: &str) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    control::delete(&layout, instance)?;
    println!("delete {instance}");
    no_daemon_note(&layout);
    Ok(ExitCode::SUCCESS)
}

fn storage(dir: &Path, sub: StorageCommand) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    let plan = lcc_compiler::load_cluster(&layout.root).ok();
    match sub {
        StorageCommand::Ls => {
            println!("{:<20} {:<8} {:<24} DIR", "STORAGE", "DECLARED", "BOUND BY");
            for s in storage::list(&layout, plan.as_ref()) {
                let by = if s.bound_by.is_empty() {
                    "-".to_string()
                } else {
                    s.bound_by.join(",")
                };
                let outside = if s.outside {
                    "  (outside the cluster directory)"
                } else {
                    ""
                };
                println!(
                    "{:<20} {:<8} {:<24} {}{outside}",
                    s.name,
                    if s.declared { "yes" } else { "no" },
                    by,
                    s.dir.display()
                );
            }
        }
        StorageCommand::Rm { name, yes, force } => {
            let manifests = lcc_compiler::manifest_files(&layout.root).unwrap_or_default();
            let protected = Protected::system().with_cluster(&layout.root, &manifests);
            let doomed = storage::prepare_rm(&layout, plan.as_ref(), &protected, &name, force)?;
            let Some(usage) = doomed.usage else {
                doomed.delete()?;
                println!(
                    "storage {name}: nothing to delete ({} does not exist)",
                    doomed.dir.display()
                );
                return Ok(ExitCode::SUCCESS);
            };
            if !yes && std::io::stdin().is_terminal() && !confirm(&doomed.dir, usage)? {
                println!("storage {name}: kept");
                return Ok(ExitCode::from(1));
            }
            doomed.delete()?;
            println!("storage {name}: deleted {} ({usage})", doomed.dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal before deleting; only `y` or `yes` deletes.
fn confirm(dir: &Path, usage: storage::Usage) -> anyhow::Result<bool> {
    print!("delete {} ({usage})? [y/N] ", dir.display());
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}
