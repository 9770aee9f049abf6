//! What the API shows, built from the same sources as `lcc ps`: the status files the
//! daemon writes, the scale overrides, the plan, `proxy.conf`.

use super::Api;
use lcc_core::status::{InstanceStatus, Phase};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Unix seconds as RFC 3339 (UTC, whole seconds).
pub(crate) fn rfc3339(secs: f64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// One instance, with its Created and Ready conditions as Kubernetes shows them.
pub(crate) fn instance(st: &InstanceStatus) -> Value {
    let condition = |kind: &str| {
        let c = st.condition(kind);
        // The daemon records why as text ("ProbeFailed: connection refused"): the reason
        // is its first word, the message the whole.
        let why = c.map_or("", |c| c.reason.as_str());
        let reason: String = why
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        json!({
            "type": kind,
            "status": if c.is_some_and(|c| c.status) { "True" } else { "False" },
            "reason": if reason.is_empty() { "Unknown".to_string() } else { reason },
            "message": why,
            "lastTransitionTime": c.map(|c| rfc3339(c.time)),
        })
    };
    json!({
        "name": st.instance,
        "app": st.app,
        "group": st.group,
        "desired": st.desired.as_str(),
        "state": st.phase.as_str(),
        "ready": st.ready,
        "conditions": [condition("Created"), condition("Ready")],
        "restarts": st.restarts,
        "ports": st.ports,
        "pid": st.pid,
        "started": st.started.map(rfc3339),
        "lastExitCode": st.exit_code,
        "waitingOn": st.waiting_on,
        "nextRun": st.next_run.map(rfc3339),
    })
}

/// Every instance, as JSON text: each instance's view is kept rendered (`statuses`).
pub(crate) fn instances(api: &Api) -> String {
    let all = api.statuses.all(&api.layout);
    let mut text = String::with_capacity(all.iter().map(|s| s.json.len() + 1).sum::<usize>() + 16);
    text.push_str("{\"instances\":[");
    for (i, s) in all.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&s.json);
    }
    text.push_str("]}");
    text
}

/// The cluster and its numbers.
pub(crate) fn cluster(api: &Api) -> Value {
    let plan = api.plan();
    let sts = api.statuses.read_all(&api.layout);
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for st in &sts {
        *states.entry(st.phase.as_str()).or_default() += 1;
    }
    let ready = sts.iter().filter(|s| s.ready).count();
    let restarts: u64 = sts.iter().map(|s| u64::from(s.restarts)).sum();
    let mut listeners = vec![json!({"name": "api", "socket": api.layout.api_socket()})];
    if let Some(addr) = api.tcp {
        listeners.push(json!({"name": "api", "listen": addr.to_string()}));
    }
    if !plan.entrances.is_empty() {
        listeners.push(json!({"name": "entrances", "listen": plan.http}));
        if let Some(https) = &plan.https {
            listeners.push(json!({"name": "entrances-https", "listen": https.listen}));
        }
    }
    for g in &plan.gateways {
        listeners.push(json!({
            "name": format!("gateway/{}", g.name),
            "listen": format!("{}:{}", g.address, g.port),
        }));
    }
    json!({
        "name": plan.name,
        "dir": api.layout.root,
        "daemonPid": std::process::id(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSeconds": api.started.elapsed().as_secs(),
        "listeners": listeners,
        "instances": {
            "total": sts.len(),
            "ready": ready,
            "byState": states,
            "restarts": restarts,
        },
    })
}

/// Every group: replicas wanted (the manifest's, or the override) and how many are up.
pub(crate) fn groups(api: &Api) -> Value {
    let plan = api.plan();
    let overrides = crate::control::scale_overrides(&api.layout);
    let sts = api.statuses.read_all(&api.layout);
    let list: Vec<Value> = plan
        .groups
        .iter()
        .map(|g| {
            let members: Vec<&Arc<InstanceStatus>> = sts
                .iter()
                .filter(|s| s.group.as_deref() == Some(g.name.as_str()))
                .collect();
            json!({
                "name": g.name,
                "app": g.template.app,
                "replicas": overrides.get(&g.name).copied().unwrap_or(g.replicas),
                "manifestReplicas": g.replicas,
                "members": members.iter().map(|s| s.instance.as_str()).collect::<Vec<_>>(),
                "ready": members.iter().filter(|s| s.ready).count(),
                "running": members.iter().filter(|s| s.phase == Phase::Running).count(),
            })
        })
        .collect();
    json!({ "groups": list })
}

/// Every gateway, with its backends from the last `proxy.conf` and whether each is ready.
pub(crate) fn gateways(api: &Api) -> Value {
    let plan = api.plan();
    let sts = api.statuses.read_all(&api.layout);
    let list: Vec<Value> = plan
        .gateways
        .iter()
        .map(|g| {
            let backends: Vec<Value> = sts
                .iter()
                .filter(|s| s.group.as_deref() == Some(g.target.as_str()) || s.instance == g.target)
                .map(|s| {
                    json!({
                        "instance": s.instance,
                        "address": s.ports.get(&g.interface).map(|p| crate::proxyconf::backend(plan.this_address(), *p)),
                        "ready": s.ready,
                    })
                })
                .collect();
            json!({
                "name": g.name,
                "listen": format!("{}:{}", g.address, g.port),
                "protocol": g.protocol,
                "target": g.target,
                "interface": g.interface,
                "backends": backends,
            })
        })
        .collect();
    json!({ "gateways": list })
}

/// Every entrance with its URL.
pub(crate) fn entrances(api: &Api) -> Value {
    let plan = api.plan();
    let list: Vec<Value> = plan
        .entrances
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "gateway": e.gateway,
                "path": format!("/entrances/{}/", e.name),
                "host": e.host,
                "url": e.url(&plan.http, plan.https.as_ref()),
            })
        })
        .collect();
    json!({ "entrances": list })
}

/// Every storage, as `lcc storage ls` lists it.
pub(crate) fn storage(api: &Api) -> Value {
    let plan = api.plan();
    let list: Vec<Value> = crate::storage::list(&api.layout, Some(&plan))
        .into_iter()
        .map(|s| {
            json!({
                "name": s.name,
                "declared": s.declared,
                "dir": s.dir,
                "boundBy": s.bound_by,
                "outsideCluster": s.outside,
            })
        })
        .collect();
    json!({ "storage": list })
}
