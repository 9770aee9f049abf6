//! The https listener's TLS: rustls (ring) with TLS 1.2 and 1.3, ALPN `h2` and
//! `http/1.1`, and the certificate picked by the name the client asks for (SNI):
//! an entrance's file certificate for its host, else a leaf of the local CA.

use crate::certs::Issuing;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::sync::Arc;

/// Where the certificate for a handshake comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    /// The file certificate of the `n`th host rule with one.
    File(usize),
    /// A CA leaf for these names.
    Issue(Vec<String>),
    /// None: the handshake fails.
    Nothing,
}

/// The names a CA leaf is issued for when the client sends no name (an IP address URL).
pub(crate) fn default_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
}

/// Picks the certificate for `sni` (lower case): the file certificate whose host rule
/// serves the name (an exact name before a wildcard), else with a CA a leaf for the name
/// when it is `localhost`, under `.localhost` or served by an entrance's host rule, and
/// for no name at all a leaf for [`default_names`].
pub(crate) fn choose(sni: Option<&str>, files: &[&str], hosts: &[&str], ca: bool) -> Choice {
    let Some(name) = sni else {
        return match ca {
            true => Choice::Issue(default_names()),
            false => Choice::Nothing,
        };
    };
    if let Some(i) = lcc_core::host::select(files.iter().copied(), name) {
        return Choice::File(i);
    }
    let local = name == "localhost" || name.ends_with(".localhost");
    let hosted = lcc_core::host::select(hosts.iter().copied(), name).is_some();
    if ca && (local || hosted) {
        return Choice::Issue(vec![name.to_string()]);
    }
    Choice::Nothing
}

/// The certificates of one applied config.
#[derive(Debug)]
pub(crate) struct Resolver {
    /// `(host rule, certificate)` of each entrance with a loaded file certificate.
    pub(crate) files: Vec<(String, Arc<CertifiedKey>)>,
    /// Every entrance host rule.
    pub(crate) hosts: Vec<String>,
    /// The local CA, if configured and loadable.
    pub(crate) ca: Option<Arc<Issuing>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        let files: Vec<&str> = self.files.iter().map(|(r, _)| r.as_str()).collect();
        let hosts: Vec<&str> = self.hosts.iter().map(String::as_str).collect();
        match choose(sni.as_deref(), &files, &hosts, self.ca.is_some()) {
            Choice::File(i) => Some(self.files[i].1.clone()),
            Choice::Issue(names) => match self.ca.as_ref()?.leaf(&names) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::warn!("no certificate for {names:?}: {e}");
                    None
                }
            },
            Choice::Nothing => None,
        }
    }
}

/// The server config for `resolver`.
pub(crate) fn server_config(resolver: Resolver) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12]);
    // the ring provider supports both versions: this cannot fail
    let mut config = match builder {
        Ok(b) => b
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver)),
        Err(e) => unreachable!("ring supports TLS 1.2 and 1.3: {e}"),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_follows_the_name_asked_for() {
        let files = ["*.example.test", "docs.example.test", "docs.localhost"];
        let hosts = [
            "*.example.test",
            "docs.example.test",
            "docs.localhost",
            "app.test",
        ];
        let issue = |n: &str| Choice::Issue(vec![n.to_string()]);
        let cases = [
            (Some("docs.example.test"), true, Choice::File(1)),
            (Some("api.example.test"), true, Choice::File(0)),
            (Some("docs.localhost"), true, Choice::File(2)),
            (Some("other.localhost"), true, issue("other.localhost")),
            (Some("localhost"), true, issue("localhost")),
            (Some("app.test"), true, issue("app.test")),
            (Some("app.test"), false, Choice::Nothing),
            (Some("a.b.example.test"), true, Choice::Nothing),
            (Some("unknown.test"), true, Choice::Nothing),
            (None, true, Choice::Issue(default_names())),
            (None, false, Choice::Nothing),
        ];
        for (sni, ca, want) in cases {
            assert_eq!(choose(sni, &files, &hosts, ca), want, "{sni:?} ca={ca}");
        }
    }
}

/// The certificates kept across reloads: file pairs with their last good load, and the
/// local CA with its issued leaves.
#[derive(Debug, Default)]
pub(crate) struct Certs {
    store: crate::certs::Store,
    ca: Option<Arc<Issuing>>,
    ca_refused: Option<String>,
}

impl Certs {
    /// True when a certificate, key or CA file in use changed on disk.
    pub(crate) fn changed(&self, config: &lcc_core::proxy_config::Config) -> bool {
        let ca = config.https.as_ref().and_then(|h| h.ca.as_ref());
        let ca_changed = match (ca, &self.ca) {
            (Some(files), Some(issuing)) => !issuing.current(files),
            (Some(_), None) => self.ca_refused.is_none(),
            _ => false,
        };
        ca_changed || self.store.changed()
    }

    /// The TLS server config for `config`'s https listener, and what is wrong with its
    /// certificates. A pair of files that is refused serves its last good certificate.
    pub(crate) fn build(
        &mut self,
        config: &lcc_core::proxy_config::Config,
    ) -> (Arc<ServerConfig>, Vec<lcc_core::proxy_listeners::CertNote>) {
        use lcc_core::proxy_listeners::CertNote;
        let mut notes = Vec::new();
        let now = std::time::SystemTime::now();
        let mut files = Vec::new();
        let mut used = Vec::new();
        for ent in &config.entrances {
            let (Some(host), Some(tls)) = (&ent.host, &ent.tls) else {
                continue;
            };
            used.push(tls);
            let got = self.store.get(tls);
            if let Some(e) = &got.refused {
                if got.fresh {
                    tracing::warn!("entrance {}: refused certificate: {e}", ent.name);
                }
                notes.push(CertNote {
                    name: ent.name.clone(),
                    problem: format!(
                        "{e}; {}",
                        match got.serve {
                            Some(_) => "the last good certificate keeps serving",
                            None => "no certificate of its own is served",
                        }
                    ),
                    expired: false,
                });
            }
            if let Some(loaded) = got.serve {
                if crate::certs::expired(loaded.not_after, now) {
                    let problem = format!("{} expired; it is still served", tls.cert.display());
                    if got.fresh {
                        tracing::warn!("entrance {}: {problem}", ent.name);
                    }
                    notes.push(CertNote {
                        name: ent.name.clone(),
                        problem,
                        expired: true,
                    });
                }
                files.push((host.clone(), loaded.key));
            }
        }
        self.store.keep_only(&used);
        let ca_files = config.https.as_ref().and_then(|h| h.ca.as_ref());
        match ca_files {
            None => self.ca = None,
            Some(f) if self.ca.as_ref().is_some_and(|c| c.current(f)) => {}
            Some(f) => match Issuing::load(f) {
                Ok(issuing) => {
                    self.ca = Some(Arc::new(issuing));
                    self.ca_refused = None;
                }
                Err(e) => {
                    // the CA loaded before (if any) keeps issuing
                    tracing::warn!("local CA refused: {e}");
                    self.ca_refused = Some(e.to_string());
                }
            },
        }
        if let Some(reason) = &self.ca_refused {
            notes.push(CertNote {
                name: "ca".into(),
                problem: reason.clone(),
                expired: false,
            });
        }
        let resolver = Resolver {
            files,
            hosts: config
                .entrances
                .iter()
                .filter_map(|e| e.host.clone())
                .collect(),
            ca: self.ca.clone(),
        };
        (server_config(resolver), notes)
    }
}
