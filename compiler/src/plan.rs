//! The plan of a cluster: what should exist, derived from validated manifests.
//!
//! The daemon reconciles against it; `lcc compile` writes one pod per entry. Group
//! replicas are not expanded here: the daemon applies scale overrides and names the
//! replicas `<group>-<n>` from the group's template.

use crate::podspec::{PodSpec, Protocol};
use serde::{Deserialize, Serialize};

/// Everything the manifests of one cluster ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Cluster name (`kind: Cluster` name, else the directory's name).
    pub name: String,
    /// The entrance listener, `127.0.0.1:8080` unless the Cluster says otherwise.
    pub http: String,
    /// Inclusive range for interface ports allocated at run time.
    pub host_ports: (u16, u16),
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
}

/// An explicit Instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancePlan {
    /// Whether the user wants it running (`state: running`, the default) or stopped.
    pub running: bool,
    /// The compiled spec.
    pub spec: PodSpec,
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
}
