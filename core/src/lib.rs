//! lcc-core: what every part of Local Cluster agrees on and no part owns: the files
//! shared between the processes (the pod spec, the state directory's layout, instance
//! statuses, the desired state of a pod, the event log), how they are written atomically,
//! which directories lcc must never delete or replace ([`protected`]) and how a
//! directory says that lcc made it ([`ownership`]).

pub mod acme_challenge;
pub mod archive_source;
pub mod atomic;
pub mod ca;
pub mod events;
pub mod holder;
pub mod host;
pub mod layout;
pub mod log;
pub mod ownership;
pub mod pod_state;
pub mod podspec;
pub mod protected;
pub mod proxy_config;
pub mod proxy_listeners;
pub mod registry;
pub mod status;
pub mod trust_store;
pub mod visible;
