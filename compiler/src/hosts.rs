//! The hosts of a multi-host cluster: checks of `kind: Host` and the [`HostSpec`]s of
//! the plan. The rules are pure functions over strings, so that what may reach an
//! `ssh` command line is decided (and tested) in one place.

use crate::load::{Body, Object};
use crate::model::{chosen, HostDoc, HostStateDoc};
use crate::report::{Reporter, Scope};
use crate::rules;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `address` of the host that is this machine.
pub const LOCAL: &str = "local";

/// A Host of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSpec {
    /// Host name.
    pub name: String,
    /// A host name or IP address, or `local`.
    pub address: String,
    /// How to log in (unused for `local`).
    pub ssh: SshSpec,
    /// The cluster directory on the host (for `local`: this cluster's directory).
    pub dir: String,
    /// Region, if given.
    pub region: Option<String>,
    /// Labels, in the order written.
    pub labels: Vec<(String, String)>,
    /// Whether it is given instances.
    pub active: bool,
}

impl HostSpec {
    /// Whether the host is this machine.
    pub fn is_local(&self) -> bool {
        self.address == LOCAL
    }
}

/// `ssh:` of a Host, with defaults applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshSpec {
    /// Login user (ssh's default when absent).
    pub user: Option<String>,
    /// Port.
    pub port: u16,
    /// Private key, absolute (relative paths start at the cluster directory).
    pub identity_file: Option<String>,
    /// Jump host.
    pub jump_host: Option<String>,
    /// Extra `-o` options.
    pub options: Vec<String>,
    /// `lcc` on the host: a path, or `lcc` (found on its PATH).
    pub lcc: String,
}

/// Checks one Host on its own.
pub(crate) fn check(s: &mut Scope<'_, '_>, h: &HostDoc) {
    let address = s.require("address", &h.address).cloned();
    if let Some(address) = &address {
        if address != LOCAL {
            s.check("address", ssh_word(address, "address"));
        }
    }
    let local = address.as_deref() == Some(LOCAL);
    if let Some(ssh) = &h.ssh {
        if local {
            s.err_key(
                "ssh",
                "a `local` host is this machine, not reached over SSH: remove `ssh`",
            );
        }
        if let Some(user) = &ssh.user {
            s.check("ssh.user", ssh_word(user, "user"));
        }
        if let Some(port) = ssh.port {
            s.check("ssh.port", rules::port(port));
        }
        if let Some(jump) = &ssh.jump_host {
            s.check("ssh.jumpHost", ssh_word(jump, "jump host"));
        }
        if ssh.identity_file.as_deref() == Some("") {
            s.err("ssh.identityFile", "identityFile must not be empty");
        }
        if ssh.lcc.as_deref() == Some("") {
            s.err("ssh.lcc", "lcc must not be empty");
        }
        for (i, option) in ssh.options.iter().flatten().enumerate() {
            s.check(&format!("ssh.options[{i}]"), ssh_option(option));
        }
    }
    match &h.dir {
        Some(dir) => {
            s.check("dir", host_dir(dir));
        }
        None if address.is_some() && !local => s.err(
            "dir",
            "missing field `dir`: a host reached over SSH needs the cluster's directory on it",
        ),
        None => {}
    }
    if let Some(region) = &h.region {
        s.check(
            "region",
            rules::name(region).map_err(|m| format!("region: {m}")),
        );
    }
    for (key, value) in h.labels.iter().flat_map(|l| &l.0) {
        s.check(&format!("labels.{key}"), label(key, value));
    }
    s.choice("state", &h.state);
}

/// Checks across Hosts: at most one is this machine.
pub(crate) fn check_all(rep: &mut Reporter<'_>, objects: &[Object]) {
    let mut first: Option<&Object> = None;
    for obj in objects {
        let Some(Body::Host(h)) = &obj.body else {
            continue;
        };
        if h.address.as_deref() != Some(LOCAL) {
            continue;
        }
        match first {
            None => first = Some(obj),
            Some(first) => {
                let msg = format!(
                    "only one Host may be `local`; the first is at {}",
                    rep.place(first, "address")
                );
                rep.field(obj, "address", msg);
            }
        }
    }
}

/// The Hosts of checked objects, in the order written.
pub(crate) fn specs(cluster_dir: &Path, objects: &[Object]) -> Vec<HostSpec> {
    let mut hosts = Vec::new();
    for obj in objects {
        let Some(Body::Host(h)) = &obj.body else {
            continue;
        };
        if hosts.iter().any(|s: &HostSpec| s.name == obj.name) {
            continue;
        }
        let address = h.address.clone().unwrap_or_default();
        let ssh = h.ssh.clone().unwrap_or_default();
        let dir = match &h.dir {
            Some(dir) => home_relative(dir),
            None => cluster_dir.display().to_string(),
        };
        hosts.push(HostSpec {
            name: obj.name.clone(),
            address,
            ssh: SshSpec {
                user: ssh.user,
                port: ssh.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(22),
                identity_file: ssh
                    .identity_file
                    .map(|f| cluster_dir.join(f).display().to_string()),
                jump_host: ssh.jump_host,
                options: ssh.options.unwrap_or_default(),
                lcc: ssh.lcc.unwrap_or_else(|| "lcc".to_string()),
            },
            dir,
            region: h.region.clone(),
            labels: h.labels.clone().map(|l| l.0).unwrap_or_default(),
            active: chosen(&h.state) != Some(HostStateDoc::Inactive),
        });
    }
    hosts
}

/// A word that goes on the `ssh` command line as an argument (address, user, jump
/// host): never empty, never read as an option (`-...`), and only letters, digits,
/// `.`, `-`, `_` (and for an address or jump host `:` and the `[`, `]`, `%` of an
/// IPv6 address): ssh passes a jump host through a shell (`ProxyCommand`), so
/// nothing a shell reads may be in it.
pub fn ssh_word(value: &str, what: &str) -> Result<(), String> {
    let user = what == "user";
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '.' | '-' | '_')
            || (!user && matches!(c, ':' | '[' | ']' | '%'))
    };
    if value.is_empty() || value.starts_with('-') || !value.chars().all(allowed) {
        let chars = if user {
            "letters, digits, `.`, `-` and `_`"
        } else {
            "letters, digits, `.`, `-`, `_` and `:` (and `[`, `]`, `%` in an IPv6 address)"
        };
        Err(format!(
            "invalid {what} `{value}`: use {chars}, not starting with `-`"
        ))
    } else {
        Ok(())
    }
}

/// ssh options a manifest may not set: those that run a command or load code on the
/// operator's machine, read other configuration, or replace a field of the Host.
const FORBIDDEN_SSH_OPTIONS: [&str; 7] = [
    "permitlocalcommand",
    "proxyjump",
    "include",
    "match",
    "pkcs11provider",
    "securitykeyprovider",
    "proxyusefdpass",
];

/// An extra ssh option, `Key=value` (what `-o` takes); none that runs a command
/// (`*Command`) or loads code or configuration ([`FORBIDDEN_SSH_OPTIONS`]).
pub fn ssh_option(value: &str) -> Result<(), String> {
    let key = value.split_once('=').map(|(k, _)| k);
    let ok = key.is_some_and(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
        && !value.chars().any(char::is_control);
    if !ok {
        return Err(format!(
            "invalid ssh option `{value}`: expected `Key=value`, e.g. `ConnectTimeout=5`"
        ));
    }
    let key = key.unwrap_or_default().to_ascii_lowercase();
    if key.ends_with("command") || FORBIDDEN_SSH_OPTIONS.contains(&key.as_str()) {
        return Err(format!(
            "ssh option `{value}` is not allowed: a manifest may not run commands, load code or read other configuration on the operator's machine (use ~/.ssh/config for that)"
        ));
    }
    Ok(())
}

/// The cluster's directory on a host: a path with no `..` and no control characters,
/// not starting with `-` (it is an argument of the remote `lcc`); relative paths
/// start at the login's home, and `~/x` means `x` ([`home_relative`]).
pub fn host_dir(value: &str) -> Result<(), String> {
    let bad = value.is_empty()
        || value.starts_with('-')
        || (value.starts_with('~') && value != "~" && !value.starts_with("~/"))
        || value.split('/').any(|part| part == "..")
        || value.chars().any(char::is_control);
    if bad {
        Err(format!(
            "invalid dir `{value}`: expected a path without `..` and not starting with `-` (relative to the login's home unless absolute; `~/` allowed)"
        ))
    } else {
        Ok(())
    }
}

/// `dir` as the host's `lcc` takes it: `~/x` is `x` and `~` is `.` (ssh runs the
/// command in the login's home; the quoted word would not be expanded).
fn home_relative(dir: &str) -> String {
    match dir.strip_prefix('~') {
        Some("") | Some("/") => ".".to_string(),
        Some(rest) => rest.trim_start_matches('/').to_string(),
        None => dir.to_string(),
    }
}

/// A label: a key of 1-63 letters, digits, `.`, `_`, `-` and `/`; a value of at most
/// 63 of the same (empty allowed).
pub fn label(key: &str, value: &str) -> Result<(), String> {
    let word = |s: &str| {
        s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
    };
    if key.is_empty() || !word(key) {
        Err(format!(
            "invalid label `{key}`: use 1-63 letters, digits, `.`, `_`, `-` and `/`"
        ))
    } else if !word(value) {
        Err(format!(
            "invalid value `{value}` of label `{key}`: use at most 63 letters, digits, `.`, `_`, `-` and `/`"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_words() {
        let table = [
            ("10.0.0.2", true),
            ("web-1.example.org", true),
            ("fd00::2", true),
            ("", false),
            ("-oProxyCommand=x", false),
            ("root@h", false),
            ("a b", false),
            ("a\nb", false),
            ("[fe80::1%eth0]", true),
            ("h;touch${IFS}x", false),
            ("h$(id)", false),
            ("h`id`", false),
            ("h'x", false),
        ];
        for (value, ok) in table {
            assert_eq!(ssh_word(value, "address").is_ok(), ok, "{value:?}");
        }
    }

    #[test]
    fn ssh_options() {
        let table = [
            ("ConnectTimeout=5", true),
            ("StrictHostKeyChecking=accept-new", true),
            ("ConnectTimeout", false),
            ("=5", false),
            ("-F=x", false),
            ("A=b\nc", false),
            ("ProxyCommand=sh -c x", false),
            ("proxycommand=x", false),
            ("LocalCommand=x", false),
            ("PermitLocalCommand=yes", false),
            ("KnownHostsCommand=x", false),
            ("RemoteCommand=x", false),
            ("ProxyJump=x", false),
            ("Include=/tmp/x", false),
            ("Match=exec x", false),
            ("PKCS11Provider=/tmp/x.so", false),
            ("SecurityKeyProvider=/tmp/x.so", false),
            ("UserKnownHostsFile=/tmp/k", true),
        ];
        for (value, ok) in table {
            assert_eq!(ssh_option(value).is_ok(), ok, "{value:?}");
        }
    }

    #[test]
    fn host_dirs() {
        let table = [
            ("/srv/lcc", true),
            ("clusters/shop", true),
            ("~/x", true),
            ("~", true),
            ("~root/x", false),
            ("-C/other", false),
            ("", false),
            ("/srv/../etc", false),
            ("..", false),
            ("a\0b", false),
        ];
        for (value, ok) in table {
            assert_eq!(host_dir(value).is_ok(), ok, "{value:?}");
        }
    }

    #[test]
    fn home_relative_dirs() {
        let table = [
            ("~/x", "x"),
            ("~//x/y", "x/y"),
            ("~", "."),
            ("~/", "."),
            ("/srv/lcc", "/srv/lcc"),
            ("x", "x"),
        ];
        for (value, want) in table {
            assert_eq!(home_relative(value), want, "{value:?}");
        }
    }

    #[test]
    fn labels() {
        let table = [
            (("disk", "ssd"), true),
            (("example.org/tier", "front"), true),
            (("gpu", ""), true),
            (("", "x"), false),
            (("a b", "x"), false),
            (("disk", "s s"), false),
            (("disk", &*"x".repeat(64)), false),
        ];
        for ((key, value), ok) in table {
            assert_eq!(label(key, value).is_ok(), ok, "{key:?}={value:?}");
        }
    }
}
