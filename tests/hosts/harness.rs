//! The harness the multi-host tests stand on: every host answers over ssh with the
//! test's key, from the operator's namespace only; a cut link isolates one host.

use crate::support::hosts::Hosts;
use crate::support::{run_with_deadline, text};
use std::time::Duration;

/// `ssh root@HOST hostname -I` from the operator's namespace with the test's key.
fn ssh(hosts: &Hosts, i: usize) -> crate::support::Bounded {
    let mut cmd = hosts.operator("ssh");
    cmd.args([
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=2",
        "-o",
        "StrictHostKeyChecking=yes",
    ])
    .arg("-o")
    .arg(format!(
        "UserKnownHostsFile={}",
        hosts.known_hosts().display()
    ))
    .arg("-i")
    .arg(hosts.key())
    .args([
        "-l",
        "root",
        "--",
        &hosts.host(i).address.to_string(),
        "ip -o -4 addr show dev eth0",
    ]);
    run_with_deadline(cmd, Duration::from_secs(20))
}

#[test]
fn every_host_answers_over_ssh_and_a_cut_link_isolates_one() {
    let hosts = Hosts::new(3);
    for i in 0..3 {
        let out = ssh(&hosts, i);
        assert_eq!(out.code, Some(0), "{}{}", out.err(), hosts.sshd_log(i));
        let address = hosts.host(i).address.to_string();
        assert!(
            out.out().contains(&format!("{address}/24")),
            "{}",
            out.out()
        );
    }
    hosts.cut(1);
    let out = ssh(&hosts, 1);
    assert_ne!(out.code, Some(0), "host 2 is cut off: {}", out.out());
    assert_eq!(ssh(&hosts, 0).code, Some(0), "the others still answer");
    hosts.restore(1);
    let out = ssh(&hosts, 1);
    assert_eq!(out.code, Some(0), "restored: {}", text(&out.stderr));
}

#[test]
fn drop_removes_the_namespaces_and_processes() {
    let names: Vec<String> = {
        let hosts = Hosts::new(1);
        vec![hosts.operator_ns.clone(), hosts.host(0).ns.clone()]
    };
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip");
    let list = text(&list.stdout);
    for name in names {
        assert!(!list.contains(&name), "{name} left behind: {list}");
    }
}
