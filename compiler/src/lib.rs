//! lcc-compiler: reads Local Cluster manifests, validates them, plans the desired
//! instances and renders each one into a standalone `pod` shell script.
//!
//! The pipeline is `load` (YAML with positions) -> `validate` (every error, with
//! file:line:col) -> `plan` (a flat [`Plan`] the daemon and `lcc compile` consume) ->
//! `render` (a [`PodSpec`] into a POSIX sh script from the embedded templates).

pub mod podspec;
pub mod plan;
pub mod render;

pub use plan::{EntranceSpec, GatewaySpec, GroupSpec, InstancePlan, Plan, StorageSpec};
pub use podspec::PodSpec;
