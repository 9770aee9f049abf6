//! The proxy's config file (`proxy.conf`, YAML): the contract between the daemon that
//! writes it and the proxy that serves it (docs/proxy.md, docs/architecture.md).

use serde::{Deserialize, Serialize};

/// A whole `proxy.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; only `1` exists.
    pub version: u32,
    /// The entrance listener; no entrances are served without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpListener>,
    /// `/entrances/NAME/` -> gateway.
    #[serde(default)]
    pub entrances: Vec<Entrance>,
    /// Fixed listeners in front of backends.
    #[serde(default)]
    pub gateways: Vec<Gateway>,
}

/// The entrance listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpListener {
    /// `IP:PORT` to listen on.
    pub listen: String,
}

/// An entrance: a path prefix on the http listener routed to a gateway's backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entrance {
    /// Entrance name; its prefix is `/entrances/NAME`.
    pub name: String,
    /// Name of an http gateway.
    pub gateway: String,
}

/// A gateway: a listener that spreads requests (http) or connections (tcp) over backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Gateway name.
    pub name: String,
    /// `IP:PORT` to listen on.
    pub listen: String,
    /// `http` or `tcp`.
    pub protocol: GatewayProtocol,
    /// `HOST:PORT` of each ready backend, in order; may be empty.
    #[serde(default)]
    pub backends: Vec<String>,
}

/// How a gateway balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayProtocol {
    /// Round robin per request over pooled keep-alive connections.
    Http,
    /// Round robin per connection, bytes copied both ways.
    Tcp,
}

/// Why a `proxy.conf` was refused: each variant names the file, and the field where one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The config file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a YAML document of the expected shape.
    #[error("{path}: not a valid proxy.conf: {reason}")]
    Parse {
        /// The config file.
        path: std::path::PathBuf,
        /// The parser's message (with line and column).
        reason: String,
    },
    /// The file parsed but one field breaks a rule.
    #[error("{path}: {field}: {reason}")]
    Invalid {
        /// The config file.
        path: std::path::PathBuf,
        /// Where in the file, e.g. `gateways[1].listen`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A rule broken by a parsed config: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where in the file, e.g. `gateways[1].listen`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` only names the file in errors.
pub fn parse(text: &str, path: &std::path::Path) -> Result<Config, ConfigError> {
    let config: Config = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    validate(&config).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        field: e.field,
        reason: e.reason,
    })?;
    Ok(config)
}

/// Checks every rule a parsed config must keep before it may be applied.
pub fn validate(config: &Config) -> Result<(), FieldError> {
    if config.version != 1 {
        return Err(FieldError::new(
            "version",
            format!("{} is not a known version (only 1)", config.version),
        ));
    }
    let mut listens = std::collections::HashMap::new();
    if let Some(http) = &config.http {
        let addr = parse_listen(&http.listen).map_err(|r| FieldError::new("http.listen", r))?;
        listens.insert(addr, "http.listen".to_string());
    }
    let mut names = std::collections::HashMap::new();
    for (i, gw) in config.gateways.iter().enumerate() {
        validate_gateway(i, gw, &mut names, &mut listens)?;
    }
    let mut entrances = std::collections::HashSet::new();
    for (i, ent) in config.entrances.iter().enumerate() {
        let field = format!("entrances[{i}]");
        check_name(&ent.name).map_err(|r| FieldError::new(format!("{field}.name"), r))?;
        if !entrances.insert(ent.name.as_str()) {
            return Err(FieldError::new(
                format!("{field}.name"),
                format!("entrance {:?} is defined twice", ent.name),
            ));
        }
        match names.get(ent.gateway.as_str()) {
            None => {
                return Err(FieldError::new(
                    format!("{field}.gateway"),
                    format!("no gateway named {:?}", ent.gateway),
                ))
            }
            Some(GatewayProtocol::Tcp) => {
                return Err(FieldError::new(
                    format!("{field}.gateway"),
                    format!(
                        "gateway {:?} is tcp; an entrance needs an http gateway",
                        ent.gateway
                    ),
                ))
            }
            Some(GatewayProtocol::Http) => {}
        }
    }
    Ok(())
}

fn validate_gateway<'a>(
    i: usize,
    gw: &'a Gateway,
    names: &mut std::collections::HashMap<&'a str, GatewayProtocol>,
    listens: &mut std::collections::HashMap<std::net::SocketAddr, String>,
) -> Result<(), FieldError> {
    let field = format!("gateways[{i}]");
    check_name(&gw.name).map_err(|r| FieldError::new(format!("{field}.name"), r))?;
    if names.insert(gw.name.as_str(), gw.protocol).is_some() {
        return Err(FieldError::new(
            format!("{field}.name"),
            format!("gateway {:?} is defined twice", gw.name),
        ));
    }
    let addr =
        parse_listen(&gw.listen).map_err(|r| FieldError::new(format!("{field}.listen"), r))?;
    if let Some(other) = listens.insert(addr, format!("{field}.listen")) {
        return Err(FieldError::new(
            format!("{field}.listen"),
            format!("{addr} is already used by {other}"),
        ));
    }
    for (j, b) in gw.backends.iter().enumerate() {
        check_backend(b).map_err(|r| FieldError::new(format!("{field}.backends[{j}]"), r))?;
    }
    Ok(())
}

/// Parses a listen address, which must be a literal `IP:PORT`.
pub fn parse_listen(listen: &str) -> Result<std::net::SocketAddr, String> {
    listen
        .parse()
        .map_err(|_| format!("{listen:?} is not IP:PORT (e.g. 127.0.0.1:8080)"))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a name (1-128 of letters, digits, '-', '_', '.')"
        ))
    }
}

fn check_backend(backend: &str) -> Result<(), String> {
    let bad = || format!("{backend:?} is not HOST:PORT");
    if backend.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = backend.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
    match port.parse::<u16>() {
        Ok(p) if p != 0 && host_ok => Ok(()),
        _ => Err(bad()),
    }
}
