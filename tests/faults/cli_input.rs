//! Fault family 8e, bad input at the CLI's door: hostile names (path traversal,
//! absolute paths, shell metacharacters, NUL-free garbage, hidden characters, huge
//! numbers) given to the cluster commands of a running cluster. Each is refused (exit 1
//! or 2) with no panic and its hidden characters escaped in the error, reads nothing
//! outside the cluster, writes nothing outside `.lcc/`, and the cluster runs on
//! unchanged.

use crate::support::{listing, wait_until, Cluster};
use std::time::Duration;

#[test]
fn hostile_names_at_the_cli_are_refused_and_change_nothing() {
    let c = Cluster::new("cliinput");
    c.write(
        "app.yaml",
        "kind: Application\nname: s\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"1000\"]\nstop: {signal: KILL, timeout: 1s}\n---\nkind: InstanceGroup\nname: g\napp: s\nreplicas: 1\n",
    );
    c.up();
    // A secret beside the cluster directory, reachable by `..` from .lcc/pods/<x>/log.
    let secret = c.path().join("secret.txt");
    std::fs::write(&secret, "root:x:0:0:TOPSECRET").expect("secret");
    let outside_before = listing(c.path())
        .into_iter()
        .filter(|p| !p.starts_with(".lcc"))
        .collect::<Vec<_>>();
    let run_before = c.members("g").first().and_then(|m| c.run_id(m));

    let names = [
        "../../../secret.txt",
        "../../..",
        "/etc/passwd",
        "g/../../..",
        "a;touch pwned",
        "$(touch pwned)",
        "`touch pwned`",
        "-rf",
        "G",
        "g\nh",
        "ab\u{202e}cd",
        "red\u{1b}[31m",
        &"x".repeat(5000),
        "",
    ];
    let mut problems = Vec::new();
    let mut runs = 0;
    for name in names {
        let mut cmds: Vec<Vec<&str>> = vec![
            vec!["logs", name],
            vec!["logs", "--stderr", name],
            vec!["start", name],
            vec!["stop", name],
            vec!["restart", name],
            vec!["delete", name],
            vec!["scale", name, "3"],
            vec!["storage", "rm", name],
        ];
        if name == "g" {
            cmds.clear();
        }
        for args in cmds {
            runs += 1;
            let out = c.lcc(&args);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let shown = format!(
                "lcc {}",
                args.iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            if !matches!(out.code, Some(1) | Some(2)) {
                problems.push(format!(
                    "{shown}: exit {:?}, want 1 or 2; stdout {stdout:?}",
                    out.code
                ));
            }
            if out.err().contains("panicked") {
                problems.push(format!("{shown}: panicked: {}", out.err()));
            }
            // a name is quoted with its hidden characters escaped, never raw
            if out.err().contains(['\u{202e}', '\u{1b}']) {
                problems.push(format!(
                    "{shown}: a hidden character echoed raw: {:?}",
                    out.err()
                ));
            }
            if stdout.contains("TOPSECRET")
                || out.err().contains("TOPSECRET")
                || stdout.contains("root:x:0:0:")
            {
                problems.push(format!("{shown}: printed a file outside the cluster"));
            }
        }
    }
    for (args, ok) in [
        (vec!["scale", "g", "-1"], false),
        (vec!["scale", "g", "99999999999"], false),
        (vec!["scale", "g", "x"], false),
    ] {
        runs += 1;
        let out = c.lcc(&args);
        if (out.code == Some(0)) != ok || out.err().contains("panicked") {
            problems.push(format!(
                "lcc {}: exit {:?}: {}",
                args.join(" "),
                out.code,
                out.err()
            ));
        }
    }
    let outside_after = listing(c.path())
        .into_iter()
        .filter(|p| !p.starts_with(".lcc"))
        .collect::<Vec<_>>();
    if outside_after != outside_before {
        problems.push(format!(
            "files appeared outside .lcc: {outside_before:?} -> {outside_after:?}"
        ));
    }
    let still = wait_until(Duration::from_secs(5), || {
        c.members("g").first().and_then(|m| c.run_id(m)) == run_before
    });
    if !still {
        problems.push(format!(
            "the group's pod changed: {run_before:?} -> {:?}",
            c.members("g").first().and_then(|m| c.run_id(m))
        ));
    }
    if std::fs::read_to_string(&secret).unwrap_or_default() != "root:x:0:0:TOPSECRET" {
        problems.push("the secret beside the cluster was changed".into());
    }
    eprintln!(
        "faults: hostile CLI names: {runs} commands, {} problems",
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
