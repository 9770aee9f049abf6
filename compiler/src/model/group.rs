//! `kind: InstanceGroup`: replicas of an application.

use super::{
    BindingDoc, DependencyDoc, Env, EnvFileDoc, KubernetesDoc, ProbeDoc, RestartDoc, WatchDoc,
};
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
    /// Files of `KEY=VALUE` lines added to the environment (before `env`).
    #[serde(default, rename = "envFile")]
    pub env_file: Vec<EnvFileDoc>,
    /// Profiles that bring it up (`lcc up --profile P`); none: always.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// What must hold before it starts (an Instance's or group's own list replaces its
    /// app's).
    #[serde(rename = "dependsOn")]
    pub depends_on: Option<Vec<DependencyDoc>>,
    /// Paths whose changes restart its instances under `lcc up --watch` (replaces its
    /// app's list).
    pub watch: Option<Vec<WatchDoc>>,
    /// Which Hosts may run it (docs/hosts.md).
    pub placement: Option<super::PlacementDoc>,
}
