//! The proxy's config file (`proxy.conf`, YAML) and the digest of an applied one: the
//! contract between the daemon that writes the file, the proxy that serves it and writes
//! the digest to `proxy.applied`, and `lcc up --wait` that compares the two
//! (docs/proxy.md, docs/architecture.md).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A whole `proxy.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; only `1` exists.
    pub version: u32,
    /// The entrance listener; no entrances are served without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpListener>,
    /// The TLS entrance listener: the same entrances over HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<HttpsListener>,
    /// `/entrances/NAME/` -> gateway.
    #[serde(default)]
    pub entrances: Vec<Entrance>,
    /// Fixed listeners in front of backends.
    #[serde(default)]
    pub gateways: Vec<Gateway>,
    /// Server timeouts; left out, every one has its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

impl Config {
    /// The file's text, as the daemon writes it.
    pub fn to_yaml(&self) -> String {
        // plain strings, numbers and enums: serializing them cannot fail
        serde_yaml::to_string(self).unwrap_or_default()
    }
}

/// The entrance listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpListener {
    /// `IP:PORT` to listen on.
    pub listen: String,
    /// The directory whose files answer ACME HTTP-01 challenges: a request for
    /// `/.well-known/acme-challenge/TOKEN` gets the file `TOKEN` in it (absolute; the
    /// daemon writes them while it obtains a certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme_challenges: Option<PathBuf>,
}

/// The TLS entrance listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsListener {
    /// `IP:PORT` to listen on.
    pub listen: String,
    /// Answer requests on the http listener with 308 to the same URL on this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redirect: bool,
    /// The local CA that issues a certificate for a name no file certificate covers:
    /// `localhost`, `*.localhost`, an entrance's host, and for clients that send no
    /// name, `localhost` with `127.0.0.1` and `::1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CertFiles>,
}

/// A certificate (PEM, leaf first, then its chain) and its private key (PEM), by
/// absolute path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFiles {
    /// The certificate chain file.
    pub cert: PathBuf,
    /// The private key file.
    pub key: PathBuf,
}

/// An entrance: a path prefix on the http listener routed to a gateway's backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entrance {
    /// Entrance name; its prefix is `/entrances/NAME`.
    pub name: String,
    /// Name of an http gateway.
    pub gateway: String,
    /// The host name (`docs.localhost`, or `*.localhost` for any one label) whose
    /// requests go to the gateway whole, from `/`; also served under its prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The certificate served on the https listener for `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<CertFiles>,
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
    /// This gateway's own timeouts, over the file's `timeouts` and the defaults.
    #[serde(default, skip_serializing_if = "GatewayTimeouts::is_empty")]
    pub timeouts: GatewayTimeouts,
    /// The upstream proxies (CIDRs, e.g. `10.0.0.0/8`, `192.0.2.7/32`) whose
    /// `X-Forwarded-*`, `X-Real-IP` and `Forwarded` headers this gateway keeps and extends
    /// instead of replacing them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
}

/// The timeouts of one gateway in milliseconds, each optional: one left out is the
/// file's `timeouts` value, else the default (docs/proxy.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayTimeouts {
    /// Time a TCP connect to a backend may take (default: `timeouts.connect_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// Time a backend has to send its response head, from the start of the request
    /// (default: `timeouts.response_ms`); then 504. HTTP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<u64>,
    /// How long a connection to a backend may pass with no traffic: an idle pooled
    /// keep-alive connection of an HTTP gateway is closed after it (default 60000), a TCP
    /// gateway session is closed after it (default: `timeouts.tcp_idle_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<u64>,
}

impl GatewayTimeouts {
    /// True when none is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn set(&self) -> [(&'static str, Option<u64>); 3] {
        [
            ("connect_ms", self.connect_ms),
            ("response_ms", self.response_ms),
            ("idle_ms", self.idle_ms),
        ]
    }
}

/// An address block, `IP/PREFIX` (a bare IP is the block of that one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `IP/PREFIX` or `IP`; the prefix is at most 32 (IPv4) or 128 (IPv6).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("{text:?} is not a CIDR (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)");
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = ip.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().filter(|&p| p <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        Ok(Cidr { addr, prefix })
    }

    /// True when `ip` is in the block (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(a.to_bits()), u128::from(b.to_bits()), 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
    }
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

/// The proxy's server timeouts in milliseconds, each optional: one left out has the
/// default named on its field. They apply to connections accepted after the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Time a client has to send a whole request head, which is also the longest a
    /// keep-alive client connection may sit idle between requests (default 15000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_read_ms: Option<u64>,
    /// Time a TCP connect to a backend may take (default 3000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// Time a backend has to send its response head, counted from the start of the
    /// request, upload included (default 60000); then 504.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<u64>,
    /// Time a TCP gateway session may pass with no byte either way (default 3600000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_idle_ms: Option<u64>,
    /// Time the open connections of a closed listener (or of a proxy told to stop) get
    /// to finish before they are cut (default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_ms: Option<u64>,
}

impl Timeouts {
    /// Default of [`Timeouts::header_read_ms`].
    pub const HEADER_READ: Duration = Duration::from_secs(15);
    /// Default of [`Timeouts::connect_ms`].
    pub const CONNECT: Duration = Duration::from_secs(3);
    /// Default of [`Timeouts::response_ms`].
    pub const RESPONSE: Duration = Duration::from_secs(60);
    /// Default of [`Timeouts::tcp_idle_ms`].
    pub const TCP_IDLE: Duration = Duration::from_secs(3600);
    /// Default of [`Timeouts::drain_ms`].
    pub const DRAIN: Duration = Duration::from_secs(10);
    /// Longest value accepted for any timeout (also a gateway's): a week.
    pub const MAX_MS: u64 = 7 * 24 * 3600 * 1000;

    /// Every timeout set, by field name.
    fn set(&self) -> [(&'static str, Option<u64>); 5] {
        [
            ("header_read_ms", self.header_read_ms),
            ("connect_ms", self.connect_ms),
            ("response_ms", self.response_ms),
            ("tcp_idle_ms", self.tcp_idle_ms),
            ("drain_ms", self.drain_ms),
        ]
    }
}

/// Why a `proxy.conf` was refused: each variant names the file, and the field where one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a YAML document of the expected shape.
    #[error("{path}: not a valid proxy.conf: {reason}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's message (with line and column).
        reason: String,
    },
    /// The file parsed but one field breaks a rule.
    #[error("{path}: {field}: {reason}")]
    Invalid {
        /// The config file.
        path: PathBuf,
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

    /// The error for the file at `path`.
    pub fn in_file(self, path: &Path) -> ConfigError {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            field: self.field,
            reason: self.reason,
        }
    }
}

/// The text of the `proxy.applied` marker for a config file's bytes: the lower-case hex
/// SHA-256 and a newline.
pub fn digest(config: &[u8]) -> String {
    format!("{:x}\n", Sha256::digest(config))
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let config: Config = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    validate(&config).map_err(|e| e.in_file(path))?;
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
    let mut listens = HashMap::new();
    if let Some(http) = &config.http {
        let addr = parse_listen(&http.listen).map_err(|r| FieldError::new("http.listen", r))?;
        listens.insert(addr, "http.listen".to_string());
        if let Some(dir) = http.acme_challenges.as_ref().filter(|d| !d.is_absolute()) {
            return Err(FieldError::new(
                "http.acme_challenges",
                format!("{} is not an absolute path", dir.display()),
            ));
        }
    }
    if let Some(https) = &config.https {
        let addr = parse_listen(&https.listen).map_err(|r| FieldError::new("https.listen", r))?;
        if let Some(other) = listens.insert(addr, "https.listen".to_string()) {
            return Err(FieldError::new(
                "https.listen",
                format!("{addr} is already used by {other}"),
            ));
        }
        if let Some(ca) = &https.ca {
            check_files("https.ca", ca)?;
        }
    }
    let mut names = HashMap::new();
    for (i, gw) in config.gateways.iter().enumerate() {
        validate_gateway(i, gw, &mut names, &mut listens)?;
    }
    let mut entrances = HashSet::new();
    let mut hosts = HashMap::new();
    for (i, ent) in config.entrances.iter().enumerate() {
        let field = format!("entrances[{i}]");
        check_name(&ent.name).map_err(|r| FieldError::new(format!("{field}.name"), r))?;
        if let Some(host) = &ent.host {
            crate::host::check(host).map_err(|r| FieldError::new(format!("{field}.host"), r))?;
            if let Some(other) = hosts.insert(host.as_str(), ent.name.as_str()) {
                return Err(FieldError::new(
                    format!("{field}.host"),
                    format!("host {host:?} is already entrance {other:?}'s"),
                ));
            }
        }
        if let Some(tls) = &ent.tls {
            check_files(&format!("{field}.tls"), tls)?;
            if ent.host.is_none() {
                return Err(FieldError::new(
                    format!("{field}.tls"),
                    "a certificate needs the entrance's host",
                ));
            }
        }
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
    if let Some(timeouts) = &config.timeouts {
        for (name, value) in timeouts.set() {
            check_ms(&format!("timeouts.{name}"), value)?;
        }
    }
    Ok(())
}

fn validate_gateway<'a>(
    i: usize,
    gw: &'a Gateway,
    names: &mut HashMap<&'a str, GatewayProtocol>,
    listens: &mut HashMap<SocketAddr, String>,
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
    for (name, value) in gw.timeouts.set() {
        check_ms(&format!("{field}.timeouts.{name}"), value)?;
    }
    if gw.protocol == GatewayProtocol::Tcp && gw.timeouts.response_ms.is_some() {
        return Err(FieldError::new(
            format!("{field}.timeouts.response_ms"),
            "a tcp gateway has no responses to time",
        ));
    }
    for (j, c) in gw.trusted_proxies.iter().enumerate() {
        Cidr::parse(c).map_err(|r| FieldError::new(format!("{field}.trusted_proxies[{j}]"), r))?;
    }
    Ok(())
}

/// Certificate and key paths must be absolute (the daemon resolves them).
fn check_files(field: &str, files: &CertFiles) -> Result<(), FieldError> {
    for (name, path) in [("cert", &files.cert), ("key", &files.key)] {
        if !path.is_absolute() {
            return Err(FieldError::new(
                format!("{field}.{name}"),
                format!("{} is not an absolute path", path.display()),
            ));
        }
    }
    Ok(())
}

/// A timeout must be 1 ms to a week.
fn check_ms(field: &str, value: Option<u64>) -> Result<(), FieldError> {
    match value {
        Some(ms) if ms == 0 || ms > Timeouts::MAX_MS => Err(FieldError::new(
            field,
            format!("{ms} is not 1 to {} milliseconds", Timeouts::MAX_MS),
        )),
        _ => Ok(()),
    }
}

/// Parses a listen address, which must be a literal `IP:PORT`.
pub fn parse_listen(listen: &str) -> Result<SocketAddr, String> {
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
    if backend.parse::<SocketAddr>().is_ok() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(text: &str) -> String {
        match parse(text, Path::new("proxy.conf")) {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("not refused for a field: {other:?}"),
        }
    }

    #[test]
    fn the_daemons_text_is_unchanged_and_reads_back() {
        let config = Config {
            version: 1,
            http: Some(HttpListener {
                acme_challenges: None,
                listen: "127.0.0.1:8080".into(),
            }),
            https: None,
            entrances: vec![
                Entrance {
                    name: "hello".into(),
                    gateway: "hello".into(),
                    host: None,
                    tls: None,
                },
                Entrance {
                    name: "docs".into(),
                    gateway: "hello".into(),
                    host: Some("docs.localhost".into()),
                    tls: None,
                },
            ],
            gateways: vec![
                Gateway {
                    name: "hello".into(),
                    listen: "127.0.0.1:9000".into(),
                    protocol: GatewayProtocol::Http,
                    backends: vec!["127.0.0.1:30001".into(), "db.local:5432".into()],
                    timeouts: GatewayTimeouts::default(),
                    trusted_proxies: vec![],
                },
                Gateway {
                    name: "db".into(),
                    listen: "127.0.0.1:9001".into(),
                    protocol: GatewayProtocol::Tcp,
                    backends: vec![],
                    timeouts: GatewayTimeouts::default(),
                    trusted_proxies: vec![],
                },
            ],
            timeouts: None,
        };
        let text = config.to_yaml();
        assert_eq!(
            text,
            "version: 1\nhttp:\n  listen: 127.0.0.1:8080\nentrances:\n- name: hello\n  gateway: hello\n\
             - name: docs\n  gateway: hello\n  host: docs.localhost\n\
             gateways:\n- name: hello\n  listen: 127.0.0.1:9000\n  protocol: http\n  backends:\n  \
             - 127.0.0.1:30001\n  - db.local:5432\n- name: db\n  listen: 127.0.0.1:9001\n  \
             protocol: tcp\n  backends: []\n"
        );
        assert_eq!(parse(&text, Path::new("p")).expect("parses"), config);
    }

    #[test]
    fn each_rule_names_its_field() {
        let gw = |listen: &str, backend: &str| {
            format!("version: 1\ngateways: [{{name: a, listen: \"{listen}\", protocol: http, backends: [\"{backend}\"]}}]\n")
        };
        assert_eq!(field_of("version: 2\n"), "version");
        assert_eq!(
            field_of("version: 1\nhttp: {listen: \"127.0.0.1:1\", acme_challenges: c}\n"),
            "http.acme_challenges"
        );
        let absolute = "version: 1\nhttp: {listen: \"127.0.0.1:1\", acme_challenges: /c}\n";
        assert!(parse(absolute, Path::new("p")).is_ok());
        assert_eq!(field_of(&gw("x", "h:1")), "gateways[0].listen");
        assert_eq!(
            field_of(&gw("127.0.0.1:1", "h:0")),
            "gateways[0].backends[0]"
        );
        assert_eq!(
            field_of("version: 1\nentrances: [{name: x, gateway: missing}]\n"),
            "entrances[0].gateway"
        );
        let ents = |a: &str, b: &str| {
            format!("version: 1\ngateways: [{{name: g, listen: \"127.0.0.1:1\", protocol: http}}]\n\
                     entrances: [{{name: a, gateway: g, host: \"{a}\"}}, {{name: b, gateway: g, host: \"{b}\"}}]\n")
        };
        assert_eq!(
            field_of(&ents("a.localhost", "B.localhost")),
            "entrances[1].host"
        );
        assert_eq!(
            field_of(&ents("*.localhost", "*.localhost")),
            "entrances[1].host"
        );
        assert!(parse(&ents("*.localhost", "b.localhost"), Path::new("p")).is_ok());
        assert_eq!(
            field_of("version: 1\ntimeouts: {header_read_ms: 0}\n"),
            "timeouts.header_read_ms"
        );
        assert!(matches!(
            parse("version: 1\ntimeouts: {header_ms: 5}\n", Path::new("p")),
            Err(ConfigError::Parse { .. })
        ));
        let ok = parse(
            "version: 1\ntimeouts: {header_read_ms: 250}\n",
            Path::new("p"),
        );
        assert_eq!(
            ok.expect("valid").timeouts.expect("set").header_read_ms,
            Some(250)
        );
    }

    #[test]
    fn a_gateways_timeouts_and_trusted_proxies_are_checked() {
        let gw = |extra: &str| {
            format!("version: 1\ngateways: [{{name: a, listen: \"127.0.0.1:1\", protocol: http{extra}}}]\n")
        };
        let ok = parse(
            &gw(", timeouts: {connect_ms: 100, response_ms: 200, idle_ms: 300}, trusted_proxies: [10.0.0.0/8, \"::1\"]"),
            Path::new("p"),
        )
        .expect("valid");
        assert_eq!(ok.gateways[0].timeouts.response_ms, Some(200));
        assert_eq!(ok.gateways[0].trusted_proxies.len(), 2);
        assert_eq!(
            parse(&ok.to_yaml(), Path::new("p")).expect("reads back"),
            ok
        );
        assert_eq!(
            field_of(&gw(", timeouts: {response_ms: 0}")),
            "gateways[0].timeouts.response_ms"
        );
        assert_eq!(
            field_of(&gw(", trusted_proxies: [10.0.0.0/33]")),
            "gateways[0].trusted_proxies[0]"
        );
        let tcp = "version: 1\ngateways: [{name: a, listen: \"127.0.0.1:1\", protocol: tcp, timeouts: {response_ms: 5}}]\n";
        assert_eq!(field_of(tcp), "gateways[0].timeouts.response_ms");
    }

    #[test]
    fn cidrs_contain_their_addresses() {
        let c = |t: &str| Cidr::parse(t).expect(t);
        let ip = |t: &str| t.parse::<IpAddr>().expect(t);
        assert!(c("10.0.0.0/8").contains(ip("10.200.1.1")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(c("0.0.0.0/0").contains(ip("1.2.3.4")));
        assert!(c("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(!c("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(c("fd00::/8").contains(ip("fd12::1")));
        assert!(!c("fd00::/8").contains(ip("10.0.0.1")));
        assert!(c("::/0").contains(ip("::1")));
        for bad in ["10.0.0.0/33", "10.0.0.0/", "x/8", "10.0.0.0/+8", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_digest_is_the_sha256_of_the_bytes() {
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
        );
    }
}
