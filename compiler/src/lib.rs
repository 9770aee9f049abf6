//! lcc-compiler: reads Local Cluster manifests, validates them, plans the desired
//! instances and renders each one into a standalone `pod` shell script.
//!
//! The pipeline is `load` (YAML with positions) -> `check`/`refs`/`ports` (every
//! error, with file:line:col) -> `planner` (a flat [`Plan`] the daemon and
//! `lcc compile` consume) -> `render` (a [`PodSpec`] into a POSIX sh script from the
//! embedded templates).

mod check;
mod de;
mod depends;
mod diag;
pub mod discovery;
mod env_files;
mod host_files;
pub mod hosts;
pub mod interpolate;
mod listeners;
mod load;
pub mod model;
pub mod placement;
mod plan;
mod planner;
pub mod profiles;
pub use lcc_core::podspec;
mod ports;
mod refs;
pub mod render;
mod report;
pub mod rules;
mod storage;
mod watch;
mod yaml;

pub use diag::{Diagnostic, Diagnostics};
pub use listeners::{fixed_listeners, Listener};
pub use load::{
    load_cluster, load_cluster_with, load_files, manifest_files, Counts, LoadOptions, Select,
    DOTENV,
};
pub use plan::{
    AcmeSpec, Condition, Dependency, EntranceSpec, GatewaySpec, GroupSpec, HttpsSpec, InstancePlan,
    KubeFile, KubeSpec, Plan, ServiceType, StorageSpec, WatchSpec, DEFAULT_HTTPS,
};
pub use planner::{DEFAULT_HOST_PORTS, MANIFEST_DIR_VAR};
pub use podspec::PodSpec;
pub use ports::DEFAULT_HTTP;

use std::path::PathBuf;

/// Like [`load_files`], also counting the objects and files read (for `lcc validate`).
pub fn load_files_counted(paths: &[PathBuf]) -> Result<(Plan, Counts), Diagnostics> {
    load::load_files_counted(paths)
}
