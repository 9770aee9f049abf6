//! The manifest model: one type per `kind`, exactly as written in YAML, each kind in a
//! file named after it (`gateway.rs` for `kind: Gateway`, ...).
//!
//! Values that need checks with a good message (names, ports, durations, os/arch,
//! signals) are kept as written here and checked in `check`; required fields are
//! `Option` so that a missing one is reported together with every other problem.
//! docs/manifests.md is the reference of every field.

use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

mod application;
mod cluster;
mod depends_on;
mod entrance;
mod env_file;
mod gateway;
mod group;
mod host;
mod instance;
mod kubernetes;
mod placement;
mod probe;
mod restart;
mod storage;
mod watch;

pub use application::{
    AppType, ApplicationDoc, InterfaceDoc, LocalDoc, PlatformDoc, ProtocolDoc, RemoteDoc,
    StaticDoc, StopDoc,
};
pub use cluster::{ApiDoc, ClusterDoc, HttpsDoc, PeersDoc};
pub use depends_on::{ConditionDoc, DependencyDoc};
pub use entrance::{AcmeDoc, EntranceDoc, EntranceTlsDoc};
pub use env_file::EnvFileDoc;
pub use gateway::{GatewayDoc, GatewayTimeoutsDoc};
pub use group::GroupDoc;
pub use host::{HostDoc, HostStateDoc, SshDoc};
pub use instance::{InstanceDoc, StateDoc};
pub use kubernetes::{KubernetesDoc, QuantitiesDoc, ResourcesDoc, ServiceTypeDoc};
pub use placement::PlacementDoc;
pub use probe::{HttpProbeDoc, ProbeDoc, TcpProbeDoc};
pub use restart::{BackoffDoc, PolicyDoc, RestartDoc};
pub use storage::{BindingDoc, StorageDoc};
pub use watch::{WatchActionDoc, WatchDoc};

/// An environment mapping, kept in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Collects entries in order.
        struct EnvVisitor;
        impl<'de> Visitor<'de> for EnvVisitor {
            type Value = Env;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of variable names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Env, A::Error> {
                let mut vars = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    vars.push((k, v));
                }
                Ok(Env(vars))
            }
        }
        deserializer.deserialize_map(EnvVisitor)
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Accepts `x` or `[x, y]`.
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// A value from a fixed set, read leniently: a wrong one is kept with its message so
/// that it is reported together with every other problem instead of stopping the
/// document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<T> {
    /// The value, or why the text is not one.
    pub value: Result<T, String>,
}

impl<T: Copy> Choice<T> {
    /// The value, if the text was valid.
    pub fn get(&self) -> Option<T> {
        self.value.as_ref().ok().copied()
    }
}

impl<'de, T: DeserializeOwned + Words> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let de: de::value::StrDeserializer<'_, de::value::Error> =
            text.as_str().into_deserializer();
        let value = T::deserialize(de).map_err(|_| {
            format!(
                "unknown {} `{text}`, expected one of: {}",
                T::WHAT,
                T::ALL.join(", ")
            )
        });
        Ok(Choice { value })
    }
}

/// The words of a fixed set, for messages.
pub trait Words {
    /// What the value is, e.g. `restart policy`.
    const WHAT: &'static str;
    /// Every valid word.
    const ALL: &'static [&'static str];
}

/// The value of an optional choice, if present and valid.
pub fn chosen<T: Copy>(choice: &Option<Choice<T>>) -> Option<T> {
    choice.as_ref().and_then(Choice::get)
}
