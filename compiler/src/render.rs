//! Renders a [`PodSpec`](crate::PodSpec) into a standalone POSIX sh `pod` script from
//! the handlebars templates embedded from `templates/`.
//!
//! Safety rests on two helpers: `sq` single-quotes any string (`'` -> `'\''`), and
//! `word` turns a command item into one shell word in which only `${NAME}` references
//! expand. Every manifest string reaches the script through one of them, or as JSON
//! inside `sq`; names that are emitted bare are checked here first.

use crate::podspec::{AppKind, Command, PodSpec, Probe, ProbeAction, Protocol};
use handlebars::{handlebars_helper, Handlebars};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Component, Path};
use std::sync::OnceLock;

/// Version of the pod API (the actions, their output and the files next to the pod).
pub(crate) const POD_API_VERSION: u32 = 1;

/// Prefix of the pod script's own shell variables; manifest names may not use it.
pub(crate) const RESERVED_PREFIX: &str = "_lcc_";

/// The template of every pod.
const POD_TEMPLATE: &str = include_str!("../../templates/pod.sh.hbs");

/// Why a pod could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An environment variable name that is not `[A-Za-z_][A-Za-z0-9_]*` or is reserved.
    #[error("instance {instance}: bad environment variable name {name:?}")]
    EnvName {
        /// The instance.
        instance: String,
        /// The name.
        name: String,
    },
    /// A `${NAME}` reference to one of the pod script's own variables.
    #[error("instance {instance}: ${{{name}}} names a variable reserved by the pod script")]
    ReservedReference {
        /// The instance.
        instance: String,
        /// The variable.
        name: String,
    },
    /// A string that contains a NUL byte, which no argv or environment can carry.
    #[error("instance {instance}: {field} contains a NUL byte")]
    Nul {
        /// The instance.
        instance: String,
        /// Which value.
        field: String,
    },
    /// Something the template needs is missing or malformed.
    #[error("instance {instance}: {reason}")]
    Spec {
        /// The instance.
        instance: String,
        /// What is wrong.
        reason: String,
    },
    /// A storage path that is absolute or leaves `run/`.
    #[error("instance {instance}: storage path {path:?} must be relative and stay inside run/")]
    StoragePath {
        /// The instance.
        instance: String,
        /// The path.
        path: String,
    },
    /// The `lcc` path is not absolute or not UTF-8.
    #[error("lcc binary path {path:?} must be absolute UTF-8")]
    LccBin {
        /// The path.
        path: String,
    },
    /// The template engine failed (a bug in the template).
    #[error("instance {instance}: template: {source}")]
    Template {
        /// The instance.
        instance: String,
        /// The engine's error.
        source: Box<handlebars::RenderError>,
    },
    /// Writing the pod failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// One piece of a command item: literal text, or a `${NAME}` reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgPart<'a> {
    /// Passed byte for byte.
    Lit(&'a str),
    /// Replaced at run time by the variable of the pod's environment (empty if unset).
    Var(&'a str),
}

/// Splits a command item into literal text and `${NAME}` references. `$NAME`,
/// `$(...)`, `${}` and `${not a name}` stay literal.
pub fn split_refs(item: &str) -> Vec<ArgPart<'_>> {
    let mut parts = Vec::new();
    let (mut lit_start, mut at) = (0, 0);
    while let Some(found) = item[at..].find("${") {
        let open = at + found;
        let body = &item[open + 2..];
        match body.find('}') {
            Some(end) if is_name(&body[..end]) => {
                if lit_start < open {
                    parts.push(ArgPart::Lit(&item[lit_start..open]));
                }
                parts.push(ArgPart::Var(&body[..end]));
                at = open + 2 + end + 1;
                lit_start = at;
            }
            _ => at = open + 2,
        }
    }
    if lit_start < item.len() || parts.is_empty() {
        parts.push(ArgPart::Lit(&item[lit_start..]));
    }
    parts
}

/// True for a shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_name(name: &str) -> bool {
    // `_` alone is the shell's last argument, not a variable: `${_}` stays as written.
    if name == "_" {
        return false;
    }
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `text` as one single-quoted shell word.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A command item as one shell word: quoted literals, `"${NAME}"` for references.
pub(crate) fn shell_word(item: &str) -> String {
    split_refs(item)
        .into_iter()
        .map(|part| match part {
            ArgPart::Lit(text) => shell_quote(text),
            ArgPart::Var(name) => format!("\"${{{name}}}\""),
        })
        .collect()
}

handlebars_helper!(sq_helper: |text: str| shell_quote(text));
handlebars_helper!(word_helper: |text: str| shell_word(text));

/// The template registry, built once.
fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut hb = Handlebars::new();
        // Not strict: optional fields are null and `#if`/`#with` skip them.
        hb.register_escape_fn(handlebars::no_escape);
        hb.register_helper("sq", Box::new(sq_helper));
        hb.register_helper("word", Box::new(word_helper));
        hb.register_template_string("pod", POD_TEMPLATE)
            .expect("templates/pod.sh.hbs parses");
        hb
    })
}

/// The pod script for `spec`, with `lcc_bin` (absolute) written in as `LCC_BIN`.
pub fn render_pod(spec: &PodSpec, lcc_bin: &Path) -> Result<String, RenderError> {
    check(spec)?;
    let lcc_bin = lcc_bin
        .to_str()
        .filter(|_| lcc_bin.is_absolute())
        .ok_or_else(|| RenderError::LccBin {
            path: lcc_bin.display().to_string(),
        })?;
    let context = context(spec, lcc_bin)?;
    registry()
        .render("pod", &context)
        .map_err(|source| RenderError::Template {
            instance: spec.instance.clone(),
            source: Box::new(source),
        })
}

/// Creates `pod_dir` (mode 0700) and writes its `pod` atomically (temp file, fsync,
/// rename), mode 0700. Never touches `pod.state`, `pod.env`, `run/`, `log/` or `.pod/`.
pub fn write_pod(pod_dir: &Path, spec: &PodSpec, lcc_bin: &Path) -> Result<(), RenderError> {
    let script = render_pod(spec, lcc_bin)?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| RenderError::Io { path, source }
    };
    // Owner only, the directory and the script: the script holds the manifest's env
    // values (secrets). A directory of an older lcc (0755) is narrowed; a symlink is
    // not followed.
    lcc_core::layout::make_private_dir(pod_dir).map_err(io(pod_dir))?;
    let target = pod_dir.join("pod");
    lcc_core::atomic::write_atomic_mode(&target, script.as_bytes(), 0o700).map_err(io(&target))?;
    Ok(())
}

/// Rejects what the template would otherwise have to trust.
fn check(spec: &PodSpec) -> Result<(), RenderError> {
    let instance = &spec.instance;
    let spec_err = |reason: String| RenderError::Spec {
        instance: instance.clone(),
        reason,
    };
    for var in &spec.env {
        if !is_name(&var.name) || var.name.starts_with(RESERVED_PREFIX) {
            return Err(RenderError::EnvName {
                instance: instance.clone(),
                name: var.name.clone(),
            });
        }
        no_nul(instance, &format!("env {}", var.name), &var.value)?;
    }
    for platform in &spec.platforms {
        let items = match &platform.run {
            Command::Argv(items) if items.is_empty() => {
                return Err(spec_err(format!("platform {}: empty command", platform.os)))
            }
            Command::Argv(items) => items.clone(),
            Command::Shell(script) => vec![script.clone()],
        };
        check_items(instance, &items)?;
    }
    if let Some(Probe {
        action: ProbeAction::Exec { command },
        ..
    }) = &spec.probe
    {
        if command.is_empty() {
            return Err(spec_err("exec probe: empty command".into()));
        }
        check_items(instance, command)?;
    }
    for iface in &spec.interfaces {
        if !is_name(&iface.env_name()) {
            return Err(spec_err(format!("bad interface name {:?}", iface.name)));
        }
        no_nul(instance, "interface", &iface.name)?;
    }
    for binding in &spec.storage {
        check_storage_path(instance, &binding.path)?;
        if !Path::new(&binding.dir).is_absolute() {
            return Err(spec_err(format!(
                "storage {}: directory must be absolute",
                binding.storage
            )));
        }
    }
    if !is_signal(&spec.stop.signal) {
        return Err(spec_err(format!("bad stop signal {:?}", spec.stop.signal)));
    }
    match spec.kind {
        AppKind::Local if spec.platforms.is_empty() => Err(spec_err("no platforms".into())),
        AppKind::Static if spec.site.is_none() || spec.interfaces.is_empty() => Err(spec_err(
            "a static app needs a site and an interface".into(),
        )),
        AppKind::Remote if spec.remote.is_none() => Err(spec_err("no remote host".into())),
        _ => Ok(()),
    }
}

/// Command items: no NUL, no `${_lcc_...}` reference.
fn check_items(instance: &str, items: &[String]) -> Result<(), RenderError> {
    for item in items {
        no_nul(instance, "command", item)?;
        for part in split_refs(item) {
            if let ArgPart::Var(name) = part {
                if name.starts_with(RESERVED_PREFIX) {
                    return Err(RenderError::ReservedReference {
                        instance: instance.to_string(),
                        name: name.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Refuses a NUL byte in `value`.
fn no_nul(instance: &str, field: &str, value: &str) -> Result<(), RenderError> {
    if value.contains('\0') {
        return Err(RenderError::Nul {
            instance: instance.to_string(),
            field: field.to_string(),
        });
    }
    Ok(())
}

/// A storage path must be relative, non-empty and free of `..`.
fn check_storage_path(instance: &str, path: &str) -> Result<(), RenderError> {
    let ok = !path.is_empty()
        && !path.contains('\0')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && Path::new(path)
            .components()
            .any(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(RenderError::StoragePath {
            instance: instance.to_string(),
            path: path.to_string(),
        })
    }
}

/// Signal names `kill -s` accepts everywhere.
fn is_signal(name: &str) -> bool {
    matches!(
        name,
        "TERM" | "INT" | "QUIT" | "HUP" | "KILL" | "USR1" | "USR2"
    )
}

/// The template's data.
fn context(spec: &PodSpec, lcc_bin: &str) -> Result<Value, RenderError> {
    let kind = kind_name(spec.kind);
    let info_head = format!(
        "\"api\":{POD_API_VERSION},\"app\":{},\"type\":\"{kind}\",\"instance\":{},\"group\":{}",
        json_str(&spec.app),
        json_str(&spec.instance),
        spec.group.as_deref().map_or("null".to_string(), json_str)
    );
    let remote_host = spec.remote.as_ref().map(|r| r.host.clone());
    let interfaces: Vec<Value> = spec
        .interfaces
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "env_name": i.env_name(),
                "protocol": protocol_name(i.protocol),
                "port": i.port,
            })
        })
        .collect();
    Ok(json!({
        "api": POD_API_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
        "lcc_bin": lcc_bin,
        "instance": spec.instance,
        "app": spec.app,
        "kind": kind,
        "is_local": spec.kind == AppKind::Local,
        "is_remote": spec.kind == AppKind::Remote,
        "stop_signal": spec.stop.signal,
        "stop_ms": spec.stop.timeout_ms,
        "probe_ms": spec.probe.as_ref().map_or(1000, |p| p.timeout_ms.max(1)),
        "info_head": info_head,
        "info_probe": spec.probe.as_ref().map_or("null".to_string(), probe_json),
        "env": spec.env,
        "interfaces": interfaces,
        "platforms": platforms(spec),
        "platform_list": platform_list(spec),
        "storage": storage(spec),
        "site": site(spec),
        "probe": probe(spec),
        "remote_host": remote_host,
        "remote_host_json": remote_host.as_deref().map(json_str),
        "remote_authority_host": remote_host.as_deref().map(bracket_host),
    }))
}

/// The storage bindings, each with the ownership mark its directory gets when the pod
/// creates it.
fn storage(spec: &PodSpec) -> Vec<Value> {
    spec.storage
        .iter()
        .map(|b| {
            let mark = lcc_core::ownership::StorageMark {
                cluster: b.cluster.clone(),
                storage: b.storage.clone(),
            };
            json!({ "path": b.path, "dir": b.dir, "mark": mark.text() })
        })
        .collect()
}

/// The platforms with their `case` pattern (OS case-insensitive, arch aliases) and argv.
fn platforms(spec: &PodSpec) -> Vec<Value> {
    spec.platforms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let os = any_case_pattern(&p.os);
            let pattern = if p.arch.is_empty() {
                format!("{os}/*")
            } else {
                p.arch
                    .iter()
                    .flat_map(|a| arch_aliases(a))
                    .map(|a| format!("{os}/{}", shell_quote(&a)))
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            // Shell scripts are one literal argument: no `${NAME}` splitting there.
            let words: Vec<String> = match &p.run {
                Command::Argv(items) => items.iter().map(|s| shell_word(s)).collect(),
                Command::Shell(script) => {
                    vec!["sh".into(), "-c".into(), shell_quote(script)]
                }
            };
            json!({ "index": i + 1, "pattern": pattern, "words": words })
        })
        .collect()
}

/// `linux/x86_64,aarch64; darwin/any` for the no-match error.
fn platform_list(spec: &PodSpec) -> String {
    spec.platforms
        .iter()
        .map(|p| {
            let arch = if p.arch.is_empty() {
                "any".to_string()
            } else {
                p.arch.join(",")
            };
            format!("{}/{arch}", p.os)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A `case` pattern matching `text` in any letter case; other characters quoted.
fn any_case_pattern(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    text.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                shell_quote(&c.to_string())
            }
        })
        .collect()
}

/// `uname -m` spellings of one architecture.
fn arch_aliases(arch: &str) -> Vec<String> {
    let arch = arch.to_ascii_lowercase();
    let alias = match arch.as_str() {
        "x86_64" => Some("amd64"),
        "amd64" => Some("x86_64"),
        "aarch64" => Some("arm64"),
        "arm64" => Some("aarch64"),
        _ => None,
    };
    std::iter::once(arch.clone())
        .chain(alias.map(str::to_string))
        .collect()
}

/// Static apps: the archive settings and how `serve-static` listens.
fn site(spec: &PodSpec) -> Value {
    let (Some(site), Some(iface)) = (&spec.site, spec.interfaces.first()) else {
        return Value::Null;
    };
    let key_text =
        serde_json::to_string(&json!([site.archive, site.sha256, site.root])).unwrap_or_default();
    json!({
        "archive": site.archive,
        "sha256": site.sha256,
        "root": site.root,
        "spa": site.spa,
        "key": hex::encode(Sha256::digest(key_text.as_bytes())),
        "listen_word": format!("\"127.0.0.1:${{{}}}\"", iface.env_name()),
    })
}

/// The readiness check: the manifest's probe, else a TCP connect for static and remote
/// apps (local apps without a probe are ready while running).
fn probe(spec: &PodSpec) -> Value {
    let host = match &spec.remote {
        Some(remote) => bracket_host(&remote.host),
        None => "127.0.0.1".to_string(),
    };
    let secs = spec.probe.as_ref().map_or(1000, |p| p.timeout_ms.max(1));
    let secs = format!("{}.{:03}", secs / 1000, secs % 1000);
    let action = match (&spec.probe, spec.kind, spec.interfaces.first()) {
        (Some(p), _, _) => p.action.clone(),
        (None, AppKind::Local, _) | (None, _, None) => return Value::Null,
        (None, _, Some(iface)) => ProbeAction::Tcp {
            interface: iface.name.clone(),
        },
    };
    let mut value = serde_json::to_value(&action).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("host".into(), Value::String(host));
        map.insert("secs".into(), Value::String(secs));
    }
    value
}

/// The probe as `info` shows it.
fn probe_json(probe: &Probe) -> String {
    serde_json::to_string(probe).unwrap_or_else(|_| "null".into())
}

/// A JSON string literal.
fn json_str(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// IPv6 literals get brackets in `host:port`.
fn bracket_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `local`, `static` or `remote`.
fn kind_name(kind: AppKind) -> &'static str {
    match kind {
        AppKind::Local => "local",
        AppKind::Static => "static",
        AppKind::Remote => "remote",
    }
}

/// `http` or `tcp`.
fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "http",
        Protocol::Tcp => "tcp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_split_only_braced_names() {
        assert_eq!(
            split_refs("a${X}b$Y${}${1x}${Z"),
            vec![
                ArgPart::Lit("a"),
                ArgPart::Var("X"),
                ArgPart::Lit("b$Y${}${1x}${Z")
            ]
        );
        assert_eq!(split_refs(""), vec![ArgPart::Lit("")]);
        assert_eq!(
            split_refs("${A}${B}"),
            vec![ArgPart::Var("A"), ArgPart::Var("B")]
        );
        assert_eq!(shell_word("--port=${P}"), r#"'--port='"${P}""#);
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn any_case_and_aliases() {
        assert_eq!(any_case_pattern("os-1"), "[oO][sS]'-''1'");
        assert_eq!(arch_aliases("x86_64"), vec!["x86_64", "amd64"]);
        assert_eq!(bracket_host("::1"), "[::1]");
    }

    /// A minimal valid local spec.
    fn spec() -> PodSpec {
        use crate::podspec::*;
        PodSpec {
            instance: "x".into(),
            app: "x".into(),
            group: None,
            kind: AppKind::Local,
            platforms: vec![Platform {
                os: "linux".into(),
                arch: vec![],
                run: Command::Argv(vec!["true".into()]),
            }],
            env: vec![],
            interfaces: vec![],
            probe: None,
            restart: Restart {
                policy: RestartPolicy::Never,
                max_retries: 0,
                backoff_initial_ms: 1,
                backoff_max_ms: 1,
            },
            stop: Stop {
                signal: "TERM".into(),
                timeout_ms: 1,
            },
            storage: vec![],
            site: None,
            remote: None,
        }
    }

    #[test]
    fn unsafe_specs_are_refused() {
        use crate::podspec::{EnvVar, StorageBinding};
        let bin = Path::new("/bin/lcc");
        assert!(render_pod(&spec(), bin).is_ok());
        assert!(matches!(
            render_pod(&spec(), Path::new("lcc")),
            Err(RenderError::LccBin { .. })
        ));
        for name in ["1X", "A-B", "_lcc_x", ""] {
            let mut s = spec();
            s.env = vec![EnvVar {
                name: name.into(),
                value: "v".into(),
            }];
            assert!(
                matches!(render_pod(&s, bin), Err(RenderError::EnvName { .. })),
                "{name}"
            );
        }
        let mut s = spec();
        s.platforms[0].run = Command::Argv(vec!["echo".into(), "${_lcc_dir}".into()]);
        assert!(matches!(
            render_pod(&s, bin),
            Err(RenderError::ReservedReference { .. })
        ));
        let mut s = spec();
        s.platforms[0].run = Command::Argv(vec!["a\0b".into()]);
        assert!(matches!(render_pod(&s, bin), Err(RenderError::Nul { .. })));
        for path in ["../x", "/abs", "a/../../b", "", "."] {
            let mut s = spec();
            s.storage = vec![StorageBinding {
                storage: "s".into(),
                path: path.into(),
                dir: "/d".into(),
                cluster: "test".into(),
            }];
            assert!(
                matches!(render_pod(&s, bin), Err(RenderError::StoragePath { .. })),
                "{path}"
            );
        }
        let mut s = spec();
        s.stop.signal = "TERM; rm -rf /".into();
        assert!(matches!(render_pod(&s, bin), Err(RenderError::Spec { .. })));
    }
}
