//! `placement:` of an Instance or InstanceGroup: which Hosts may run it.

use super::Env;
use serde::Deserialize;

/// `placement:`. Every constraint given must hold; none given = every active host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementDoc {
    /// The host's `region`.
    pub region: Option<String>,
    /// Host names, any of them.
    pub hosts: Option<Vec<String>>,
    /// Labels the host must all carry with these values.
    pub labels: Option<Env>,
}
