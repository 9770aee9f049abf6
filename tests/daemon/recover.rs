//! Recovery, not crashes: a port taken by another program before a restart gets the
//! instance a new port (and an event saying why); a corrupted `pod.state` or `pod.env`
//! gives an event and is rewritten; pods without a spec are moved to `.lcc/orphans/`.

use crate::support::*;
use std::net::TcpListener;
use std::time::Duration;

fn port(c: &Cluster, inst: &str) -> u16 {
    c.status(inst).unwrap()["ports"]["http"].as_u64().unwrap() as u16
}

#[test]
fn taken_port_gets_a_new_one_with_an_event() {
    let c = Cluster::new("ports");
    c.write(
        "app.yaml",
        &format!("{}---\n{}", http_app("web", ""), instance("web", "web")),
    );
    c.up();
    let old = port(&c, "web");
    assert!(c.lcc(&["stop", "web"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || c
            .status("web")
            .is_some_and(|s| s["phase"] == "Stopped")),
        "{}",
        c.dump()
    );
    let squatter = wait_for_bind(old);
    assert!(c.lcc(&["start", "web"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || c.ready("web")),
        "{}",
        c.dump()
    );
    let new = port(&c, "web");
    assert_ne!(new, old);
    assert!(
        c.has_event(
            "PortChanged",
            &format!("port {old} of interface http is taken by another program; now {new}")
        ),
        "{}",
        c.dump()
    );
    let env = std::fs::read_to_string(c.pod("web").join("pod.env")).unwrap();
    assert!(env.contains(&format!("LCC_PORT_HTTP={new}")), "{env}");
    drop(squatter);
}

fn wait_for_bind(port: u16) -> TcpListener {
    let mut l = None;
    assert!(wait_until(Duration::from_secs(10), || {
        l = TcpListener::bind(("127.0.0.1", port)).ok();
        l.is_some()
    }));
    l.unwrap()
}

#[test]
fn corrupted_state_and_env_are_rewritten() {
    let c = Cluster::new("corrupt");
    c.write(
        "app.yaml",
        &format!("{}---\n{}", http_app("web", ""), instance("web", "web")),
    );
    c.up();
    let pid = c.pid("web").unwrap();
    let p = port(&c, "web");
    std::fs::write(c.pod("web").join("pod.state"), "\u{0}garbage\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || !c
            .events_of("instance/web", "InvalidPodState")
            .is_empty()),
        "{}",
        c.dump()
    );
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(c.pod("web").join("pod.state")).is_ok_and(|s| s == "running\n")
    }));
    std::fs::write(c.pod("web").join("pod.env"), "this is not an env file\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || !c
            .events_of("instance/web", "InvalidPodEnv")
            .is_empty()),
        "{}",
        c.dump()
    );
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(c.pod("web").join("pod.env"))
            .is_ok_and(|s| s.contains(&format!("LCC_PORT_HTTP={p}")))
    }));
    assert_eq!(c.pid("web"), Some(pid), "still the same run");
    // And the daemon still works: a restart keeps the port.
    assert!(c.lcc(&["restart", "web"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || c
            .pid("web")
            .is_some_and(|x| x != pid)
            && c.ready("web")),
        "{}",
        c.dump()
    );
    assert_eq!(port(&c, "web"), p);
    assert!(alive(c.daemon_pid().unwrap()));
}

#[test]
fn orphan_pods_are_moved_aside() {
    let c = Cluster::new("orphan");
    c.write("app.yaml", &sleeper(&instance("s", "s")));
    c.up();
    // A pod nobody owns: compiled by hand into the pods directory.
    let out = std::process::Command::new(lcc_bin())
        .args(["compile"])
        .arg(c.path().join("app.yaml"))
        .arg("-o")
        .arg(c.path().join("stray"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::rename(c.path().join("stray/s"), c.pod("zz")).unwrap();
    let daemon = c.daemon_pid().unwrap();
    assert!(c.lcc(&["down"]).status.success());
    assert!(!alive(daemon));
    c.up();
    assert!(
        wait_until(Duration::from_secs(15), || !c.pod("zz").exists()),
        "{}",
        c.dump()
    );
    assert!(c.has_event("Orphaned", "moved to"), "{}", c.dump());
    let orphans: Vec<String> = std::fs::read_dir(c.path().join(".lcc/orphans"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        orphans.len() == 1 && orphans[0].starts_with("zz."),
        "{orphans:?}"
    );
}
