//! The plan of a cluster: what should exist, derived from validated manifests.
//!
//! The daemon reconciles against it; `lcc compile` writes one pod per entry. Group
//! replicas are not expanded here: the daemon applies scale overrides and names the
//! replicas `<group>-<n>` from the group's template.

use crate::podspec::{PodSpec, Protocol};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the manifests of one cluster ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Cluster name (`kind: Cluster` name, else the directory's name).
    pub name: String,
    /// The entrance listener, `127.0.0.1:8080` unless the Cluster says otherwise.
    pub http: String,
    /// Inclusive range for interface ports allocated at run time.
    pub host_ports: (u16, u16),
    /// The TLS entrance listener, when the Cluster asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<HttpsSpec>,
    /// The API's TCP listener, when the Cluster asks for one.
    pub api_listen: Option<String>,
    /// The port on which each host's daemon serves the other hosts and the operator
    /// (`Cluster.peers.port`; docs/hosts.md), on the host's `address`.
    #[serde(default = "default_peer_port")]
    pub peer_port: u16,
    /// Explicit Instances.
    pub instances: Vec<InstancePlan>,
    /// InstanceGroups with the template of their replicas.
    pub groups: Vec<GroupSpec>,
    /// Applications that no Instance or group references, compiled on their own by
    /// `lcc compile` (the daemon does not run them).
    pub unreferenced_apps: Vec<PodSpec>,
    /// Gateways.
    pub gateways: Vec<GatewaySpec>,
    /// Entrances.
    pub entrances: Vec<EntranceSpec>,
    /// Storages.
    pub storages: Vec<StorageSpec>,
    /// Hosts (none: the single-machine cluster).
    #[serde(default)]
    pub hosts: Vec<crate::hosts::HostSpec>,
    /// Where each Instance and InstanceGroup runs (empty without hosts).
    #[serde(default)]
    pub placements: Vec<crate::placement::Placed>,
    /// The Host this machine is (docs/hosts.md): the name `lcc receive --host` recorded
    /// in `.lcc/sync/host`, else the `local` Host; `None` without hosts, or when this
    /// machine is none of them.
    #[serde(default)]
    pub this_host: Option<String>,
    /// The manifest files `lcc sync` sends each Host, relative to the cluster directory
    /// (empty without hosts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub host_files: BTreeMap<String, std::collections::BTreeSet<std::path::PathBuf>>,
}

/// The peers' port when `Cluster.peers.port` gives none.
pub const DEFAULT_PEER_PORT: u16 = 7480;

fn default_peer_port() -> u16 {
    DEFAULT_PEER_PORT
}

/// Where instances are reached on a single machine, and on a `local` host.
pub const LOOPBACK: &str = "127.0.0.1";

impl Plan {
    /// The Host named `name`.
    pub fn host(&self, name: &str) -> Option<&crate::hosts::HostSpec> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The address this machine's instances are reached at, by its probes, its own
    /// gateways and the other hosts' gateways: this host's `address`, or
    /// [`LOOPBACK`] on a single machine and on a `local` host.
    pub fn this_address(&self) -> &str {
        match self.this_host.as_deref().and_then(|h| self.host(h)) {
            Some(h) if !h.is_local() => &h.address,
            _ => LOOPBACK,
        }
    }

    /// Where the daemon of host `h` serves its peers: `ADDRESS:PORT` (a `local` host on
    /// [`LOOPBACK`]).
    pub fn peer_address(&self, h: &crate::hosts::HostSpec) -> String {
        let address = if h.is_local() { LOOPBACK } else { &h.address };
        match address.parse::<std::net::Ipv6Addr>() {
            Ok(_) => format!("[{address}]:{}", self.peer_port),
            Err(_) => format!("{address}:{}", self.peer_port),
        }
    }

    /// The host that runs instance `name`: an Instance's host, or a group replica's by
    /// its ordinal (`GROUP-N`); `None` without hosts or for a name the plan does not
    /// place.
    pub fn host_of(&self, name: &str) -> Option<&str> {
        if let Some(p) = self.placements.iter().find(|p| !p.group && p.name == name) {
            return Some(p.replica_host(1)).filter(|h| !h.is_empty());
        }
        let (group, n) = name.rsplit_once('-')?;
        let n: u32 = n.parse().ok().filter(|n| *n > 0)?;
        let p = self
            .placements
            .iter()
            .find(|p| p.group && p.name == group)?;
        Some(p.replica_host(n)).filter(|h| !h.is_empty())
    }

    /// Whether the cluster spans Hosts (instances are placed, not all run here).
    pub fn has_hosts(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// Whether the Instance `name` runs on this machine.
    pub fn runs_here(&self, name: &str) -> bool {
        if !self.has_hosts() {
            return true;
        }
        let here = self.this_host.as_deref();
        self.placements
            .iter()
            .find(|p| p.name == name && !p.group)
            .is_some_and(|p| Some(p.replica_host(1)) == here)
    }

    /// The replicas of the group `name` this machine runs when it has `replicas` in all.
    pub fn share(&self, name: &str, replicas: u32) -> crate::placement::Share {
        if !self.has_hosts() {
            return crate::placement::Share::all(replicas);
        }
        match self.placements.iter().find(|p| p.name == name && p.group) {
            Some(placed) => placed.share(self.this_host.as_deref(), replicas),
            None => crate::placement::Share::none(),
        }
    }

    /// What this machine runs of the plan: the Instances placed here (groups stay whole;
    /// [`Plan::share`] says which of their replicas are here).
    pub fn this_host_part(mut self) -> Plan {
        let here: Vec<bool> = self
            .instances
            .iter()
            .map(|i| self.runs_here(&i.spec.instance))
            .collect();
        let mut keep = here.into_iter();
        self.instances.retain(|_| keep.next().unwrap_or(false));
        self
    }
}

/// An explicit Instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancePlan {
    /// Whether the user wants it running (`state: running`, the default) or stopped.
    pub running: bool,
    /// The compiled spec.
    pub spec: PodSpec,
    /// Settings for the Kubernetes export.
    #[serde(default)]
    pub kubernetes: KubeSpec,
    /// What must hold before it starts (kept out of the spec: no restart when it changes).
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    /// A cron schedule: the instance runs at each time it names, never twice at once.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Paths whose changes restart it under `lcc up --watch`.
    #[serde(default)]
    pub watch: Vec<WatchSpec>,
}

/// One `watch:` item: a change under `path` not matching `ignore` restarts the
/// instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchSpec {
    /// Absolute file or directory.
    pub path: String,
    /// Globs, matched against the path of a change relative to `path`.
    pub ignore: Vec<String>,
}

/// One `dependsOn` item: what must hold of `target` before the instance starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// An Instance or InstanceGroup.
    pub target: String,
    /// What must hold.
    pub condition: Condition,
    /// Restart the dependant after the target restarts.
    pub restart: bool,
}

/// When a dependency holds (for a group: of every replica).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// The target runs.
    Started,
    /// The target is Ready.
    Ready,
    /// The target ended with exit code 0 and is not restarted (a job).
    Completed,
}

impl Condition {
    /// The word of the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::Completed => "completed",
        }
    }
}

/// An InstanceGroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    /// Group name.
    pub name: String,
    /// Desired replicas from the manifest (`lcc scale` may override it).
    pub replicas: u32,
    /// The template of every replica; `instance` is the group's name.
    pub template: PodSpec,
    /// Settings for the Kubernetes export.
    #[serde(default)]
    pub kubernetes: KubeSpec,
    /// What must hold before a replica starts.
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    /// Paths whose changes restart its replicas (one at a time) under `lcc up --watch`.
    #[serde(default)]
    pub watch: Vec<WatchSpec>,
}

/// A Gateway: a fixed port in front of a group's or instance's interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySpec {
    /// Gateway name.
    pub name: String,
    /// Listen address, `127.0.0.1` unless the manifest says otherwise.
    pub address: String,
    /// Listen port.
    pub port: u16,
    /// `http` or `tcp`, from the target's interface.
    pub protocol: Protocol,
    /// The InstanceGroup or Instance it targets.
    pub target: String,
    /// The interface of the target.
    pub interface: String,
    /// The proxy's timeouts for it, as they go into `proxy.conf`.
    #[serde(default)]
    pub timeouts: lcc_core::proxy_config::GatewayTimeouts,
    /// Upstream proxies (CIDRs) whose forwarding headers it keeps.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// An Entrance: `/entrances/<name>/` on the cluster's http listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntranceSpec {
    /// Entrance name.
    pub name: String,
    /// The gateway it forwards to.
    pub gateway: String,
    /// The host name routed to the gateway from `/`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The certificate files served for `host` (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<lcc_core::proxy_config::CertFiles>,
    /// The ACME account that obtains the certificate for `host` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeSpec>,
}

/// `Entrance.tls.acme`: where and as whom the daemon obtains the host's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AcmeSpec {
    /// The directory URL.
    pub directory: String,
    /// The account's contact address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Roots to trust for the directory's https (absolute), else the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<std::path::PathBuf>,
}

/// `Cluster.https`: the entrances over TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpsSpec {
    /// `IP:PORT`.
    pub listen: String,
    /// Plain-HTTP requests are answered 308 to https.
    pub redirect: bool,
}

/// The https listener's default address.
pub const DEFAULT_HTTPS: &str = "127.0.0.1:8443";

impl EntranceSpec {
    /// The URL to open it at: on the https listener when there is one, else on the
    /// http listener `http` (`IP:PORT`); its host's when it has an exact one, else its
    /// path's.
    pub fn url(&self, http: &str, https: Option<&HttpsSpec>) -> String {
        let (scheme, listen) = match https {
            Some(h) => ("https", h.listen.as_str()),
            None => ("http", http),
        };
        match &self.host {
            Some(host) if !host.starts_with("*.") => {
                let port = listen.rsplit_once(':').map_or("", |(_, p)| p);
                format!("{scheme}://{host}:{port}/")
            }
            _ => format!("{scheme}://{listen}/entrances/{}/", self.name),
        }
    }
}

/// A Storage: a directory that outlives instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSpec {
    /// Storage name.
    pub name: String,
    /// Absolute directory.
    pub dir: String,
    /// Claim size for the Kubernetes export, a quantity (`1Gi` unless the manifest
    /// says otherwise).
    #[serde(default = "default_claim_size")]
    pub size: String,
}

/// The claim size of a Storage that gives none.
pub const DEFAULT_CLAIM_SIZE: &str = "1Gi";

/// [`DEFAULT_CLAIM_SIZE`] as a `String`, for serde.
fn default_claim_size() -> String {
    DEFAULT_CLAIM_SIZE.to_string()
}

/// The `kubernetes:` settings of an Instance or group: its application's, with each
/// field the Instance or group gives replacing the app's. Only the export reads them;
/// they are kept out of the [`PodSpec`] so that changing them never replaces a
/// running instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeSpec {
    /// Container image.
    pub image: Option<String>,
    /// Container command instead of the local one (only `${VAR}` expands).
    pub command: Option<Vec<String>>,
    /// Container args instead of the local command.
    pub args: Option<Vec<String>>,
    /// Files carried in a ConfigMap, mounted where `LCC_MANIFEST_DIR` points.
    pub files: Vec<KubeFile>,
    /// Requests: `cpu`/`memory` -> quantity.
    pub requests: BTreeMap<String, String>,
    /// Limits: `cpu`/`memory` -> quantity.
    pub limits: BTreeMap<String, String>,
    /// Type of the Services of the gateways in front of it.
    pub service_type: Option<ServiceType>,
}

/// A file to carry into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeFile {
    /// Path relative to the manifest, as written; also its place under the mount.
    pub path: String,
    /// Absolute path of the file on this machine.
    pub source: String,
}

/// Kubernetes Service types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    /// `ClusterIP`.
    ClusterIP,
    /// `NodePort`.
    NodePort,
    /// `LoadBalancer`.
    LoadBalancer,
}

impl ServiceType {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EntranceSpec, HttpsSpec};

    /// A cluster of three hosts in a temp dir, synced as `as_host` (if any).
    fn hosts_plan(cluster: &str, as_host: Option<&str>) -> Result<super::Plan, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts: String = [("h1", "10.0.0.1"), ("h2", "10.0.0.2"), ("h3", "fd00::3")]
            .iter()
            .map(|(n, a)| format!("kind: Host\nname: {n}\naddress: \"{a}\"\ndir: /srv/c\n---\n"))
            .collect();
        let app = "kind: Application\nname: s\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"9\"]\n---\nkind: InstanceGroup\nname: web\napp: s\nreplicas: 3\n---\nkind: Instance\nname: solo\napp: s\n";
        std::fs::write(
            dir.path().join("c.yaml"),
            format!("{cluster}---\n{hosts}{app}"),
        )
        .expect("manifest");
        if let Some(h) = as_host {
            std::fs::create_dir_all(dir.path().join(".lcc/sync")).expect("sync dir");
            std::fs::write(dir.path().join(".lcc/sync/host"), h).expect("host");
        }
        crate::load_cluster(dir.path()).map_err(|d| d.to_string())
    }

    #[test]
    fn where_a_host_is_reached_and_which_host_runs_a_name() {
        let plan =
            hosts_plan("kind: Cluster\nname: c\npeers: {port: 7000}\n", Some("h2")).expect("plan");
        assert_eq!(plan.peer_port, 7000);
        assert_eq!(plan.this_address(), "10.0.0.2");
        let peer = |n: &str| plan.peer_address(plan.host(n).expect("host"));
        assert_eq!(peer("h1"), "10.0.0.1:7000");
        assert_eq!(peer("h3"), "[fd00::3]:7000");
        // replica n on the group's ranking (n - 1) mod 3, the Instance on its first
        let web = plan
            .placements
            .iter()
            .find(|p| p.name == "web")
            .expect("web placed");
        for n in 1..=6u32 {
            let name = format!("web-{n}");
            assert_eq!(plan.host_of(&name), Some(web.replica_host(n)), "{name}");
        }
        let solo = plan
            .placements
            .iter()
            .find(|p| p.name == "solo")
            .expect("solo");
        assert_eq!(plan.host_of("solo"), Some(solo.hosts[0].as_str()));
        for unplaced in ["web-0", "web-x", "nothing", "web"] {
            assert_eq!(plan.host_of(unplaced), None, "{unplaced}");
        }
        // the operator's checkout is no host: instances would be reached on loopback
        let checkout = hosts_plan("kind: Cluster\nname: c\n", None).expect("plan");
        assert_eq!(checkout.peer_port, super::DEFAULT_PEER_PORT);
        assert_eq!(checkout.this_address(), super::LOOPBACK);
        let err =
            hosts_plan("kind: Cluster\nname: c\npeers: {port: 0}\n", None).expect_err("port 0");
        assert!(
            err.contains("peers.port") || err.contains("port 0 is out of range"),
            "{err}"
        );
        assert!(err.contains("port 0 is out of range 1-65535"), "{err}");
    }

    #[test]
    fn an_entrance_url_is_its_exact_hosts_else_its_paths() {
        let e = |host: Option<&str>| EntranceSpec {
            name: "docs".into(),
            gateway: "web".into(),
            host: host.map(str::to_string),
            tls: None,
            acme: None,
        };
        let http = "127.0.0.1:8080";
        assert_eq!(
            e(None).url(http, None),
            "http://127.0.0.1:8080/entrances/docs/"
        );
        assert_eq!(
            e(Some("docs.localhost")).url(http, None),
            "http://docs.localhost:8080/"
        );
        assert_eq!(
            e(Some("*.localhost")).url(http, None),
            "http://127.0.0.1:8080/entrances/docs/"
        );
        let https = HttpsSpec {
            listen: "127.0.0.1:8443".into(),
            redirect: true,
        };
        assert_eq!(
            e(Some("docs.localhost")).url(http, Some(&https)),
            "https://docs.localhost:8443/"
        );
        assert_eq!(
            e(None).url(http, Some(&https)),
            "https://127.0.0.1:8443/entrances/docs/"
        );
    }
}
