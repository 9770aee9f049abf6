//! On several hosts each daemon runs only what is placed on its host (docs/hosts.md):
//! the `local` Host's part, or the part of the host `lcc receive --host` recorded; a
//! machine that is none of the hosts is refused; a group's replicas are shared out by
//! ordinal.

use crate::support::*;

/// Two hosts: `here` (this machine) and `there` (never reached: nothing here syncs);
/// `a` is placed here, `b` there, and the group `w` spread over both.
fn two_hosts(c: &Cluster, here_address: &str) {
    let hosts = format!(
        "kind: Host\nname: here\naddress: {here_address}\ndir: /srv/lcc/two\n\
         ---\nkind: Host\nname: there\naddress: 10.77.9.9\ndir: /srv/lcc/two\n"
    );
    let placed =
        |name: &str, host: &str| format!("{}placement: {{hosts: [{host}]}}\n", instance(name, "s"));
    c.write(
        "hosts.yaml",
        &format!(
            "{hosts}---\n{}---\n{}---\n{}---\n{}",
            shell_app("s", "exec sleep 300", 5),
            placed("a", "here"),
            placed("b", "there"),
            group("w", "s", 4)
        ),
    );
}

/// The instances the daemon runs, sorted.
fn running(c: &Cluster) -> Vec<String> {
    let mut names: Vec<String> = c
        .statuses()
        .iter()
        .filter_map(|s| s["instance"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn each_host_runs_its_part() {
    let c = Cluster::new("this-host");
    two_hosts(&c, "local");
    c.up();
    // `w`'s ranking puts one host first: it runs replicas 1 and 3, the other 2 and 4.
    let plan = c.lcc(&["plan"]);
    let here_w: Vec<String> = plan
        .out()
        .lines()
        .filter(|l| l.starts_with("w-") && l.split_whitespace().nth(1) == Some("here"))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(here_w.len(), 2, "{}", plan.out());
    let mut want: Vec<String> = here_w.clone();
    want.push("a".into());
    want.sort();
    assert_eq!(running(&c), want, "{}", c.dump());

    // A copy of the cluster synced as `there` runs the other part.
    let there = Cluster::new("other-host");
    two_hosts(&there, "local");
    std::fs::create_dir_all(there.state().join("sync")).expect("mkdir");
    std::fs::write(there.state().join("sync/host"), "there\n").expect("host");
    there.up();
    let mut want: Vec<String> = ["w-1", "w-2", "w-3", "w-4"]
        .into_iter()
        .filter(|w| !here_w.iter().any(|h| h == w))
        .map(str::to_string)
        .collect();
    want.insert(0, "b".into());
    assert_eq!(running(&there), want, "{}", there.dump());
}

#[test]
fn a_machine_that_is_no_host_is_refused() {
    let c = Cluster::new("no-host");
    two_hosts(&c, "10.77.9.8");
    let out = c.lcc(&["up", "-d"]);
    assert_eq!(out.code, Some(1), "{}", out.out());
    assert_eq!(
        out.err(),
        format!(
            "lcc: {}: this machine is none of the cluster's hosts: no Host has `address: local`, \
             and `lcc sync` has not put the cluster here; run `lcc sync` to start it on its hosts\n",
            c.path().display()
        )
    );
    assert!(c.daemon_pid().is_none());

    std::fs::create_dir_all(c.state().join("sync")).expect("mkdir");
    std::fs::write(c.state().join("sync/host"), "elsewhere\n").expect("host");
    let out = c.lcc(&["up", "-d"]);
    assert_eq!(out.code, Some(1));
    let want = format!(
        "error: this directory was synced as host `elsewhere`, which is no Host of the cluster \
         (the hosts are: here, there)\n --> {}/.lcc/sync/host\n",
        c.path().display()
    );
    assert!(out.err().starts_with(&want), "{}", out.err());
    assert!(c.daemon_pid().is_none());
}

#[test]
fn a_dependency_on_another_host_is_an_error() {
    let c = Cluster::new("dep-hosts");
    two_hosts(&c, "local");
    c.write(
        "web.yaml",
        "kind: Instance\nname: web\napp: s\nplacement: {hosts: [here]}\ndependsOn:\n  - target: b\n",
    );
    let out = c.lcc(&["validate"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.err().contains(
            "`web` runs on host here, where nothing of `b` runs (it runs on there): a dependency \
             is followed within one host; place them together"
        ),
        "{}",
        out.err()
    );
}
