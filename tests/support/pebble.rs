//! Debian's `pebble`, the ACME test CA, on loopback for one test: its directory's own
//! https certificate from a throwaway local CA (trusted through `tls.acme.ca`), real
//! HTTP-01 validation (`PEBBLE_VA_ALWAYS_VALID` is never set) against the cluster's http
//! listener (`httpPort`), names resolved to 127.0.0.1 by `pebble-challtestsrv`'s DNS,
//! and certificates valid for a few seconds so that a test sees them renewed. Both
//! processes are killed on drop.

use super::process::KillOnDrop;
use super::{free_port, wait_until};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running pebble with its DNS.
#[derive(Debug)]
pub struct Pebble {
    /// The directory URL.
    pub directory: String,
    /// The PEM file that verifies pebble's own https (for `tls.acme.ca`).
    pub tls_ca: PathBuf,
    management: u16,
    dir: tempfile::TempDir,
    _pebble: KillOnDrop,
    _dns: KillOnDrop,
}

/// True when the programs are installed (`.ci/run` installs the `pebble` package).
pub fn installed() -> bool {
    ["pebble", "pebble-challtestsrv"].iter().all(|p| {
        Command::new(p)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

impl Pebble {
    /// Starts pebble validating HTTP-01 on `http_port` of 127.0.0.1 and issuing
    /// certificates valid for `validity`.
    pub fn start(http_port: u16, validity: Duration) -> Pebble {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca_files, _) = lcc_core::ca::ensure(&dir.path().join("ca")).expect("CA");
        let ca = lcc_core::ca::Ca::load(&ca_files).expect("CA");
        let leaf = ca
            .issue(&["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("leaf");
        let (cert, key) = (dir.path().join("pebble.pem"), dir.path().join("pebble.key"));
        std::fs::write(&cert, &leaf.chain_pem).expect("cert");
        std::fs::write(&key, &leaf.key_pem).expect("key");
        let (acme, management, dns, dns_mgmt) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert,
            "privateKey": key,
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity.as_secs(),
        }});
        let config_file = dir.path().join("pebble-config.json");
        std::fs::write(&config_file, config.to_string()).expect("config");
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let dns_child = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .stdout(log("dns.log"))
            .stderr(log("dns.err"))
            .spawn()
            .expect("start pebble-challtestsrv");
        let dns_child = KillOnDrop(dns_child);
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // no sleep before validating, and every order validated again (no reuse of
            // an earlier authorization): a renewal proves HTTP-01 anew. No refused
            // nonces: instant-acme retries one up to 3 times, and a run of bad luck
            // would make the test's timing flaky, not test lcc.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .env_remove("PEBBLE_VA_ALWAYS_VALID")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("start pebble");
        let p = Pebble {
            directory: format!("https://127.0.0.1:{acme}/dir"),
            tls_ca: ca_files.cert.clone(),
            management,
            _pebble: KillOnDrop(pebble),
            _dns: dns_child,
            dir,
        };
        let up = wait_until(Duration::from_secs(10), || {
            listening(acme) && listening(management)
        });
        assert!(up, "pebble does not listen:\n{}", p.logs());
        p
    }

    /// The root that issues pebble's certificates (from its management API), written to
    /// a file in its directory.
    pub fn issuing_root(&self) -> PathBuf {
        let out = Command::new("curl")
            .args(["-sSf", "--max-time", "5", "--cacert"])
            .arg(&self.tls_ca)
            .arg(format!("https://127.0.0.1:{}/roots/0", self.management))
            .output()
            .expect("run curl");
        assert!(out.status.success(), "no pebble root: {out:?}");
        let path = self.dir.path().join("root.pem");
        std::fs::write(&path, &out.stdout).expect("root");
        path
    }

    /// Pebble's and its DNS's output.
    pub fn logs(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "pebble:\n{}{}\ndns:\n{}",
            read("pebble.log"),
            read("pebble.err"),
            read("dns.err")
        )
    }
}
