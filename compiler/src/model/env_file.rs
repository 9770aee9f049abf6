//! `envFile:` of an Application, Instance or InstanceGroup: files of `KEY=VALUE` lines
//! added to the pod's environment.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// One item of `envFile:`: `path` or `{path: path, required: false}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFileDoc {
    /// The file, relative to the manifest that names it.
    pub path: Option<String>,
    /// Whether a missing file is an error (default true).
    pub required: bool,
}

impl<'de> Deserialize<'de> for EnvFileDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The long form, with its fields checked like any mapping's.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Long {
            /// The file.
            path: Option<String>,
            /// Whether it must exist.
            required: Option<bool>,
        }
        /// A string or the long form.
        struct EnvFileVisitor;
        impl<'de> Visitor<'de> for EnvFileVisitor {
            type Value = EnvFileDoc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path or a mapping {path, required}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvFileDoc, E> {
                Ok(EnvFileDoc {
                    path: Some(v.to_string()),
                    required: true,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EnvFileDoc, A::Error> {
                let long = Long::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(EnvFileDoc {
                    path: long.path,
                    required: long.required.unwrap_or(true),
                })
            }
        }
        deserializer.deserialize_any(EnvFileVisitor)
    }
}
