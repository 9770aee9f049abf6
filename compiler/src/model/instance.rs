//! `kind: Instance`: one named instance of an application.

use super::{
    BindingDoc, Choice, DependencyDoc, Env, EnvFileDoc, KubernetesDoc, ProbeDoc, RestartDoc,
    WatchDoc, Words,
};
use serde::Deserialize;

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
    /// Cron schedule: the instance is a job run at each time it names.
    pub schedule: Option<String>,
    /// Paths whose changes restart its instances under `lcc up --watch` (replaces its
    /// app's list).
    pub watch: Option<Vec<WatchDoc>>,
    /// Which Hosts may run it (docs/hosts.md).
    pub placement: Option<super::PlacementDoc>,
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

impl Words for StateDoc {
    const WHAT: &'static str = "state";
    const ALL: &'static [&'static str] = &["running", "stopped"];
}
