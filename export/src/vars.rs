//! Strings into a container: Kubernetes expands `$(VAR)` in `command`, `args` and env
//! values (and turns `$$` into `$`), where a pod expands only `${VAR}` in command items
//! and nothing in env values. So `${VAR}` in a command item becomes `$(VAR)` (or its
//! value where the export fixes it: the container port for `${LCC_PORT_<IFACE>}`, the
//! files mount for `${LCC_MANIFEST_DIR}`), and every other `$` that
//! Kubernetes would read is escaped, so the program gets the same bytes as here.

use lcc_compiler::render::{split_refs, ArgPart};
use std::collections::BTreeMap;

/// Where `LCC_MANIFEST_DIR` points in the container: the `kubernetes.files` mount.
pub const MANIFEST_MOUNT: &str = "/lcc/manifest";

/// The container's working directory, the counterpart of the pod's `run/`: storage
/// bindings are mounted under it.
pub const WORK_DIR: &str = "/lcc/run";

/// A value Kubernetes must pass as it is: each `$` that starts `$(` or `$$` doubled.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek(), Some('$' | '(')) {
            out.push('$');
        }
    }
    out
}

/// A command item: `${NAME}` expands (to its value in `known`, else to `$(NAME)`), the
/// rest is [`literal`]. What counts as a reference is the pod's own rule
/// ([`split_refs`]), so the export and the pod expand the same items.
pub fn argv_item(item: &str, known: &BTreeMap<String, String>) -> String {
    split_refs(item)
        .into_iter()
        .map(|part| match part {
            ArgPart::Lit(text) => literal(text),
            ArgPart::Var(name) => known
                .get(name)
                .map_or_else(|| format!("$({name})"), |value| literal(value)),
        })
        .collect()
}

/// Milliseconds as whole seconds, rounded up (Kubernetes counts probe and grace
/// times in seconds).
pub fn seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escapes_only_what_kubernetes_reads() {
        assert_eq!(literal("it's $HOME"), "it's $HOME");
        assert_eq!(literal("$(id) $$ $"), "$$(id) $$$ $");
    }

    #[test]
    fn references_expand_like_the_pod() {
        let ports = BTreeMap::from([("LCC_PORT_HTTP".to_string(), "8080".to_string())]);
        assert_eq!(argv_item("${LCC_PORT_HTTP}", &ports), "8080");
        assert_eq!(
            argv_item("--dir=${LCC_MANIFEST_DIR}/x $(y) ${bad name}", &ports),
            "--dir=$(LCC_MANIFEST_DIR)/x $$(y) ${bad name}"
        );
        assert_eq!(argv_item("${", &ports), "${");
    }
}
