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
    /// The API's TCP listener, when the Cluster asks for one.
    pub api_listen: Option<String>,
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
