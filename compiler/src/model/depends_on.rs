//! `dependsOn:` of an Application, Instance or InstanceGroup: what must hold before its
//! instances start.

use super::{Choice, Words};
use serde::Deserialize;

/// One item of `dependsOn:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencyDoc {
    /// An Instance or InstanceGroup.
    pub target: Option<String>,
    /// What must hold (default `started`, as in Compose).
    pub condition: Option<Choice<ConditionDoc>>,
    /// Restart the dependant after the target restarts.
    pub restart: Option<bool>,
}

/// When a dependency holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConditionDoc {
    /// The target runs (all replicas of a group).
    Started,
    /// The target is Ready (all replicas of a group).
    Ready,
    /// The target ran to completion with exit code 0 (all replicas of a group).
    Completed,
}

impl Words for ConditionDoc {
    const WHAT: &'static str = "condition";
    const ALL: &'static [&'static str] = &["started", "ready", "completed"];
}
