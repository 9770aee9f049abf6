//! `kind: Host`: a machine of a multi-host cluster (docs/hosts.md). No Host document
//! means the single-machine cluster of before.

use super::{Choice, Env, Words};
use serde::Deserialize;

/// `kind: Host`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostDoc {
    /// `Host`.
    pub kind: String,
    /// Host name (what placement and `--host` name).
    pub name: String,
    /// How other hosts reach it: a host name or IP, or `local` (this machine, no SSH).
    pub address: Option<String>,
    /// How `lcc sync` logs in.
    pub ssh: Option<SshDoc>,
    /// Where the cluster lives on the host.
    pub dir: Option<String>,
    /// Region, for placement.
    pub region: Option<String>,
    /// Labels, for placement (kept in the order written).
    pub labels: Option<Env>,
    /// `active` (the default) or `inactive` (synced, given no instances).
    pub state: Option<Choice<HostStateDoc>>,
}

/// `ssh:` of a Host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshDoc {
    /// Login user (default: ssh's own default).
    pub user: Option<String>,
    /// Port (default 22).
    pub port: Option<i64>,
    /// Private key file, `-i`.
    #[serde(rename = "identityFile")]
    pub identity_file: Option<String>,
    /// A host to jump through, `-J`.
    #[serde(rename = "jumpHost")]
    pub jump_host: Option<String>,
    /// Extra `-o` options, `Key=value` each.
    pub options: Option<Vec<String>>,
    /// The path of `lcc` on the host (default: found on its PATH).
    pub lcc: Option<String>,
}

/// State of a Host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStateDoc {
    /// Given instances.
    Active,
    /// Synced but given no instances.
    Inactive,
}

impl Words for HostStateDoc {
    const WHAT: &'static str = "host state";
    const ALL: &'static [&'static str] = &["active", "inactive"];
}
