//! The desired state of a pod: the one word of its `pod.state` file, written by the CLI
//! and the daemon, and shown in each instance's status.

use serde::{Deserialize, Serialize};

/// Desired state of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodState {
    /// Keep it running.
    Running,
    /// Keep it stopped.
    Stopped,
    /// Stop and remove it.
    Removed,
}

impl PodState {
    /// The word written to the file.
    pub fn as_str(self) -> &'static str {
        match self {
            PodState::Running => "running",
            PodState::Stopped => "stopped",
            PodState::Removed => "removed",
        }
    }
    /// Parses the word (surrounding whitespace ignored).
    pub fn parse(word: &str) -> Option<PodState> {
        match word.trim() {
            "running" => Some(PodState::Running),
            "stopped" => Some(PodState::Stopped),
            "removed" => Some(PodState::Removed),
            _ => None,
        }
    }
}
