//! The client side of the hosts' peers listener (docs/hosts.md): a `GET` of one of a
//! host's API routes at `ADDRESS:PORT`, with the cluster's peer token as the bearer and
//! a deadline for the whole exchange. The daemons use it to learn each other's
//! backends, the CLI to show every host (`lcc ps`, `events`, `logs`).

use std::io::Read;
use std::time::Duration;

/// Largest answer read from a host (a page of events, a log tail).
const MAX_BODY: u64 = 16 << 20;

/// Why a host did not answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// No answer within the deadline, no connection, or a broken exchange.
    #[error("{0}")]
    Unreachable(String),
    /// An answer that is not 2xx: the status and the problem's detail.
    #[error("HTTP {status}: {detail}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What the host said.
        detail: String,
    },
    /// A 2xx answer that is not the JSON expected.
    #[error("a malformed answer: {0}")]
    Malformed(String),
}

impl PeerError {
    /// The HTTP status of a refusal (404 for an instance the host does not have).
    pub fn status(&self) -> Option<u16> {
        match self {
            PeerError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client for one deadline.
#[derive(Debug, Clone)]
pub struct PeerClient {
    agent: ureq::Agent,
    token: String,
}

impl PeerClient {
    /// Requests carry `token`; each must be answered whole within `deadline`.
    pub fn new(token: &str, deadline: Duration) -> PeerClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(deadline))
            .http_status_as_error(false)
            // one connection per request: a peer that is cut must not hold a pooled one
            .max_idle_connections(0)
            .build()
            .into();
        PeerClient {
            agent,
            token: token.to_string(),
        }
    }

    /// `GET http://ADDRESS{path}` (`address` is `IP:PORT`), its body as text.
    pub fn get_text(&self, address: &str, path: &str) -> Result<String, PeerError> {
        let url = format!("http://{address}{path}");
        let mut response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| PeerError::Unreachable(describe(&e)))?;
        let status = response.status().as_u16();
        let mut text = String::new();
        response
            .body_mut()
            .as_reader()
            .take(MAX_BODY)
            .read_to_string(&mut text)
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(PeerError::Status {
                status,
                detail: problem_detail(&text),
            });
        }
        Ok(text)
    }

    /// `GET http://ADDRESS{path}` copied to `out` as it arrives, with no deadline once
    /// connected (a followed log): the connection itself must be made within
    /// `connect`.
    pub fn stream(
        token: &str,
        connect: Duration,
        address: &str,
        path: &str,
        out: &mut dyn std::io::Write,
    ) -> Result<(), PeerError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(connect))
            .timeout_recv_response(Some(connect))
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("http://{address}{path}");
        let mut response = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map_err(|e| PeerError::Unreachable(describe(&e)))?;
        let status = response.status().as_u16();
        let mut reader = response.body_mut().as_reader();
        if !(200..300).contains(&status) {
            let mut text = String::new();
            let _ = reader.take(MAX_BODY).read_to_string(&mut text);
            return Err(PeerError::Status {
                status,
                detail: problem_detail(&text),
            });
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| PeerError::Unreachable(e.to_string()))?;
            if n == 0 {
                return Ok(());
            }
            out.write_all(&buf[..n])
                .and_then(|()| out.flush())
                .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        }
    }

    /// `GET http://ADDRESS{path}` as JSON of type `T`.
    pub fn get<T: serde::de::DeserializeOwned>(
        &self,
        address: &str,
        path: &str,
    ) -> Result<T, PeerError> {
        let text = self.get_text(address, path)?;
        serde_json::from_str(&text).map_err(|e| PeerError::Malformed(e.to_string()))
    }
}

/// The `detail` of a problem document, else the start of the text.
fn problem_detail(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.trim().chars().take(200).collect())
}

/// A ureq error in a few words.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer in time".to_string(),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}
