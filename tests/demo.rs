//! End-to-end test of `examples/demo`, the README's main job: a copy of the demo on free
//! ports, brought up by the real `lcc`, exercised over real loopback HTTP.

use crate::support::{self, alive, text, wait_until, Cluster};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// An answer: status code, the `X-Instance` header if any, and the body.
#[derive(Debug)]
struct Answer {
    status: u16,
    instance: Option<String>,
    body: String,
}

/// One HTTP/1.1 request with `Connection: close`, bounded by a 5 s timeout.
fn request(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let instance = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("x-instance: ")
                .or_else(|| l.strip_prefix("X-Instance: "))
        })
        .map(str::to_string);
    Ok(Answer {
        status,
        instance,
        body: body.to_string(),
    })
}

fn get(port: u16, path: &str) -> std::io::Result<Answer> {
    request(port, "GET", path, "")
}

/// The demo, copied and up (`lcc up -d --wait`); its entrance port and gateway ports.
fn demo_up() -> (Cluster, Vec<u16>) {
    let cluster = Cluster::new("demo");
    let ports = support::demo::ports(&cluster);
    support::demo::copy(&cluster, &ports);
    cluster.up();
    // `up --wait` returns once every instance is ready; the proxy applies the
    // proxy.conf naming them a moment later (it reloads on the file's change).
    let serving = wait_until(Duration::from_secs(10), || {
        ["hello", "docs", "notes"]
            .iter()
            .all(|e| get(ports[0], &format!("/entrances/{e}/")).is_ok_and(|a| a.status == 200))
            && replicas_seen(ports[1], 6).len() == 3
    });
    assert!(serving, "the demo is not served:\n{}", cluster.dump());
    (cluster, ports)
}

/// Which replicas of the group answer through `port` over `n` requests.
fn replicas_seen(port: u16, n: usize) -> BTreeSet<String> {
    (0..n)
        .filter_map(|_| get(port, "/").ok()?.instance)
        .collect()
}

#[test]
fn demo_serves_every_entrance_and_balances_over_three_replicas() {
    let (cluster, ports) = demo_up();
    let (http, hello_gw, upstream_gw) = (ports[0], ports[1], ports[4]);

    for (path, needle) in [
        ("/entrances/hello/", "hello from hello-"),
        ("/entrances/docs/", "Local Cluster demo"),
        ("/entrances/docs/guide.html", "Guide"),
        ("/entrances/notes/", ""),
    ] {
        let a = get(http, path).expect("entrance answers");
        assert_eq!(a.status, 200, "{path}: {a:?}\n{}", cluster.dump());
        assert!(a.body.contains(needle), "{path}: {a:?}");
    }
    let index = get(http, "/").expect("entrance list");
    for name in ["hello", "docs", "notes"] {
        assert!(
            index.body.contains(&format!("/entrances/{name}/")),
            "{index:?}"
        );
    }

    // the same entrances over https (HTTP/2), with the local CA the daemon made
    let https = format!("https://127.0.0.1:{}", ports[5]);
    for (path, needle) in [
        ("/entrances/hello/", "hello from hello-"),
        ("/entrances/docs/", "Local Cluster demo"),
    ] {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                "-w",
                "\n%{http_version}",
                "--cacert",
            ])
            .arg(cluster.local_ca())
            .arg(format!("{https}{path}"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(needle) && text.ends_with("\n2"),
            "{path}: {out:?}"
        );
    }

    let seen = replicas_seen(hello_gw, 12);
    let want: BTreeSet<String> = ["hello-1", "hello-2", "hello-3"].map(String::from).into();
    assert_eq!(seen, want, "the gateway reaches every replica");

    let remote = get(upstream_gw, "/via-remote").expect("remote gateway answers");
    assert!(remote.body.contains("hello from hello-"), "{remote:?}");

    // The notes group waited for the job preparing its storage to complete.
    let phase = cluster.status("notes-prepare").expect("job status")["phase"].clone();
    assert_eq!(phase, "Completed", "{}", cluster.dump());
    let done = &cluster.events_of("instance/notes-prepare", "Completed")[0];
    let started = &cluster.events_of("instance/notes-1", "Started")[0];
    assert!(
        started["time"].as_f64() >= done["time"].as_f64(),
        "{}",
        cluster.dump()
    );
}

#[test]
fn demo_survives_a_killed_replica_and_keeps_notes_across_replacement() {
    let (cluster, ports) = demo_up();
    let (http, hello_gw) = (ports[0], ports[1]);

    // kill -9 of one replica's app process (the child of the pod's session leader).
    let leader = cluster.pid("hello-2").expect("hello-2 pid");
    let app = children(leader as i32)
        .into_iter()
        .next()
        .expect("hello-2 runs its app");
    let old_pid = leader;
    assert!(Command::new("kill")
        .args(["-9", &app.to_string()])
        .status()
        .expect("kill")
        .success());

    // Until it is back and ready, every request through the gateway must succeed.
    let mut sent = 0;
    let back = wait_until(Duration::from_secs(30), || {
        let a = get(hello_gw, "/").expect("gateway accepts");
        assert_eq!(a.status, 200, "request {sent} failed: {a:?}");
        sent += 1;
        cluster.ready("hello-2") && cluster.pid("hello-2") != Some(old_pid)
    });
    assert!(back, "hello-2 was not restarted:\n{}", cluster.dump());
    eprintln!("demo: {sent} requests through the gateway while hello-2 restarted, none failed");

    // A note written before the instance is deleted is still there after its replacement.
    let saved = request(http, "POST", "/entrances/notes/", "remember the milk").expect("post");
    assert_eq!(saved.status, 201, "{saved:?}\n{}", cluster.dump());
    let out = cluster.lcc(&["delete", "notes-1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replaced = wait_until(Duration::from_secs(30), || {
        cluster
            .current_members("notes")
            .iter()
            .any(|m| m != "notes-1" && cluster.ready(m))
            && get(http, "/entrances/notes/")
                .is_ok_and(|a| a.status == 200 && a.instance.is_some_and(|i| i != "notes-1"))
    });
    assert!(replaced, "notes-1 was not replaced:\n{}", cluster.dump());
    let notes = get(http, "/entrances/notes/").expect("notes answer");
    assert!(
        notes.body.contains("remember the milk"),
        "{notes:?}\n{}",
        cluster.dump()
    );

    // `lcc down` leaves no process of the cluster.
    let pids = cluster.all_pids();
    let out = cluster.lcc(&["down"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let survivors: Vec<i32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(survivors.is_empty(), "left behind: {survivors:?}");
    assert!(get(http, "/").is_err(), "the proxy is gone");
}

#[test]
fn demo_in_the_foreground_prints_urls_and_stops_on_ctrl_c() {
    let cluster = Cluster::new("demo");
    let ports = support::demo::ports(&cluster);
    support::demo::copy(&cluster, &ports);
    let out_file = cluster.path().join("up.out");
    // in the cluster's environment: its registry and local CA, not the user's
    let mut up = cluster
        .command(&["up"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).expect("out file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("lcc up");
    let url = format!("https://127.0.0.1:{}/entrances/hello/", ports[5]);
    let printed = wait_until(Duration::from_secs(60), || {
        std::fs::read_to_string(&out_file).is_ok_and(|o| o.contains(&url))
    });
    assert!(
        printed,
        "no URL printed:\n{}",
        std::fs::read_to_string(&out_file).unwrap_or_default()
    );
    assert_eq!(
        get(ports[0], "/entrances/hello/").expect("answers").status,
        200
    );

    let pids = cluster.all_pids();
    assert!(Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .expect("kill")
        .success());
    let exited = wait_until(Duration::from_secs(30), || {
        up.try_wait().expect("wait").is_some()
    });
    if !exited {
        let _ = up.kill();
    }
    assert!(exited, "lcc up did not stop on SIGINT");
    let survivors: Vec<i32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(survivors.is_empty(), "left behind: {survivors:?}");
}

/// Direct children of `pid`.
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
