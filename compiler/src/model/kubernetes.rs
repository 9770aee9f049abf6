//! `kubernetes:` of an Application, Instance or InstanceGroup: what `lcc export kubernetes` needs that running here does not.

use super::{Choice, Words};
use serde::Deserialize;

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

impl Words for ServiceTypeDoc {
    const WHAT: &'static str = "service type";
    const ALL: &'static [&'static str] = &["ClusterIP", "NodePort", "LoadBalancer"];
}
