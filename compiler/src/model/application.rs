//! `kind: Application`: what runs (a local command, a static site, a remote endpoint), its interfaces and how it is stopped.

use super::{
    BindingDoc, Choice, DependencyDoc, Env, EnvFileDoc, KubernetesDoc, OneOrMany, ProbeDoc,
    RestartDoc, WatchDoc, Words,
};
use serde::Deserialize;

/// `kind: Application`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationDoc {
    /// Always `Application`.
    pub kind: String,
    /// Application name.
    pub name: String,
    /// `local`, `static` or `remote`.
    #[serde(rename = "type")]
    pub app_type: Option<Choice<AppType>>,
    /// Settings of a local app.
    pub local: Option<LocalDoc>,
    /// Settings of a static app.
    #[serde(rename = "static")]
    pub static_site: Option<StaticDoc>,
    /// Settings of a remote app.
    pub remote: Option<RemoteDoc>,
    /// Named ports.
    #[serde(default)]
    pub interfaces: Vec<InterfaceDoc>,
    /// Readiness/liveness probe.
    pub probe: Option<ProbeDoc>,
    /// Restart policy.
    pub restart: Option<RestartDoc>,
    /// How to stop it.
    pub stop: Option<StopDoc>,
    /// Storage bindings.
    #[serde(default)]
    pub storage: Vec<BindingDoc>,
    /// Settings for `lcc export kubernetes` only.
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
    /// Paths whose changes restart its instances under `lcc up --watch` (an Instance's
    /// or group's own list replaces its app's).
    pub watch: Option<Vec<WatchDoc>>,
}

/// Application types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    /// A native command.
    Local,
    /// An archive served over HTTP.
    Static,
    /// A service elsewhere.
    Remote,
}

/// `local:` of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalDoc {
    /// Candidate platforms, first match wins.
    #[serde(default)]
    pub platforms: Vec<PlatformDoc>,
    /// Environment, in the order written.
    #[serde(default)]
    pub env: Env,
}

/// One platform of a local app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformDoc {
    /// `uname -s` lowercased.
    pub os: Option<String>,
    /// Accepted `uname -m` values (a single string is allowed); none means any.
    #[serde(default)]
    pub arch: OneOrMany,
    /// argv to run.
    pub command: Option<Vec<String>>,
    /// Script for `sh -c`.
    pub shell: Option<String>,
}

/// `static:` of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticDoc {
    /// Archive URL or path relative to the manifest.
    pub archive: Option<String>,
    /// Expected sha256, hex.
    pub sha256: Option<String>,
    /// Subdirectory to serve.
    pub root: Option<String>,
    /// Serve index.html for unknown paths.
    #[serde(default)]
    pub spa: bool,
}

/// `remote:` of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteDoc {
    /// Host name or address.
    pub host: Option<String>,
}

/// One interface.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceDoc {
    /// Interface name.
    pub name: String,
    /// `http` or `tcp`.
    pub protocol: Option<Choice<ProtocolDoc>>,
    /// Fixed port (checked to be 1-65535).
    pub port: Option<i64>,
}

/// Interface protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolDoc {
    /// HTTP.
    Http,
    /// TCP.
    Tcp,
}

/// `stop:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopDoc {
    /// Signal name.
    pub signal: Option<String>,
    /// Grace period.
    pub timeout: Option<String>,
}

impl Words for AppType {
    const WHAT: &'static str = "application type";
    const ALL: &'static [&'static str] = &["local", "static", "remote"];
}

impl Words for ProtocolDoc {
    const WHAT: &'static str = "protocol";
    const ALL: &'static [&'static str] = &["http", "tcp"];
}
