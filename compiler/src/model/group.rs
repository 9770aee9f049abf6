//! `kind: InstanceGroup`: replicas of an application.

use super::{BindingDoc, Env, KubernetesDoc, ProbeDoc, RestartDoc};
use serde::Deserialize;

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
    /// Which Hosts may run it (docs/hosts.md).
    pub placement: Option<super::PlacementDoc>,
}
