//! ACME through the real `lcc up` and Debian's `pebble`: the daemon obtains an entrance's
//! certificate over HTTP-01 (pebble validates against the cluster's http listener), the
//! proxy serves it with pebble's chain, and the renewal two thirds into its short
//! lifetime is served to new connections while a keep-alive connection goes on
//! answering every request.

use crate::support::pebble::{self, Pebble};
use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A TLS client: `leaf` makes one request on a new connection and prints its status and
/// the SHA-256 of the served leaf; `loop` keeps one connection and sends requests on it
/// until the stop file exists, then prints the count and the leaf it was served. The
/// chain and the name are verified against `root`. Any error exits non-zero.
const CLIENT: &str = r#"
import hashlib, http.client, os, socket, ssl, sys, time
mode, host, port, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=root)
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t = ctx.wrap_socket(s, server_hostname=host)
    c = http.client.HTTPConnection(host, port, timeout=5)
    c.sock = t
    return c, hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()
def get(c):
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
    if r.status != 200 or r.will_close:
        sys.exit("status %d, will close %s" % (r.status, r.will_close))
if mode == "leaf":
    c, leaf = connect()
    get(c)
    print(leaf)
else:
    c, leaf = connect()
    n = 0
    while not os.path.exists(sys.argv[5]) and n < 20000:
        get(c)
        n += 1
        time.sleep(0.01)
    print(n, leaf)
"#;

fn client(args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", CLIENT]).args(args);
    cmd
}

/// The leaf served to a new connection, when the chain verifies against `root`.
fn served_leaf(host: &str, port: u16, root: &Path) -> Option<String> {
    let root = root.to_str()?;
    let out = run_with_deadline(
        client(&["leaf", host, &port.to_string(), root]),
        Duration::from_secs(10),
    );
    out.status
        .success()
        .then(|| out.out().trim().to_string())
        .filter(|l| l.len() == 64)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
}

#[test]
fn a_certificate_is_obtained_over_http01_served_and_renewed_under_a_keep_alive_connection() {
    assert!(
        pebble::installed(),
        "pebble is not installed (apt-get install pebble; .ci/run does)"
    );
    let c = Cluster::new("acme");
    // 15 s certificates: renewed 10 s after issuance
    let pebble = Pebble::start(c.http().port(), Duration::from_secs(15));
    let host = "shop.lcc.test";
    std::fs::copy(&pebble.tls_ca, c.path().join("pebble-ca.pem")).expect("copy");
    let https = c.enable_https();
    c.write_web_group(1);
    c.write(
        "entrance.yaml",
        &format!(
            "kind: Entrance\nname: shop\ngateway: web\nhost: {host}\ntls:\n  acme: {{directory: \"{}\", email: ops@example.com, ca: pebble-ca.pem}}\n",
            pebble.directory
        ),
    );
    c.up();
    let obtained = wait_until(Duration::from_secs(20), || {
        !c.events_of("entrance/shop", "CertObtained").is_empty()
    });
    assert!(obtained, "no certificate:\n{}\n{}", c.dump(), pebble.logs());
    let root = pebble.issuing_root();
    let mut first = None;
    wait_until(Duration::from_secs(10), || {
        first = served_leaf(host, https, &root);
        first.is_some()
    });
    let first = first.unwrap_or_else(|| panic!("not served:\n{}", c.dump()));
    // the account key and the certificate (with its key) are the owner's only
    let certs = c.state().join("certs");
    let files: Vec<_> = std::fs::read_dir(&certs)
        .expect("certs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(certs.join(format!("{host}.pem")).exists());
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&certs), 0o700);
    // no challenge answer is left once the order is done
    let left = std::fs::read_dir(certs.join("challenges"))
        .expect("dir")
        .count();
    assert_eq!(left, 0);

    // one keep-alive connection sends requests across the renewal
    let stop = c.path().join("stop-client");
    let args = [
        "loop".to_string(),
        host.to_string(),
        https.to_string(),
        root.display().to_string(),
        stop.display().to_string(),
    ];
    // bounded: killed at the deadline should the test fail before it says stop
    let conn = std::thread::spawn(move || {
        run_with_deadline(
            client(&args.each_ref().map(String::as_str)),
            Duration::from_secs(60),
        )
    });
    let mut renewed = None;
    let seen = wait_until(Duration::from_secs(25), || {
        renewed = served_leaf(host, https, &root).filter(|l| *l != first);
        renewed.is_some()
    });
    std::fs::write(&stop, "").expect("stop");
    let out = conn.join().expect("client thread");
    assert!(seen, "not renewed:\n{}\n{}", c.dump(), pebble.logs());
    assert!(!c.events_of("entrance/shop", "CertRenewed").is_empty());
    assert!(c.events_with("CertFailed").is_empty(), "{}", c.dump());
    assert!(c.events_with("CertRefused").is_empty(), "{}", c.dump());
    let text = out.out();
    assert!(
        out.status.success(),
        "the keep-alive connection failed: {text}{}",
        out.err()
    );
    // the kept connection was served all along with the certificate it started with
    let (count, leaf) = text.trim().split_once(' ').expect("count and leaf");
    assert_eq!(leaf, first);
    assert!(count.parse::<u32>().expect("count") > 50, "{text}");
}

#[test]
fn a_ca_that_cannot_be_reached_is_reported_and_retried_after_a_backoff() {
    let c = Cluster::new("acme-down");
    let nothing = free_port();
    c.enable_https();
    c.write_web_group(1);
    c.write(
        "entrance.yaml",
        &format!(
            "kind: Entrance\nname: shop\ngateway: web\nhost: shop.lcc.test\ntls: {{acme: {{directory: \"https://127.0.0.1:{nothing}/dir\"}}}}\n"
        ),
    );
    c.up();
    let failed = wait_until(Duration::from_secs(10), || {
        !c.events_of("entrance/shop", "CertFailed").is_empty()
    });
    assert!(failed, "no CertFailed:\n{}", c.dump());
    let events = c.events_of("entrance/shop", "CertFailed");
    let message = events[0]["message"].as_str().expect("message");
    assert!(
        message.starts_with("certificate for shop.lcc.test: ")
            && message.ends_with("; retrying in 10s"),
        "{message}"
    );
    assert!(!c.state().join("certs/shop.lcc.test.pem").exists());
    // the entrance is still served over http meanwhile
    let served = wait_until(Duration::from_secs(10), || {
        http_get(c.http(), "/entrances/shop/").is_some_and(|(s, _)| s == 200)
    });
    assert!(served, "{}", c.dump());
}
