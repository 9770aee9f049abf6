//! `kind: Storage` and the storage bindings of instances.

use serde::Deserialize;

/// One storage binding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingDoc {
    /// Storage name.
    pub storage: String,
    /// Path under `run/`.
    pub path: String,
}

/// `kind: Storage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageDoc {
    /// `Storage`.
    pub kind: String,
    /// Storage name.
    pub name: String,
    /// Directory, relative to the cluster directory.
    pub path: Option<String>,
    /// Claim size for the Kubernetes export (default 1Gi).
    pub size: Option<String>,
}
