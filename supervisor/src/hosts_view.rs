//! One view of a multi-host cluster (docs/hosts.md, "One view"): `lcc ps`, `lcc
//! events` and `lcc logs` ask every host's daemon through its peers listener, in
//! parallel, with the cluster's peer token and a deadline. A host that does not answer
//! is one [`HostAnswer`] with its reason; the others are shown all the same.

use crate::peer_client::{PeerClient, PeerError};
use lcc_compiler::Plan;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long the CLI waits for a host.
pub const DEADLINE: Duration = Duration::from_secs(3);

/// One host asked: its name, where, and what it said or why it did not.
#[derive(Debug)]
pub struct HostAnswer<T> {
    /// Host name.
    pub host: String,
    /// Its peers listener, `ADDRESS:PORT`.
    pub address: String,
    /// The answer, or why there is none.
    pub result: Result<T, PeerError>,
}

/// Every Host of the plan with its peers listener's address, in the manifests' order.
pub fn targets(plan: &Plan) -> Vec<(String, String)> {
    plan.hosts
        .iter()
        .map(|h| (h.name.clone(), plan.peer_address(h)))
        .collect()
}

/// `GET path(host)` of every target at once, each within [`DEADLINE`]; the answers in
/// the targets' order.
pub fn ask<T: serde::de::DeserializeOwned + Send>(
    targets: &[(String, String)],
    token: &str,
    path: impl Fn(&str) -> String + Sync,
) -> Vec<HostAnswer<T>> {
    let client = PeerClient::new(token, DEADLINE);
    std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|(host, address)| {
                let client = client.clone();
                let path = &path;
                s.spawn(move || HostAnswer {
                    host: host.clone(),
                    address: address.clone(),
                    result: client.get::<T>(address, &path(host)),
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(h, (host, address))| {
                h.join().unwrap_or_else(|_| HostAnswer {
                    host: host.clone(),
                    address: address.clone(),
                    result: Err(PeerError::Unreachable(
                        "the request's thread panicked".into(),
                    )),
                })
            })
            .collect()
    })
}

/// `GET /api/v1/instances` as the view reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Instances {
    /// Every instance of the host.
    pub instances: Vec<InstanceView>,
}

/// One instance as the API shows it (docs/openapi.json, `Instance`), the fields `lcc
/// ps` shows; the rest is kept as it came for `-o json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    /// Instance name.
    pub name: String,
    /// Application.
    #[serde(default)]
    pub app: String,
    /// Its group.
    #[serde(default)]
    pub group: Option<String>,
    /// Its phase (`Running`, ...).
    #[serde(default)]
    pub state: String,
    /// Whether it is ready.
    #[serde(default)]
    pub ready: bool,
    /// Restarts.
    #[serde(default)]
    pub restarts: u64,
    /// Interface -> port.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// Start time, RFC 3339.
    #[serde(default)]
    pub started: Option<String>,
    /// The `dependsOn` conditions a Waiting instance waits on.
    #[serde(default)]
    pub waiting_on: Vec<String>,
    /// The whole object, for `-o json`.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// `GET /api/v1/events` as the view reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Events {
    /// The page of events.
    pub events: Vec<EventView>,
}

/// `GET /api/v1/events?limit=0`: where a host's event log ends.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsEnd {
    /// The id of its last event.
    pub last_id: u64,
}

/// One event as the API shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventView {
    /// Its id on its host.
    pub id: u64,
    /// RFC 3339 time.
    pub time: String,
    /// `instance/NAME`, ...
    pub object: String,
    /// The reason word.
    pub reason: lcc_core::events::Reason,
    /// For people.
    pub message: String,
}

/// The events of every host in one list, by time; events of one host at the same
/// time keep their order (their ids), and hosts at the same time come in the order
/// given.
pub fn merge_events(per_host: Vec<(String, Vec<EventView>)>) -> Vec<(String, EventView)> {
    let mut all: Vec<(u64, usize, u64, String, EventView)> = per_host
        .into_iter()
        .enumerate()
        .flat_map(|(i, (host, events))| {
            events.into_iter().map(move |e| {
                let t = millis(&e.time).unwrap_or(0);
                (t, i, e.id, host.clone(), e)
            })
        })
        .collect();
    all.sort_by_key(|a| (a.0, a.1, a.2));
    all.into_iter().map(|(_, _, _, h, e)| (h, e)).collect()
}

/// Unix seconds of an RFC 3339 time.
pub fn secs(rfc3339: &str) -> Option<u64> {
    millis(rfc3339).map(|ms| ms / 1000)
}

/// Unix milliseconds of an RFC 3339 time (its fraction, if any, to the millisecond).
pub fn millis(rfc3339: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as u64)
}

/// The host to ask for instance `name`'s logs: the one the plan places it on, else
/// (a name the plan does not place) every host, in order.
pub fn hosts_for<'t>(
    plan: &Plan,
    targets: &'t [(String, String)],
    name: &str,
) -> Vec<&'t (String, String)> {
    match plan.host_of(name) {
        Some(h) => targets.iter().filter(|(t, _)| t == h).collect(),
        None => targets.iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lcc_core::events::Reason;

    fn ev(id: u64, time: &str, object: &str) -> EventView {
        EventView {
            id,
            time: time.into(),
            object: object.into(),
            reason: Reason::Started,
            message: String::new(),
        }
    }

    #[test]
    fn events_of_every_host_merge_by_time_then_host_then_id() {
        let h1 = vec![
            ev(1, "2026-12-04T10:00:01.500Z", "instance/a"),
            ev(2, "2026-12-04T10:00:03Z", "instance/b"),
            ev(3, "2026-12-04T10:00:03Z", "instance/c"),
        ];
        let h2 = vec![
            ev(1, "2026-12-04T10:00:01.499Z", "instance/x"),
            ev(2, "2026-12-04T10:00:03Z", "instance/y"),
            ev(3, "not a time", "instance/z"),
        ];
        let got: Vec<(String, String)> = merge_events(vec![("h1".into(), h1), ("h2".into(), h2)])
            .into_iter()
            .map(|(h, e)| (h, e.object))
            .collect();
        let want = [
            ("h2", "instance/z"),
            ("h2", "instance/x"),
            ("h1", "instance/a"),
            ("h1", "instance/b"),
            ("h1", "instance/c"),
            ("h2", "instance/y"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(h, o)| (h.to_string(), o.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(secs("1970-01-01T00:01:00.999Z"), Some(60));
        assert_eq!(millis("1970-01-01T00:01:00.25Z"), Some(60_250));
    }
}
