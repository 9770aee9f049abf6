//! The API against its contract: schemathesis generates requests from docs/openapi.json
//! (valid and invalid ones) against a live daemon over TCP with its token, and checks
//! that none gets a 5xx, that every response matches its schema, that valid requests
//! are accepted and invalid ones refused. The streaming `follow=1` logs are left out
//! (a reply that never ends; `stream` tests them); a cluster without groups keeps
//! generated scales from starting hundreds of apps (they get 404). One check is off:
//! `use_after_free`, since a DELETE is accepted (202) and carried out by the daemon
//! afterwards, as Kubernetes deletes a pod: the instance shows `Removing`, then is gone.

use crate::support::tools::schemathesis;
use crate::support::{run_with_deadline, Cluster};
use std::net::SocketAddr;
use std::time::Duration;

#[test]
fn the_api_keeps_its_openapi_contract() {
    let c = Cluster::new("apicontract");
    let addr = SocketAddr::from(([127, 0, 0, 1], c.gateway_port(8)));
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            crate::support::http_app("web", ""),
            crate::support::instance("web-1", "web")
        ),
    );
    let cluster = std::fs::read_to_string(c.path().join("cluster.yaml")).expect("cluster.yaml");
    c.write(
        "cluster.yaml",
        &format!("{cluster}api: {{listen: \"{addr}\"}}\n"),
    );
    c.up();
    let token = c.lcc(&["api", "token"]).out().trim().to_string();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    // Its cache (`.schemathesis/`) goes to a directory of the test's, not the repository.
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut cmd = schemathesis();
    cmd.current_dir(scratch.path());
    cmd.args(["run", spec, "--url"])
        .arg(format!("http://{addr}"))
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "use_after_free",
            "--max-examples",
            "10",
            "--request-timeout",
            "5",
            "--exclude-operation-id",
            "instanceLogs",
            "--seed",
            "1",
            "--no-color",
        ])
        .env("SCHEMATHESIS_HOOKS", "");
    let out = run_with_deadline(cmd, Duration::from_secs(300));
    assert_eq!(
        out.code,
        Some(0),
        "schemathesis found problems:\n{}{}",
        out.out(),
        out.err()
    );
}
