//! Fault family 8f, bad manifests at the running daemon's door: files of the invalid
//! corpus (YAML syntax, wrong types, references, non-UTF-8 garbage, an alias bomb,
//! nesting 3000 deep) dropped one by one into a running cluster. Each is refused with
//! an `InvalidManifests` event naming the file; the daemon keeps running on the last
//! good manifests (no pod restarted), and picks up a good edit afterwards.

use crate::support;
use crate::support::{group, http_app_under_faults, wait_until, Cluster};
use std::path::Path;
use std::time::{Duration, Instant};

/// Corpus files dropped into the running cluster.
const CASES: &[&str] = &[
    "syntax-unclosed-flow.yaml",
    "syntax-tab-indent.yaml",
    "binary-garbage.yaml",
    "invalid-utf8.yaml",
    "nul-bytes.yaml",
    "yaml-bomb.yaml",
    "deeply-nested.yaml",
    "huge-name.yaml",
    "unknown-kind.yaml",
    "wrong-top-types.yaml",
    "duplicate-names.yaml",
    "gateway-collisions.yaml",
];

#[test]
fn invalid_edits_are_refused_and_the_cluster_runs_on() {
    let c = Cluster::new("badedit");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            http_app_under_faults("web", ""),
            group("web", "web", 2)
        ),
    );
    c.up();
    let daemon = c.daemon_pid().expect("daemon");
    let members = c.members("web");
    let runs: Vec<_> = members.iter().map(|m| c.run_id(m)).collect();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid-corpus");
    let mut problems = Vec::new();
    let mut took = Vec::new();
    for case in CASES {
        let before = c.events_with("InvalidManifests").len();
        let bytes = std::fs::read(corpus.join(case)).expect("corpus file");
        let name = format!("bad-{case}");
        let t0 = Instant::now();
        let tmp = c.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &bytes).expect("write");
        std::fs::rename(&tmp, c.path().join(&name)).expect("rename");
        let refused = wait_until(Duration::from_secs(10), || {
            c.events_with("InvalidManifests").len() > before
        });
        took.push(t0.elapsed());
        let named = c
            .events_with("InvalidManifests")
            .last()
            .and_then(|e| e["message"].as_str().map(|m| m.contains(&name)))
            .unwrap_or(false);
        if !refused || !named {
            problems.push(format!(
                "{case}: refused {refused}, named in the event {named}\n{}",
                c.dump()
            ));
        }
        if !support::alive(daemon) {
            problems.push(format!("{case}: the daemon died"));
            break;
        }
        std::fs::remove_file(c.path().join(&name)).expect("remove bad file");
    }
    let now: Vec<_> = members.iter().map(|m| c.run_id(m)).collect();
    if now != runs || c.members("web") != members {
        problems.push(format!(
            "pods changed while edits were refused: {runs:?} -> {now:?}"
        ));
    }
    // A good edit afterwards is applied: scale to 3 through the manifest.
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            http_app_under_faults("web", ""),
            group("web", "web", 3)
        ),
    );
    let applied = wait_until(Duration::from_secs(15), || {
        c.members("web").len() == 3 && c.members("web").iter().all(|m| c.ready(m))
    });
    if !applied {
        problems.push(format!(
            "a good edit after the bad ones was not applied\n{}",
            c.dump()
        ));
    }
    let log = std::fs::read_to_string(c.state().join("daemon.log")).unwrap_or_default();
    if log.contains("panicked") {
        problems.push(format!("daemon.log: {log}"));
    }
    took.sort();
    eprintln!(
        "faults: invalid edits at the running daemon: {} injected; refused after median {:?}, max {:?}; good edit applied: {applied}; {} problems",
        CASES.len(),
        took[took.len() / 2],
        took[took.len() - 1],
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
