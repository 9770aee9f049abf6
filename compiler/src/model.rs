//! The manifest model: one type per `kind`, exactly as written in YAML.
//!
//! Values that need checks with a good message (names, ports, durations, os/arch,
//! signals) are kept as written here and checked in `check`; required fields are
//! `Option` so that a missing one is reported together with every other problem.
//! docs/manifests.md is the reference of every field.

use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// `kind: Cluster`: settings of the whole cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterDoc {
    /// Always `Cluster`.
    pub kind: String,
    /// Cluster name (default: the directory's name).
    pub name: Option<String>,
    /// Entrance listener `HOST:PORT`.
    pub http: Option<String>,
    /// `LO-HI` range for run-time ports.
    pub host_ports: Option<String>,
    /// The HTTP API's TCP listener (it is always on `.lcc/api.sock`).
    pub api: Option<ApiDoc>,
}

/// `Cluster.api`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiDoc {
    /// `HOST:PORT` for the API over TCP (bearer token required).
    pub listen: Option<String>,
}

/// `kind: Application`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationDoc {
    /// Always `Application`.
    pub kind: String,
    /// Application name.
    pub name: String,
    /// `local`, `static` or `remote`.
    #[serde(rename = "type")]
    pub app_type: Option<Choice<AppType>>,
    /// Settings of a local app.
    pub local: Option<LocalDoc>,
    /// Settings of a static app.
    #[serde(rename = "static")]
    pub static_site: Option<StaticDoc>,
    /// Settings of a remote app.
    pub remote: Option<RemoteDoc>,
    /// Named ports.
    #[serde(default)]
    pub interfaces: Vec<InterfaceDoc>,
    /// Readiness/liveness probe.
    pub probe: Option<ProbeDoc>,
    /// Restart policy.
    pub restart: Option<RestartDoc>,
    /// How to stop it.
    pub stop: Option<StopDoc>,
    /// Storage bindings.
    #[serde(default)]
    pub storage: Vec<BindingDoc>,
    /// Settings for `lcc export kubernetes` only.
    pub kubernetes: Option<KubernetesDoc>,
}

/// `kubernetes:` of an Application, Instance or InstanceGroup: what the export to
/// Kubernetes needs that running here does not (docs/kubernetes.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesDoc {
    /// Container image.
    pub image: Option<String>,
    /// Container command, instead of the local one.
    pub command: Option<Vec<String>>,
    /// Container args, instead of the local command.
    pub args: Option<Vec<String>>,
    /// Files relative to the manifest, carried in a ConfigMap.
    pub files: Option<Vec<String>>,
    /// Requests and limits.
    pub resources: Option<ResourcesDoc>,
    /// Type of the Services of the gateways in front of it.
    pub service_type: Option<Choice<ServiceTypeDoc>>,
}

/// `kubernetes.resources`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesDoc {
    /// Requested resources.
    pub requests: Option<QuantitiesDoc>,
    /// Resource limits.
    pub limits: Option<QuantitiesDoc>,
}

/// `cpu` and `memory` quantities, as Kubernetes writes them (`250m`, `128Mi`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantitiesDoc {
    /// CPU.
    pub cpu: Option<String>,
    /// Memory.
    pub memory: Option<String>,
}

/// Kubernetes Service types a gateway may become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ServiceTypeDoc {
    /// Reachable inside the cluster.
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Also through a cloud load balancer.
    LoadBalancer,
}

/// Application types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    /// A native command.
    Local,
    /// An archive served over HTTP.
    Static,
    /// A service elsewhere.
    Remote,
}

/// `local:` of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalDoc {
    /// Candidate platforms, first match wins.
    #[serde(default)]
    pub platforms: Vec<PlatformDoc>,
    /// Environment, in the order written.
    #[serde(default)]
    pub env: Env,
}

/// One platform of a local app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformDoc {
    /// `uname -s` lowercased.
    pub os: Option<String>,
    /// Accepted `uname -m` values (a single string is allowed); none means any.
    #[serde(default)]
    pub arch: OneOrMany,
    /// argv to run.
    pub command: Option<Vec<String>>,
    /// Script for `sh -c`.
    pub shell: Option<String>,
}

/// `static:` of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticDoc {
    /// Archive URL or path relative to the manifest.
    pub archive: Option<String>,
    /// Expected sha256, hex.
    pub sha256: Option<String>,
    /// Subdirectory to serve.
    pub root: Option<String>,
    /// Serve index.html for unknown paths.
    #[serde(default)]
    pub spa: bool,
}

/// `remote:` of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteDoc {
    /// Host name or address.
    pub host: Option<String>,
}

/// One interface.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceDoc {
    /// Interface name.
    pub name: String,
    /// `http` or `tcp`.
    pub protocol: Option<Choice<ProtocolDoc>>,
    /// Fixed port (checked to be 1-65535).
    pub port: Option<i64>,
}

/// Interface protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolDoc {
    /// HTTP.
    Http,
    /// TCP.
    Tcp,
}

/// `probe:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeDoc {
    /// HTTP GET check.
    pub http: Option<HttpProbeDoc>,
    /// TCP connect check.
    pub tcp: Option<TcpProbeDoc>,
    /// Command check.
    pub exec: Option<Vec<String>>,
    /// Delay before the first probe.
    pub initial_delay: Option<String>,
    /// Time between probes.
    pub period: Option<String>,
    /// Time one probe may take.
    pub timeout: Option<String>,
    /// Misses in a row before a restart.
    pub failure_threshold: Option<i64>,
}

/// `probe.http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeDoc {
    /// Interface name.
    pub interface: String,
    /// Request path (default `/`).
    pub path: Option<String>,
}

/// `probe.tcp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbeDoc {
    /// Interface name.
    pub interface: String,
}

/// `restart:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestartDoc {
    /// When to restart.
    pub policy: Option<Choice<PolicyDoc>>,
    /// Failures in a row before Failed.
    pub max_retries: Option<i64>,
    /// Backoff delays.
    pub backoff: Option<BackoffDoc>,
}

/// Restart policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyDoc {
    /// After any exit.
    Always,
    /// After a failure.
    OnFailure,
    /// Never.
    Never,
}

/// `restart.backoff`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffDoc {
    /// First delay.
    pub initial: Option<String>,
    /// Cap.
    pub max: Option<String>,
}

/// `stop:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopDoc {
    /// Signal name.
    pub signal: Option<String>,
    /// Grace period.
    pub timeout: Option<String>,
}

/// One storage binding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingDoc {
    /// Storage name.
    pub storage: String,
    /// Path under `run/`.
    pub path: String,
}

/// `kind: Instance` and `kind: InstanceGroup` (which adds `replicas`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceDoc {
    /// `Instance`.
    pub kind: String,
    /// Instance name.
    pub name: String,
    /// The application.
    pub app: Option<String>,
    /// Desired state.
    pub state: Option<Choice<StateDoc>>,
    /// Environment overrides, merged by key over the app's.
    pub env: Option<Env>,
    /// Probe override (replaces the app's).
    pub probe: Option<ProbeDoc>,
    /// Restart override (replaces the app's).
    pub restart: Option<RestartDoc>,
    /// Storage override (replaces the app's).
    pub storage: Option<Vec<BindingDoc>>,
    /// Kubernetes overrides (field by field over the app's).
    pub kubernetes: Option<KubernetesDoc>,
}

/// `kind: InstanceGroup`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    /// `InstanceGroup`.
    pub kind: String,
    /// Group name.
    pub name: String,
    /// The application.
    pub app: Option<String>,
    /// Replicas (default 1).
    pub replicas: Option<i64>,
    /// Environment overrides.
    pub env: Option<Env>,
    /// Probe override.
    pub probe: Option<ProbeDoc>,
    /// Restart override.
    pub restart: Option<RestartDoc>,
    /// Storage override.
    pub storage: Option<Vec<BindingDoc>>,
    /// Kubernetes overrides (field by field over the app's).
    pub kubernetes: Option<KubernetesDoc>,
}

/// Desired state of an Instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateDoc {
    /// Keep it running.
    Running,
    /// Keep it stopped.
    Stopped,
}

/// `kind: Gateway`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayDoc {
    /// `Gateway`.
    pub kind: String,
    /// Gateway name.
    pub name: String,
    /// Listen port.
    pub port: Option<i64>,
    /// Listen address (default 127.0.0.1).
    pub address: Option<String>,
    /// InstanceGroup or Instance.
    pub target: Option<String>,
    /// Interface of the target's app.
    pub interface: Option<String>,
    /// The proxy's timeouts for this gateway.
    pub timeouts: Option<GatewayTimeoutsDoc>,
    /// Upstream proxies (CIDRs) whose forwarding headers the gateway keeps.
    #[serde(rename = "trustedProxies")]
    pub trusted_proxies: Option<Vec<String>>,
}

/// `timeouts:` of a Gateway, durations (docs/proxy.md has the defaults).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayTimeoutsDoc {
    /// A TCP connect to a backend.
    pub connect: Option<String>,
    /// A backend's response head, from the start of the request (http only).
    pub response: Option<String>,
    /// A connection to a backend with no traffic: pooled (http) or a session (tcp).
    pub idle: Option<String>,
}

/// `kind: Entrance`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntranceDoc {
    /// `Entrance`.
    pub kind: String,
    /// Entrance name.
    pub name: String,
    /// The gateway it forwards to.
    pub gateway: Option<String>,
}

/// `kind: Storage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageDoc {
    /// `Storage`.
    pub kind: String,
    /// Storage name.
    pub name: String,
    /// Directory, relative to the cluster directory.
    pub path: Option<String>,
    /// Claim size for the Kubernetes export (default 1Gi).
    pub size: Option<String>,
}

/// An environment mapping, kept in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Collects entries in order.
        struct EnvVisitor;
        impl<'de> Visitor<'de> for EnvVisitor {
            type Value = Env;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of variable names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Env, A::Error> {
                let mut vars = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    vars.push((k, v));
                }
                Ok(Env(vars))
            }
        }
        deserializer.deserialize_map(EnvVisitor)
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Accepts `x` or `[x, y]`.
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// A value from a fixed set, read leniently: a wrong one is kept with its message so
/// that it is reported together with every other problem instead of stopping the
/// document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<T> {
    /// The value, or why the text is not one.
    pub value: Result<T, String>,
}

impl<T: Copy> Choice<T> {
    /// The value, if the text was valid.
    pub fn get(&self) -> Option<T> {
        self.value.as_ref().ok().copied()
    }
}

impl<'de, T: DeserializeOwned + Words> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let de: de::value::StrDeserializer<'_, de::value::Error> =
            text.as_str().into_deserializer();
        let value = T::deserialize(de).map_err(|_| {
            format!(
                "unknown {} `{text}`, expected one of: {}",
                T::WHAT,
                T::ALL.join(", ")
            )
        });
        Ok(Choice { value })
    }
}

/// The words of a fixed set, for messages.
pub trait Words {
    /// What the value is, e.g. `restart policy`.
    const WHAT: &'static str;
    /// Every valid word.
    const ALL: &'static [&'static str];
}

impl Words for AppType {
    const WHAT: &'static str = "application type";
    const ALL: &'static [&'static str] = &["local", "static", "remote"];
}

impl Words for ProtocolDoc {
    const WHAT: &'static str = "protocol";
    const ALL: &'static [&'static str] = &["http", "tcp"];
}

impl Words for PolicyDoc {
    const WHAT: &'static str = "restart policy";
    const ALL: &'static [&'static str] = &["always", "on-failure", "never"];
}

impl Words for ServiceTypeDoc {
    const WHAT: &'static str = "service type";
    const ALL: &'static [&'static str] = &["ClusterIP", "NodePort", "LoadBalancer"];
}

impl Words for StateDoc {
    const WHAT: &'static str = "state";
    const ALL: &'static [&'static str] = &["running", "stopped"];
}

/// The value of an optional choice, if present and valid.
pub fn chosen<T: Copy>(choice: &Option<Choice<T>>) -> Option<T> {
    choice.as_ref().and_then(Choice::get)
}
