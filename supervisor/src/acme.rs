//! The ACME client (RFC 8555, HTTP-01, through `instant-acme`): obtains and renews the
//! certificate of an entrance's host. The daemon runs one task per such entrance; the
//! proxy serves the certificate file it writes (reloaded live on change) and answers
//! the CA's challenge requests from the files it writes in `.lcc/certs/challenges/`.
//!
//! Files, all 0600 in `.lcc/certs/` (0700): `account-<digest of the directory URL>.json`
//! (the account's key and URL, made on first use), and `<host>.pem`, the private key
//! then the chain, replaced whole by a rename so that the proxy never reads a key of
//! one certificate with another (the proxy config names that one file as both).

use crate::renewal::{self, Validity};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use lcc_compiler::AcmeSpec;
use sha2::Digest;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The CA refused a step or could not be reached.
    #[error("{step}: {source}")]
    Protocol {
        /// What was being done.
        step: &'static str,
        /// The client's error (a CA's problem document is shown with its detail).
        #[source]
        source: instant_acme::Error,
    },
    /// A file of the account or certificate cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The CA answered something this client cannot go on with.
    #[error("{0}")]
    Refused(String),
}

fn step(step: &'static str) -> impl FnOnce(instant_acme::Error) -> AcmeError {
    move |source| AcmeError::Protocol { step, source }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AcmeError + '_ {
    move |source| AcmeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One entrance's certificate to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The entrance.
    pub entrance: String,
    /// Its host (an exact name: HTTP-01 cannot prove a wildcard).
    pub host: String,
    /// The CA and account.
    pub acme: AcmeSpec,
    /// `.lcc/certs/`.
    pub certs: PathBuf,
    /// `.lcc/certs/challenges/`, served by the proxy's http listener.
    pub challenges: PathBuf,
    /// The proxy's http listener as reached from here, to see an answer served before
    /// the CA is told to look.
    pub http: Option<SocketAddr>,
}

/// The address to reach a listener on `listen` at from this machine: itself, or
/// loopback for an unspecified address (`0.0.0.0:80`).
pub fn reach(listen: &str) -> Option<SocketAddr> {
    let mut addr: SocketAddr = listen.parse().ok()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    Some(addr)
}

/// How long the proxy has to serve a new answer (it picks up a new config within a
/// second; at the first order of a cluster it may still be starting).
const SERVED_WITHIN: Duration = Duration::from_secs(15);

/// Waits until the proxy answers `token` on `http`: telling the CA before would have
/// it validate against a proxy still starting, and fail the order.
async fn until_served(http: SocketAddr, host: &str, token: &str) -> Result<(), AcmeError> {
    let path = format!("{}{token}", lcc_core::acme_challenge::PREFIX);
    let deadline = tokio::time::Instant::now() + SERVED_WITHIN;
    loop {
        let got =
            crate::httpprobe::get(http, host, &path, Duration::from_secs(2), Duration::ZERO).await;
        match got {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(AcmeError::Refused(format!(
                    "the proxy does not serve the challenge at http://{http}{path}: {e}"
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// What an attempt came to, for the daemon's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A first certificate for the host, valid until then.
    Obtained(SystemTime),
    /// A renewed one, valid until then.
    Renewed(SystemTime),
    /// Failed; retried after the delay.
    Failed {
        /// Why.
        error: String,
        /// The backoff before the next attempt.
        retry_in: Duration,
    },
}

/// The certificate file of `host` in `certs`.
pub fn cert_file(certs: &Path, host: &str) -> PathBuf {
    certs.join(format!("{host}.pem"))
}

/// The validity of the certificate in `file`, when it is one for `host`.
pub fn held(file: &Path, host: &str) -> Option<Validity> {
    let data = std::fs::read(file).ok()?;
    for pem in x509_parser::pem::Pem::iter_from_buffer(&data) {
        let pem = pem.ok()?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        let cert = pem.parse_x509().ok()?;
        let names = cert.subject_alternative_name().ok()??;
        let covers = names.value.general_names.iter().any(
            |n| matches!(n, x509_parser::extensions::GeneralName::DNSName(d) if d.eq_ignore_ascii_case(host)),
        );
        let time = |t: i64| Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(t).ok()?));
        let validity = cert.validity();
        return covers
            .then_some(Validity {
                not_before: time(validity.not_before.timestamp())?,
                not_after: time(validity.not_after.timestamp())?,
            })
            .filter(|v| v.not_after > SystemTime::now());
    }
    None
}

/// Keeps `job`'s certificate for ever: obtains one when none is held, renews it two
/// thirds into its lifetime, backs off after failures; tells `report` each outcome.
pub async fn keep(job: Job, report: impl Fn(&Job, Outcome)) {
    let file = cert_file(&job.certs, &job.host);
    let mut failures = 0u32;
    loop {
        let before = held(&file, &job.host);
        tokio::time::sleep(renewal::wait(before, SystemTime::now())).await;
        match obtain(&job).await {
            Ok(not_after) => {
                failures = 0;
                report(
                    &job,
                    match before {
                        None => Outcome::Obtained(not_after),
                        Some(_) => Outcome::Renewed(not_after),
                    },
                );
            }
            Err(e) => {
                failures += 1;
                let retry_in = renewal::backoff(failures);
                tracing::warn!("acme {}: {e}", job.host);
                report(
                    &job,
                    Outcome::Failed {
                        error: e.to_string(),
                        retry_in,
                    },
                );
                tokio::time::sleep(retry_in).await;
            }
        }
    }
}

/// The account file for `directory`.
fn account_file(certs: &Path, directory: &str) -> PathBuf {
    let digest = sha2::Sha256::digest(directory.as_bytes());
    certs.join(format!("account-{}.json", hex::encode(&digest[..8])))
}

/// The account, made on first use and kept in its file.
async fn account(job: &Job) -> Result<Account, AcmeError> {
    let builder = || match &job.acme.ca {
        Some(ca) => Account::builder_with_root(ca).map_err(step("trusting the acme.ca roots")),
        None => Account::builder().map_err(step("the system's roots")),
    };
    let file = account_file(&job.certs, &job.acme.directory);
    if let Ok(text) = std::fs::read(&file) {
        if let Ok(creds) = serde_json::from_slice::<AccountCredentials>(&text) {
            return builder()?
                .from_credentials(creds)
                .await
                .map_err(step("reading the directory"));
        }
    }
    let contact = job.acme.email.as_ref().map(|e| format!("mailto:{e}"));
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contact,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, creds) = builder()?
        .create(&new, job.acme.directory.clone(), None)
        .await
        .map_err(step("creating the account"))?;
    let json = serde_json::to_vec(&creds).map_err(|e| AcmeError::Refused(e.to_string()))?;
    lcc_core::atomic::write_atomic_mode(&file, &json, 0o600).map_err(io(&file))?;
    Ok(account)
}

/// True when the CA says the account does not exist (RFC 8555, 7.3.1).
fn unknown_account(e: &instant_acme::Error) -> bool {
    matches!(e, instant_acme::Error::Api(p)
        if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"))
}

/// The challenge answers written for one order, removed when it ends however it ends.
struct Answers(Vec<PathBuf>);

impl Drop for Answers {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One order for `job.host`: answers its HTTP-01 challenge, finalizes it with a fresh
/// key and writes the certificate file. Returns the new certificate's end of validity.
pub async fn obtain(job: &Job) -> Result<SystemTime, AcmeError> {
    let account = account(job).await?;
    lcc_core::layout::make_private_dir(&job.challenges).map_err(io(&job.challenges))?;
    let ids = [Identifier::Dns(job.host.clone())];
    let mut order = match account.new_order(&NewOrder::new(&ids)).await {
        Ok(order) => order,
        Err(e) => {
            // the CA forgot the account (a test CA restarted, an account deactivated):
            // the next attempt makes a new one
            if unknown_account(&e) {
                let _ = std::fs::remove_file(account_file(&job.certs, &job.acme.directory));
            }
            return Err(step("new order")(e));
        }
    };
    let mut answers = Answers(Vec::new());
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(step("authorization"))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::Refused(format!(
                    "authorization for {} is {other:?}",
                    job.host
                )))
            }
        }
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .ok_or_else(|| AcmeError::Refused("the CA offers no http-01 challenge".into()))?;
        if !lcc_core::acme_challenge::token_ok(&challenge.token) {
            return Err(AcmeError::Refused(format!(
                "challenge token {:?} is not base64url",
                challenge.token
            )));
        }
        let path = job.challenges.join(&challenge.token);
        let answer = challenge.key_authorization();
        // the proxy runs as this user: the answer is public anyway, the directory is not
        lcc_core::atomic::write_atomic_mode(&path, answer.as_str().as_bytes(), 0o600)
            .map_err(io(&path))?;
        answers.0.push(path);
        if let Some(http) = job.http {
            until_served(http, &job.host, &challenge.token).await?;
        }
        challenge
            .set_ready()
            .await
            .map_err(step("answering the challenge"))?;
    }
    let polls = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(90));
    let status = order
        .poll_ready(&polls)
        .await
        .map_err(step("waiting for validation"))?;
    if status != OrderStatus::Ready {
        return Err(AcmeError::Refused(format!(
            "order for {} is {status:?} (the CA could not validate \
             http://{}/.well-known/acme-challenge/)",
            job.host, job.host
        )));
    }
    let key = order.finalize().await.map_err(step("finalizing"))?;
    let chain = order
        .poll_certificate(&polls)
        .await
        .map_err(step("downloading the certificate"))?;
    drop(answers);
    let file = cert_file(&job.certs, &job.host);
    let pem = format!("{key}{chain}");
    lcc_core::atomic::write_atomic_mode(&file, pem.as_bytes(), 0o600).map_err(io(&file))?;
    held(&file, &job.host).map(|v| v.not_after).ok_or_else(|| {
        AcmeError::Refused(format!(
            "the certificate the CA issued is not one for {} (or has expired)",
            job.host
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_reached_on_itself_or_on_loopback() {
        let cases = [
            ("127.0.0.1:8080", Some("127.0.0.1:8080")),
            ("0.0.0.0:80", Some("127.0.0.1:80")),
            ("[::]:80", Some("[::1]:80")),
            ("192.0.2.7:80", Some("192.0.2.7:80")),
            ("localhost:80", None),
        ];
        for (listen, want) in cases {
            let want = want.map(|w| w.parse::<SocketAddr>().expect("addr"));
            assert_eq!(reach(listen), want, "{listen}");
        }
    }

    #[test]
    fn only_the_cas_account_does_not_exist_problem_forgets_the_account() {
        let problem = |t: &str| {
            let json = serde_json::json!({"type": t, "detail": "x", "status": 400});
            instant_acme::Error::Api(serde_json::from_value(json).expect("problem"))
        };
        let cases = [
            (
                problem("urn:ietf:params:acme:error:accountDoesNotExist"),
                true,
            ),
            (problem("urn:ietf:params:acme:error:rateLimited"), false),
            (problem("urn:ietf:params:acme:error:unauthorized"), false),
            (instant_acme::Error::Str("accountDoesNotExist"), false),
        ];
        for (e, want) in cases {
            assert_eq!(unknown_account(&e), want, "{e}");
        }
    }

    #[test]
    fn each_directory_has_its_own_account_file() {
        let dir = Path::new("/c/.lcc/certs");
        let a = account_file(dir, "https://a.example/dir");
        let b = account_file(dir, "https://b.example/dir");
        assert_ne!(a, b);
        assert_eq!(a, account_file(dir, "https://a.example/dir"));
        assert!(a.starts_with(dir));
    }

    #[test]
    fn a_certificate_is_held_only_for_its_host_and_while_valid() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut params =
            rcgen::CertificateParams::new(vec!["a.example.com".to_string()]).expect("params");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::hours(2);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let file = tmp.path().join("a.example.com.pem");
        std::fs::write(&file, format!("{}{}", key.serialize_pem(), cert.pem())).expect("write");
        let v = held(&file, "a.example.com").expect("held");
        let life = v.not_after.duration_since(v.not_before).expect("order");
        assert_eq!(life, Duration::from_secs(3 * 3600));
        assert_eq!(held(&file, "b.example.com"), None);
        assert_eq!(held(&tmp.path().join("none.pem"), "a.example.com"), None);
        params.not_after = now - time::Duration::minutes(1);
        let expired = params.self_signed(&key).expect("cert");
        std::fs::write(&file, expired.pem()).expect("write");
        assert_eq!(held(&file, "a.example.com"), None);
    }
}
