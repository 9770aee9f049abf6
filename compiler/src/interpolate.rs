//! Interpolation of manifest values at load time, as Docker Compose does it:
//! `${VAR}`, `${VAR:-default}` / `${VAR-default}`, `${VAR:?message}` / `${VAR?message}`,
//! `$$` for a literal `$`, and `${gateway:NAME}` / `${gateway:NAME.port}` /
//! `${gateway:NAME.host}` for a Gateway's address.
//!
//! The variables come from the shell's environment, then `lcc up --env-file F`, then
//! `.env` in the cluster directory (the first that defines a name wins). Two kinds of
//! reference are left as written, for the pod to expand at run time as before this
//! existed, so that existing manifests keep their meaning: `${LCC_…}` names (set by the
//! daemon when the pod starts) and a plain `${VAR}` that nothing defines at load time.
//! Text that is not one of the forms above (`$VAR`, `$(cmd)`, `${}`, an unterminated
//! `${`) is kept as written too. A `:-` default is taken as written (not interpolated
//! again).
//!
//! [`interpolate`] is the one parser of this syntax; the run-time `${NAME}` of a pod's
//! command is [`crate::render::split_refs`].

use crate::render::is_name;
use crate::yaml::{Node, Pos, Value};
use std::borrow::Cow;
use std::collections::HashMap;

/// Where a name's value comes from at load time, highest precedence first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars(HashMap<String, String>);

impl Vars {
    /// Layers the sources: a name of `shell` wins over the same name of `env_file`,
    /// which wins over `dotenv`.
    pub fn layered(
        shell: impl IntoIterator<Item = (String, String)>,
        env_file: &[(String, String)],
        dotenv: &[(String, String)],
    ) -> Vars {
        let mut map = HashMap::new();
        for (name, value) in dotenv.iter().chain(env_file).cloned().chain(shell) {
            map.insert(name, value);
        }
        Vars(map)
    }

    /// The value of a name, if any source defines it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A Gateway's address as clients reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayAddr {
    /// The host to connect to: the gateway's `address`, with an unspecified one
    /// (`0.0.0.0`, `::`) replaced by the loopback address of its family.
    pub host: String,
    /// The gateway's port, as written.
    pub port: String,
}

impl GatewayAddr {
    /// From a Gateway's `address` (default `127.0.0.1`) and `port`.
    pub fn new(address: Option<&str>, port: &str) -> GatewayAddr {
        let host = match address.unwrap_or("127.0.0.1") {
            "0.0.0.0" => "127.0.0.1",
            "::" | "[::]" => "::1",
            other => other,
        };
        GatewayAddr {
            host: host.to_string(),
            port: port.to_string(),
        }
    }

    /// `host:port`, with an IPv6 host in brackets.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Everything a reference may resolve to.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Variables at load time.
    pub vars: Vars,
    /// Gateways by name.
    pub gateways: HashMap<String, GatewayAddr>,
}

/// Why a value cannot be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    /// `${VAR:?message}` (or `${VAR?message}`) with VAR unset (or empty).
    #[error("required variable `{name}` is not set{}", colon(message))]
    Required {
        /// The variable.
        name: String,
        /// The manifest's message (may be empty).
        message: String,
    },
    /// `${gateway:NAME}` naming no Gateway.
    #[error("`${{gateway:{name}}}`: no Gateway `{name}`{hint}")]
    UnknownGateway {
        /// The name written.
        name: String,
        /// `; did you mean ...?` for a close existing name, or empty.
        hint: String,
    },
    /// `${gateway:NAME.x}` with `x` neither `port` nor `host`.
    #[error("`${{gateway:{name}.{part}}}`: expected `${{gateway:{name}}}`, `${{gateway:{name}.host}}` or `${{gateway:{name}.port}}`")]
    GatewayPart {
        /// The gateway.
        name: String,
        /// What followed the dot.
        part: String,
    },
}

/// `: message`, or nothing for an empty message.
fn colon(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Interpolates one manifest value.
pub fn interpolate<'t>(text: &'t str, ctx: &Context) -> Result<Cow<'t, str>, InterpolateError> {
    interpolate_at(text, ctx).map_err(|(_, e)| e)
}

/// [`interpolate`], an error also giving the reference as written (`${DB:?set it}`), so
/// that a diagnostic can point at it.
fn interpolate_at<'t>(
    text: &'t str,
    ctx: &Context,
) -> Result<Cow<'t, str>, (String, InterpolateError)> {
    if !text.contains('$') {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let braced = after
            .strip_prefix('{')
            .and_then(|b| b.find('}').map(|end| (&b[..end], &b[end + 1..])));
        match braced {
            Some((body, tail)) => {
                match reference(body, ctx).map_err(|e| (format!("${{{body}}}"), e))? {
                    Some(value) => out.push_str(&value),
                    None => {
                        out.push_str("${");
                        out.push_str(body);
                        out.push('}');
                    }
                }
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// The value of the reference `${body}`, or `None` to keep it as written.
fn reference(body: &str, ctx: &Context) -> Result<Option<String>, InterpolateError> {
    if let Some(gateway) = body.strip_prefix("gateway:") {
        return gateway_ref(gateway, ctx).map(Some);
    }
    let split = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let (name, op) = body.split_at(split);
    if !is_name(name) || name.starts_with("LCC_") {
        return Ok(None);
    }
    let value = ctx.vars.get(name);
    let set_nonempty = value.filter(|v| !v.is_empty());
    let missing = |message: &str| InterpolateError::Required {
        name: name.to_string(),
        message: message.to_string(),
    };
    Ok(Some(if op.is_empty() {
        match value {
            Some(v) => v.to_string(),
            None => return Ok(None),
        }
    } else if let Some(default) = op.strip_prefix(":-") {
        set_nonempty.unwrap_or(default).to_string()
    } else if let Some(default) = op.strip_prefix('-') {
        value.unwrap_or(default).to_string()
    } else if let Some(message) = op.strip_prefix(":?") {
        set_nonempty.ok_or_else(|| missing(message))?.to_string()
    } else if let Some(message) = op.strip_prefix('?') {
        value.ok_or_else(|| missing(message))?.to_string()
    } else {
        return Ok(None);
    }))
}

/// `${gateway:NAME}`, `${gateway:NAME.host}`, `${gateway:NAME.port}`.
fn gateway_ref(reference: &str, ctx: &Context) -> Result<String, InterpolateError> {
    let (name, part) = match reference.split_once('.') {
        Some((name, part)) => (name, Some(part)),
        None => (reference, None),
    };
    let Some(addr) = ctx.gateways.get(name) else {
        let mut names: Vec<&str> = ctx.gateways.keys().map(String::as_str).collect();
        names.sort_unstable();
        return Err(InterpolateError::UnknownGateway {
            name: name.to_string(),
            hint: crate::rules::did_you_mean(name, names),
        });
    };
    match part {
        None => Ok(addr.host_port()),
        Some("port") => Ok(addr.port.clone()),
        Some("host") => Ok(addr.host.clone()),
        Some(other) => Err(InterpolateError::GatewayPart {
            name: name.to_string(),
            part: other.to_string(),
        }),
    }
}

/// A value that could not be interpolated: where, which field, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The scalar's position.
    pub pos: Pos,
    /// Its field path from the document root (`local.env.DB`, `command[1]`).
    pub field: String,
    /// The reference that failed, as written (`${DB:?set it}`).
    pub reference: String,
    /// Why.
    pub error: InterpolateError,
}

/// Interpolates every scalar value of a document in place (mapping keys are names,
/// never interpolated), collecting every failure.
pub(crate) fn document(root: &mut Node, ctx: &Context) -> Vec<Failure> {
    let mut failures = Vec::new();
    walk(root, ctx, String::new(), &mut failures);
    failures
}

/// [`document`] below `path`.
fn walk(node: &mut Node, ctx: &Context, path: String, failures: &mut Vec<Failure>) {
    match &mut node.value {
        Value::Scalar { text, plain } => match interpolate_at(text, ctx) {
            Ok(Cow::Borrowed(_)) => {}
            Ok(Cow::Owned(new)) => {
                // `port: "${DB_PORT}"`: a value that is one reference, quoted so that
                // YAML reads it, takes the type of what it becomes (a number here).
                let whole = text.starts_with("${") && text.find('}') == Some(text.len() - 1);
                if whole && !new.contains("${") {
                    *plain = true;
                }
                *text = new;
            }
            Err((reference, error)) => failures.push(Failure {
                pos: node.pos,
                field: path,
                reference,
                error,
            }),
        },
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, ctx, format!("{path}[{i}]"), failures);
            }
        }
        Value::Map(entries) => {
            for entry in entries {
                let field = if path.is_empty() {
                    entry.key.clone()
                } else {
                    format!("{path}.{}", entry.key)
                };
                walk(&mut entry.value, ctx, field, failures);
            }
        }
    }
}

/// The address of every Gateway among `roots`, for `${gateway:NAME}`: its `address` and
/// `port` interpolated with variables alone (a problem there is reported when the
/// Gateway itself is interpolated).
pub(crate) fn gateways<'a>(
    roots: impl IntoIterator<Item = &'a Node>,
    vars: &Vars,
) -> HashMap<String, GatewayAddr> {
    let plain = Context {
        vars: vars.clone(),
        gateways: HashMap::new(),
    };
    let text = |node: &Node, key: &str| -> Option<String> {
        let raw = node.get(key)?.as_str()?;
        interpolate(raw, &plain).ok().map(Cow::into_owned)
    };
    roots
        .into_iter()
        .filter(|root| root.get("kind").and_then(Node::as_str) == Some("Gateway"))
        .filter_map(|root| {
            let name = text(root, "name")?;
            let port = text(root, "port")?;
            Some((
                name,
                GatewayAddr::new(text(root, "address").as_deref(), &port),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        let shell = [("SHELL_ONLY", "s"), ("BOTH", "from-shell"), ("EMPTY", "")];
        let env_file = [("BOTH", "from-file"), ("FILE_ONLY", "f"), ("FD", "file")];
        let dotenv = [("FD", "dotenv"), ("DOT_ONLY", "d")];
        let owned = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut gateways = HashMap::new();
        gateways.insert("db".to_string(), GatewayAddr::new(None, "5432"));
        gateways.insert("web".to_string(), GatewayAddr::new(Some("::"), "80"));
        Context {
            vars: Vars::layered(owned(&shell), &owned(&env_file), &owned(&dotenv)),
            gateways,
        }
    }

    #[test]
    fn every_form() {
        let ctx = ctx();
        let table: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("${SHELL_ONLY}", "s"),
            ("a${FILE_ONLY}b${DOT_ONLY}c", "afbdc"),
            ("${BOTH}", "from-shell"),
            ("${FD}", "file"),
            ("${NOWHERE}", "${NOWHERE}"),
            ("${LCC_PORT_HTTP}", "${LCC_PORT_HTTP}"),
            ("${LCC_X:-y}", "${LCC_X:-y}"),
            ("${NOWHERE:-dflt}", "dflt"),
            ("${EMPTY:-dflt}", "dflt"),
            ("${EMPTY-dflt}", ""),
            ("${NOWHERE-dflt}", "dflt"),
            ("${SHELL_ONLY:-dflt}", "s"),
            ("${NOWHERE:-}", ""),
            ("${EMPTY?x}", ""),
            ("${SHELL_ONLY:?x}", "s"),
            ("$$", "$"),
            ("$${SHELL_ONLY}", "${SHELL_ONLY}"),
            ("$$$$", "$$"),
            ("cost: 5$", "cost: 5$"),
            (
                "$HOME $(id) ${} ${1x} ${_} ${A",
                "$HOME $(id) ${} ${1x} ${_} ${A",
            ),
            ("${X!}", "${X!}"),
            ("${gateway:db}", "127.0.0.1:5432"),
            ("${gateway:db.port}", "5432"),
            ("${gateway:db.host}", "127.0.0.1"),
            ("${gateway:web}", "[::1]:80"),
            ("http://${gateway:db}/x", "http://127.0.0.1:5432/x"),
        ];
        for (text, want) in table {
            let got = interpolate(text, &ctx).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(&got, want, "{text}");
        }
    }

    #[test]
    fn errors() {
        let ctx = ctx();
        let table: &[(&str, &str)] = &[
            ("${NOWHERE:?give it}", "required variable `NOWHERE` is not set: give it"),
            ("${EMPTY:?}", "required variable `EMPTY` is not set"),
            ("${NOWHERE?x}", "required variable `NOWHERE` is not set: x"),
            ("${gateway:dv}", "`${gateway:dv}`: no Gateway `dv`; did you mean `db`?"),
            ("${gateway:zzzzzz}", "`${gateway:zzzzzz}`: no Gateway `zzzzzz`"),
            (
                "${gateway:db.addr}",
                "`${gateway:db.addr}`: expected `${gateway:db}`, `${gateway:db.host}` or `${gateway:db.port}`",
            ),
        ];
        for (text, want) in table {
            let err = interpolate(text, &ctx).expect_err(text);
            assert_eq!(err.to_string(), *want, "{text}");
        }
    }

    #[test]
    fn text_without_a_dollar_is_borrowed() {
        assert!(matches!(
            interpolate("abc", &Context::default()),
            Ok(Cow::Borrowed("abc"))
        ));
    }
}
