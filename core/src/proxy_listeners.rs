//! `.lcc/proxy.listeners`: the proxy's word on its listen addresses, which it serves and
//! which it cannot bind yet (with who holds them), written atomically by the proxy at
//! start and whenever that changes (`lcc-proxy --listeners FILE`). The daemon turns its
//! changes into the events `ListenerBusy` and `ListenerBound`; `lcc up --wait` reads it
//! to name a listener that is in the way. It also lists the certificates refused or
//! expired, which the daemon reports as `CertRefused` and `CertExpired`.

use crate::holder::Holder;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Every listen address of the config the proxy applies, by what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listeners {
    /// Addresses served, sorted.
    pub listening: Vec<String>,
    /// Addresses that cannot be bound yet (retried), sorted by address.
    pub busy: Vec<Busy>,
    /// Certificates of the https listener refused or expired, by entrance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certs: Vec<CertNote>,
}

/// A certificate the proxy refuses or serves expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertNote {
    /// The entrance whose `tls` it is, or `ca` for the local CA.
    pub name: String,
    /// Why it is refused (the last good one, if any, keeps serving), or when it expired.
    pub problem: String,
    /// True for an expired certificate (still served), false for a refused one.
    pub expired: bool,
}

/// An address the proxy cannot bind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    /// The listen address.
    pub listen: String,
    /// Why it cannot be bound (the system's error).
    pub error: String,
    /// The process holding it, when visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Holder>,
}

impl Busy {
    /// `127.0.0.1:9080 is taken by pid 12 (nc -l 9080)`, or with the error when the
    /// holder is not known.
    pub fn describe(&self) -> String {
        match &self.holder {
            Some(h) => format!("{} is taken by {h}", self.listen),
            None => format!("{}: {}", self.listen, self.error),
        }
    }
}

impl Listeners {
    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        text.push(b'\n');
        crate::atomic::write_atomic(path, &text)
    }

    /// Reads the file; `None` when it is missing or does not parse (not written yet).
    pub fn read(path: &Path) -> Option<Listeners> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips_and_a_torn_one_is_not_yet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proxy.listeners");
        let l = Listeners {
            listening: vec!["127.0.0.1:8080".into()],
            busy: vec![Busy {
                listen: "127.0.0.1:9080".into(),
                error: "Address already in use (os error 98)".into(),
                holder: Some(Holder {
                    pid: 12,
                    command: "nc -l 9080".into(),
                }),
            }],
            certs: vec![CertNote {
                name: "docs".into(),
                problem: "/c/k.pem is not the key of /c/c.pem".into(),
                expired: false,
            }],
        };
        l.write(&path).unwrap();
        assert_eq!(Listeners::read(&path), Some(l.clone()));
        assert_eq!(
            l.busy[0].describe(),
            "127.0.0.1:9080 is taken by pid 12 (nc -l 9080)"
        );
        std::fs::write(&path, b"{\"listening\": [").unwrap();
        assert_eq!(Listeners::read(&path), None);
    }
}
