//! `watch:` of an Application, Instance or InstanceGroup: paths whose changes restart
//! its instances under `lcc up --watch` (as Compose's `develop.watch`).

use super::{Choice, Words};
use serde::Deserialize;

/// One item of `watch:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchDoc {
    /// A file or directory, relative to the manifest.
    pub path: Option<String>,
    /// Globs of paths (relative to `path`) whose changes do not count.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// What a change does (default `restart`).
    pub action: Option<Choice<WatchActionDoc>>,
}

/// What a change of a watched path does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchActionDoc {
    /// Restart the instances (a group's one at a time).
    Restart,
}

impl Words for WatchActionDoc {
    const WHAT: &'static str = "watch action";
    const ALL: &'static [&'static str] = &["restart"];
}
