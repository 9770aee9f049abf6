//! The daemon's side of ACME: one task (`crate::acme::keep`) per entrance whose
//! certificate comes from an ACME CA, started and stopped as the plan changes; each
//! outcome becomes an event (`CertObtained`, `CertRenewed`, `CertFailed`) and makes the
//! proxy config name the certificate file once there is one.

use super::{Daemon, Msg};
use crate::acme::{Job, Outcome};
use crate::proxyconf::AcmeServed;
use lcc_core::events::Reason;
use lcc_core::proxy_config::CertFiles;

impl Daemon {
    /// The ACME jobs of the plan: entrances with `tls.acme` and a host, when the
    /// cluster serves https.
    fn acme_jobs(&self) -> Vec<Job> {
        if self.plan.https.is_none() {
            return Vec::new();
        }
        self.plan
            .entrances
            .iter()
            .filter_map(|e| {
                Some(Job {
                    entrance: e.name.clone(),
                    host: e.host.clone()?,
                    acme: e.acme.clone()?,
                    certs: self.layout.certs_dir(),
                    challenges: self.layout.acme_challenges(),
                    http: crate::acme::reach(&self.plan.http),
                })
            })
            .collect()
    }

    /// Starts the tasks of new or changed ACME entrances, stops those of the others.
    pub(super) fn sync_acme(&mut self) {
        let jobs = self.acme_jobs();
        self.acme.retain(|_, (job, task)| {
            let keep = jobs.contains(job);
            if !keep {
                task.abort();
            }
            keep
        });
        if !jobs.is_empty() {
            let certs = self.layout.certs_dir();
            if let Err(e) = lcc_core::layout::make_private_dir(&certs) {
                tracing::warn!("{}: {e}", certs.display());
            }
        }
        for job in jobs {
            if self.acme.contains_key(&job.entrance) {
                continue;
            }
            let tx = self.tx.clone();
            let task = tokio::spawn(crate::acme::keep(job.clone(), move |job, outcome| {
                let _ = tx.send(Msg::Acme {
                    entrance: job.entrance.clone(),
                    host: job.host.clone(),
                    outcome,
                });
            }));
            self.acme.insert(job.entrance.clone(), (job, task));
        }
    }

    /// Stops every ACME task (the daemon is stopping).
    pub(super) fn stop_acme(&mut self) {
        for (_, (_, task)) in std::mem::take(&mut self.acme) {
            task.abort();
        }
    }

    /// Reports an attempt's outcome; a new certificate file is named in the proxy config.
    pub(super) fn acme_done(&mut self, entrance: &str, host: &str, outcome: Outcome) {
        let object = format!("entrance/{entrance}");
        let until = |t: std::time::SystemTime| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        };
        match outcome {
            Outcome::Obtained(t) => self.emit(
                &object,
                Reason::CertObtained,
                &format!("certificate for {host} obtained, valid until {}", until(t)),
            ),
            Outcome::Renewed(t) => self.emit(
                &object,
                Reason::CertRenewed,
                &format!("certificate for {host} renewed, valid until {}", until(t)),
            ),
            Outcome::Failed { error, retry_in } => self.emit(
                &object,
                Reason::CertFailed,
                &format!(
                    "certificate for {host}: {error}; retrying in {}",
                    humantime::format_duration(retry_in)
                ),
            ),
        }
        self.backends_dirty = true;
    }

    /// What the proxy config needs of ACME: the challenge directory, and the
    /// certificate file of each ACME entrance that has one.
    pub(super) fn acme_served(&self) -> Option<AcmeServed> {
        if self.acme.is_empty() {
            return None;
        }
        let certs = self
            .acme
            .values()
            .filter_map(|(job, _)| {
                let file = crate::acme::cert_file(&job.certs, &job.host);
                let file = std::path::absolute(&file).unwrap_or(file);
                file.exists().then(|| {
                    let files = CertFiles {
                        cert: file.clone(),
                        key: file,
                    };
                    (job.entrance.clone(), files)
                })
            })
            .collect();
        let challenges = self.layout.acme_challenges();
        Some(AcmeServed {
            challenges: std::path::absolute(&challenges).unwrap_or(challenges),
            certs,
        })
    }
}
