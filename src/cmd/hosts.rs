//! `lcc plan`: the hosts of a multi-host cluster and which one runs each instance.

use super::manifest::report;
use lcc_compiler::placement::Placed;
use lcc_compiler::Plan;
use std::path::Path;
use std::process::ExitCode;

/// `lcc plan [DIR]`: one line per instance (a group's replicas each) with its host.
pub fn plan(dir: &Path) -> anyhow::Result<ExitCode> {
    let plan = match lcc_compiler::load_cluster(dir) {
        Ok(plan) => plan,
        Err(diags) => return Ok(report(&diags, "")),
    };
    print!("{}", placement_table(&plan));
    Ok(ExitCode::SUCCESS)
}

/// The table `lcc plan` prints (also `lcc sync --dry-run`'s first part).
pub fn placement_table(plan: &Plan) -> String {
    if plan.hosts.is_empty() {
        return "no Host documents: every instance runs on this machine\n".to_string();
    }
    let mut rows = vec![[
        "INSTANCE".to_string(),
        "HOST".to_string(),
        "REGION".to_string(),
        "ADDRESS".to_string(),
    ]];
    for (name, host) in instance_hosts(plan) {
        let spec = plan.hosts.iter().find(|h| h.name == host);
        let region = spec.and_then(|h| h.region.clone()).unwrap_or("-".into());
        let address = spec.map(|h| h.address.clone()).unwrap_or_default();
        rows.push([name, host, region, address]);
    }
    let mut out = columns(&rows);
    let idle: Vec<&str> = plan
        .hosts
        .iter()
        .filter(|h| !plan.placements.iter().any(|p| runs_on(plan, p, &h.name)))
        .map(|h| h.name.as_str())
        .collect();
    if !idle.is_empty() {
        out.push_str(&format!("no instances: {}\n", idle.join(", ")));
    }
    out
}

/// Every instance (group replicas by the manifest's count) and its host.
fn instance_hosts(plan: &Plan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for placed in &plan.placements {
        if placed.group {
            let replicas = plan
                .groups
                .iter()
                .find(|g| g.name == placed.name)
                .map_or(0, |g| g.replicas);
            for n in 1..=replicas {
                let name = format!("{}-{n}", placed.name);
                out.push((name, placed.replica_host(n).to_string()));
            }
        } else {
            out.push((placed.name.clone(), placed.replica_host(1).to_string()));
        }
    }
    out
}

/// Whether some instance of `placed` runs on `host`.
fn runs_on(plan: &Plan, placed: &Placed, host: &str) -> bool {
    if !placed.group {
        return placed.replica_host(1) == host;
    }
    let replicas = plan
        .groups
        .iter()
        .find(|g| g.name == placed.name)
        .map_or(0, |g| g.replicas);
    (1..=replicas).any(|n| placed.replica_host(n) == host)
}

/// Rows as left-aligned columns two spaces apart.
fn columns(rows: &[[String; 4]]) -> String {
    let mut widths = [0; 4];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
