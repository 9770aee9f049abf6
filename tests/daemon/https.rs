//! `Cluster.https` through the real `lcc up`: the entrance with its own certificate files
//! answers over https; a key replaced by one that is not the certificate's is reported
//! once as `CertRefused` while the last good certificate keeps serving.

use crate::support::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// `curl` over https to `name` on `port`, trusting `ca`: the status code, or 0.
fn https_status(ca: &std::path::Path, name: &str, port: u16) -> u16 {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
        ])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{name}:{port}:127.0.0.1"))
        .arg(format!("https://{name}:{port}/"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
}

#[test]
fn an_entrance_certificate_is_served_and_a_wrong_key_is_reported_once() {
    let c = Cluster::new("https");
    let certs = tempfile::tempdir().expect("tempdir");
    let (ca_files, _) = lcc_core::ca::ensure(&certs.path().join("ca")).expect("CA");
    let ca = lcc_core::ca::Ca::load(&ca_files).expect("CA");
    let leaf = ca.issue(&["web.localhost".to_string()]).expect("leaf");
    std::fs::create_dir(c.path().join("certs")).expect("mkdir");
    std::fs::write(c.path().join("certs/web.pem"), &leaf.chain_pem).expect("cert");
    std::fs::write(c.path().join("certs/web.key"), &leaf.key_pem).expect("key");
    let https = c.enable_https();
    c.write_web_group(1);
    c.write(
        "entrance.yaml",
        "kind: Entrance\nname: site\ngateway: web\nhost: web.localhost\ntls: {cert: certs/web.pem, key: certs/web.key}\n",
    );
    c.up();
    let served = wait_until(Duration::from_secs(10), || {
        https_status(&ca_files.cert, "web.localhost", https) == 200
    });
    assert!(served, "https not served:\n{}", c.dump());
    // the daemon made the local CA in the cluster's data home (no other name needs it yet)
    assert!(c.local_ca().exists());

    let other = ca.issue(&["other.localhost".to_string()]).expect("leaf");
    let key = c.path().join("certs/web.key");
    std::fs::write(c.path().join("certs/web.key.tmp"), &other.key_pem).expect("write");
    std::fs::rename(c.path().join("certs/web.key.tmp"), &key).expect("rename");
    let want = format!(
        "entrance site: {} is not the key of {}; the last good certificate keeps serving",
        key.display(),
        c.path().join("certs/web.pem").display()
    );
    let said = |c: &Cluster| -> Vec<String> {
        c.events_with("CertRefused")
            .iter()
            .filter_map(|e: &Value| e["message"].as_str().map(String::from))
            .collect()
    };
    let reported = wait_until(Duration::from_secs(10), || !said(&c).is_empty());
    assert!(reported, "no CertRefused:\n{}", c.dump());
    assert_eq!(said(&c), vec![want]);
    assert_eq!(https_status(&ca_files.cert, "web.localhost", https), 200);
    // once only, across the daemon's next light checks (every 2 s)
    let again = wait_until(Duration::from_secs(3), || said(&c).len() > 1);
    assert!(!again, "reported twice: {:?}", said(&c));
}
