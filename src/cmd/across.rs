//! `lcc ps`, `lcc events` and `lcc logs` in the operator's checkout of a cluster with
//! Hosts: every host's daemon asked through its peers listener (docs/hosts.md, "One
//! view"). A host that does not answer is one line on stderr with the reason, the
//! others are shown, and the exit code is 1.

use crate::cli::Format;
use anyhow::{bail, Context};
use lcc_compiler::Plan;
use lcc_core::events::{self, Event};
use lcc_core::layout::Layout;
use lcc_supervisor::hosts_view::{self, EventView, Events, HostAnswer, Instances};
use lcc_supervisor::peer_client::{PeerClient, PeerError};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Events asked of each host at first: its last ones.
const EVENTS_BACK: u64 = 1000;

/// The plan of `dir` when it is the operator's checkout of a cluster with Hosts (the
/// one view applies), else `None`: a host's own directory shows that host, from its
/// files, and so does a directory whose manifests do not load.
pub fn plan_with_hosts(dir: &Path) -> Option<Plan> {
    lcc_compiler::load_cluster(dir)
        .ok()
        .filter(|p| p.has_hosts() && p.this_host.is_none())
}

fn token(dir: &Path) -> anyhow::Result<String> {
    lcc_supervisor::peer_token::read(&Layout::new(dir))
        .context("the hosts are asked with the cluster's peer token, which `lcc sync` writes")
}

/// One line per host that did not answer; whether there was any.
fn report<T>(answers: &[HostAnswer<T>]) -> bool {
    let mut any = false;
    for a in answers {
        if let Err(e) = &a.result {
            eprintln!("lcc: host {} ({}) does not answer: {e}", a.host, a.address);
            any = true;
        }
    }
    any
}

fn exit(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `lcc ps` across hosts: a HOST column first.
pub fn ps(dir: &Path, plan: &Plan, output: Format) -> anyhow::Result<ExitCode> {
    let token = token(dir)?;
    let targets = hosts_view::targets(plan);
    let answers: Vec<HostAnswer<Instances>> =
        hosts_view::ask(&targets, &token, |_| "/api/v1/instances".into());
    if output == Format::Json {
        let mut instances = Vec::new();
        let mut hosts = Vec::new();
        for a in &answers {
            if let Ok(list) = &a.result {
                for i in &list.instances {
                    let mut obj = i.rest.clone();
                    obj.insert("name".into(), i.name.clone().into());
                    obj.insert("host".into(), a.host.clone().into());
                    instances.push(serde_json::Value::Object(obj));
                }
            }
            hosts.push(serde_json::json!({
                "name": a.host,
                "address": a.address,
                "error": a.result.as_ref().err().map(ToString::to_string),
            }));
        }
        let doc = serde_json::json!({ "instances": instances, "hosts": hosts });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(exit(answers.iter().any(|a| a.result.is_err())));
    }
    let now = events::now_secs() as u64;
    let mut rows: Vec<[String; 9]> = Vec::new();
    for a in &answers {
        let Ok(list) = &a.result else { continue };
        for i in &list.instances {
            let ports: Vec<String> = i.ports.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let age = i
                .started
                .as_deref()
                .and_then(hosts_view::secs)
                .filter(|_| i.state == "Running")
                .map_or("-".into(), |t| {
                    super::cluster::human(now.saturating_sub(t) as f64)
                });
            let state = if i.state == "Waiting" && !i.waiting_on.is_empty() {
                format!("Waiting (on {})", i.waiting_on.join(", "))
            } else {
                i.state.clone()
            };
            rows.push([
                a.host.clone(),
                i.name.clone(),
                i.app.clone(),
                i.group.clone().unwrap_or_else(|| "-".into()),
                state,
                if i.ready { "yes" } else { "no" }.into(),
                i.restarts.to_string(),
                if ports.is_empty() {
                    "-".into()
                } else {
                    ports.join(",")
                },
                age,
            ]);
        }
    }
    let head = [
        "HOST", "INSTANCE", "APP", "GROUP", "STATE", "READY", "RESTARTS", "PORTS", "AGE",
    ]
    .map(String::from);
    print_table(&head, &rows);
    Ok(exit(report(&answers)))
}

fn print_table<const N: usize>(head: &[String; N], rows: &[[String; N]]) {
    let mut widths = head.clone().map(|h| h.len());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |r: &[String; N]| {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    println!("{}", line(head));
    for r in rows {
        println!("{}", line(r));
    }
}

/// `lcc events` across hosts: each host's last events, merged by time, a HOST column
/// first; with `follow`, what each host appends next.
pub fn events(dir: &Path, plan: &Plan, follow: bool, output: Format) -> anyhow::Result<ExitCode> {
    let token = token(dir)?;
    let targets = hosts_view::targets(plan);
    let width = targets.iter().map(|(h, _)| h.len()).max().unwrap_or(4);
    let colour = super::cluster::colour_on();
    // where each host is: the id of the last event shown
    let lasts: Vec<HostAnswer<hosts_view::EventsEnd>> =
        hosts_view::ask(&targets, &token, |_| "/api/v1/events?limit=0".into());
    let mut failed = report(&lasts);
    let mut since: BTreeMap<String, u64> = lasts
        .iter()
        .filter_map(|a| {
            let last = a.result.as_ref().ok()?.last_id;
            Some((a.host.clone(), last.saturating_sub(EVENTS_BACK)))
        })
        .collect();
    let mut down: BTreeMap<String, bool> = lasts
        .iter()
        .map(|a| (a.host.clone(), a.result.is_err()))
        .collect();
    loop {
        let mut per_host = Vec::new();
        // each host asked from its own position; one down at the start is not asked
        let asked: Vec<(String, String)> = targets
            .iter()
            .filter(|(h, _)| since.contains_key(h))
            .cloned()
            .collect();
        let pages: Vec<HostAnswer<Events>> = hosts_view::ask(&asked, &token, |host| {
            let after = since.get(host).copied().unwrap_or(0);
            format!("/api/v1/events?since={after}&limit=10000")
        });
        for page in pages {
            let was_down = down.get(&page.host).copied().unwrap_or(false);
            match page.result {
                Ok(list) => {
                    if was_down {
                        eprintln!("lcc: host {} ({}) answers again", page.host, page.address);
                    }
                    down.insert(page.host.clone(), false);
                    if let Some(last) = list.events.last() {
                        since.insert(page.host.clone(), last.id);
                    }
                    per_host.push((page.host, list.events));
                }
                Err(e) => {
                    if !was_down {
                        eprintln!(
                            "lcc: host {} ({}) does not answer: {e}",
                            page.host, page.address
                        );
                    }
                    failed = true;
                    down.insert(page.host, true);
                }
            }
        }
        for (host, ev) in hosts_view::merge_events(per_host) {
            print_event(&host, width, ev, output, colour)?;
        }
        if !follow {
            return Ok(exit(failed));
        }
        let _ = std::io::stdout().flush();
        // a host down at the start is asked from its beginning once it answers
        for (host, _) in &targets {
            since.entry(host.clone()).or_insert(0);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn print_event(
    host: &str,
    width: usize,
    ev: EventView,
    output: Format,
    colour: bool,
) -> anyhow::Result<()> {
    let event = Event {
        time: hosts_view::millis(&ev.time).unwrap_or(0) as f64 / 1000.0,
        object: ev.object,
        reason: ev.reason,
        message: ev.message,
    };
    match output {
        Format::Json => {
            let mut v = serde_json::to_value(&event)?;
            v["host"] = host.into();
            println!("{v}");
        }
        Format::Table => println!(
            "{host:<width$}  {}",
            super::cluster::format_event(&event, colour)
        ),
    }
    Ok(())
}

/// `lcc logs NAME` across hosts: from the host the plan places NAME on (every host
/// in turn for a name it does not place).
pub fn logs(
    dir: &Path,
    plan: &Plan,
    instance: &str,
    follow: bool,
    lines: Option<usize>,
    stderr: bool,
) -> anyhow::Result<ExitCode> {
    let token = token(dir)?;
    let targets = hosts_view::targets(plan);
    let candidates = hosts_view::hosts_for(plan, &targets, instance);
    let stream = if stderr { "stderr" } else { "stdout" };
    let mut path = format!(
        "/api/v1/instances/{instance}/logs?stream={stream}&tail={}",
        lines.unwrap_or(100)
    );
    if follow {
        path.push_str("&follow=1");
    }
    let mut why = Vec::new();
    for (host, address) in candidates {
        let mut out = std::io::stdout().lock();
        let got = if follow {
            PeerClient::stream(&token, hosts_view::DEADLINE, address, &path, &mut out)
        } else {
            PeerClient::new(&token, hosts_view::DEADLINE)
                .get_text(address, &path)
                .and_then(|text| {
                    out.write_all(text.as_bytes())
                        .map_err(|e| PeerError::Unreachable(e.to_string()))
                })
        };
        match got {
            Ok(()) => return Ok(ExitCode::SUCCESS),
            Err(e) => why.push(format!("host {host} ({address}): {e}")),
        }
    }
    if why.is_empty() {
        bail!("no host of the cluster runs {instance}");
    }
    bail!("cannot read the logs of {instance}: {}", why.join("; "))
}
