//! `restart:` of an Application: the restart policy and its backoff.

use super::{Choice, Words};
use serde::Deserialize;

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

impl Words for PolicyDoc {
    const WHAT: &'static str = "restart policy";
    const ALL: &'static [&'static str] = &["always", "on-failure", "never"];
}
