//! Cross-host gateways and the one view (docs/hosts.md): three hosts synced with `lcc
//! sync`, a group of three replicas spread one per host, a gateway and an entrance
//! served on every host.
//! A request to any host's gateway reaches the replicas of every host (each answers
//! with its host's name); a host whose link is cut leaves every other host's gateway
//! within 2 s and comes back when the link does; `lcc ps`, `lcc logs [-f]` and `lcc
//! events [-f]` from the operator's checkout show every host, and a cut one as one
//! line.

use crate::support::hosts::Hosts;
use crate::support::peers::{self, backends, get, raw};
use crate::support::{lcc_bin, run_with_deadline, wait_until, Bounded, KillOnDrop};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The gateway's port on every host (each host is a namespace of its own).
const GATEWAY: u16 = 19000;
/// The entrance listener.
const HTTP: u16 = 18080;

/// An app answering `HOST INSTANCE` on `${LCC_HOST_ADDRESS}:${LCC_PORT_HTTP}`, where the
/// probes and every host's gateway reach it.
fn app() -> String {
    let script = r#"
import http.server, os
host, me = os.environ["LCC_HOST"], os.environ["LCC_INSTANCE"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/say/"):
            print("asked", self.path, flush=True)
        body = ("%s %s\n" % (host, me)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
print("serving", me, "on", host, flush=True)
addr = (os.environ["LCC_HOST_ADDRESS"], int(os.environ["LCC_PORT_HTTP"]))
http.server.ThreadingHTTPServer(addr, H).serve_forever()
"#;
    let mut indented = String::new();
    for line in script.trim_start_matches('\n').lines() {
        indented.push_str("          ");
        indented.push_str(line);
        indented.push('\n');
    }
    format!(
        "kind: Application\nname: web\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command:\n        - python3\n        - -c\n        - |\n{indented}interfaces:\n  - {{name: http, protocol: http}}\nprobe:\n  http: {{interface: http, path: /}}\n  period: 200ms\n  timeout: 1s\nrestart: {{policy: always, maxRetries: 5, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 2s}}\n"
    )
}

/// `lcc ARGS` in the operator's namespace, on its checkout `dir`.
fn operator(hosts: &Hosts, dir: &std::path::Path, args: &[&str]) -> Bounded {
    let mut cmd = hosts.operator(lcc_bin());
    cmd.arg("-C").arg(dir).args(args).env("NO_COLOR", "1");
    run_with_deadline(cmd, Duration::from_secs(20))
}

/// The hosts named by answers to `n` requests to `addr` (new connection each).
fn answering(hosts: &Hosts, addr: SocketAddr, path: &str, n: usize) -> BTreeSet<String> {
    hosts.in_operator(|| {
        (0..n)
            .filter_map(|_| get(addr, path))
            .filter_map(|body| body.split_whitespace().next().map(str::to_string))
            .collect()
    })
}

#[test]
fn gateways_reach_every_host_and_a_cut_host_leaves_them_within_2s() {
    let hosts = Hosts::new(3);
    let files = [
        (
            "cluster.yaml",
            format!(
                "kind: Cluster\nname: peers\nhttp: 0.0.0.0:{HTTP}\nhostPorts: 30000-30050\npeers: {{port: 7480}}\n"
            ),
        ),
        ("hosts.yaml", hosts.documents()),
        ("web.yaml", app()),
        (
            "group.yaml",
            format!(
                "kind: InstanceGroup\nname: web\napp: web\nreplicas: 3\n---\nkind: Gateway\nname: web\naddress: 0.0.0.0\nport: {GATEWAY}\ntarget: web\ninterface: http\n---\nkind: Entrance\nname: web\ngateway: web\n"
            ),
        ),
    ];
    let checkout = peers::synced(&hosts, &files);
    let addresses: Vec<String> = hosts.all().iter().map(|h| h.address.to_string()).collect();
    let on_every_host = |dir: &std::path::Path| {
        let b = backends(dir, "web");
        addresses
            .iter()
            .all(|a| b.iter().any(|x| x.starts_with(&format!("{a}:"))))
    };
    let all_in = wait_until(Duration::from_secs(30), || {
        hosts.all().iter().all(|h| on_every_host(&h.dir))
    });
    assert!(
        all_in,
        "every host's gateway has every host's replica: {:?}",
        hosts
            .all()
            .iter()
            .map(|h| (h.name.clone(), backends(&h.dir, "web")))
            .collect::<Vec<_>>()
    );
    let names: BTreeSet<String> = hosts.all().iter().map(|h| h.name.clone()).collect();
    // a request to any host's gateway (and entrance) reaches the replicas of all hosts
    for h in hosts.all() {
        let gateway = SocketAddr::from((h.address, GATEWAY));
        let mut seen = BTreeSet::new();
        let reached = wait_until(Duration::from_secs(10), || {
            seen.extend(answering(&hosts, gateway, "/", 6));
            seen == names
        });
        assert!(reached, "through {}'s gateway: {seen:?}", h.name);
        let entrance = SocketAddr::from((h.address, HTTP));
        let seen = answering(&hosts, entrance, "/entrances/web/", 6);
        assert_eq!(seen, names, "through {}'s entrance", h.name);
    }

    // the peers listener: the peer token, its own address as Host, reads only
    let peer = SocketAddr::from((hosts.host(0).address, 7480));
    let token = peers::token(checkout.path());
    let token = token.as_str();
    let cases = [
        ("GET", "/api/v1/backends", token, peer.to_string(), 200),
        ("GET", "/api/v1/instances", "wrong", peer.to_string(), 401),
        (
            "GET",
            "/api/v1/instances",
            token,
            "evil.example".into(),
            421,
        ),
        (
            "POST",
            "/api/v1/instances/web-1/stop",
            token,
            peer.to_string(),
            403,
        ),
        (
            "DELETE",
            "/api/v1/instances/web-1",
            token,
            peer.to_string(),
            403,
        ),
    ];
    for (method, path, bearer, host, want) in cases {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let answer = hosts.in_operator(|| raw(peer, &request));
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {want} ")),
            "{method} {path} as {host}: {answer}"
        );
    }
    let answer = hosts.in_operator(|| {
        raw(
            peer,
            &format!("GET /api/v1/backends HTTP/1.1\r\nHost: {peer}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"),
        )
    });
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let doc: serde_json::Value = serde_json::from_str(body).expect("backends JSON");
    assert_eq!(doc["host"], "h1", "{doc}");
    let own = doc["gateways"]["web"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(own.len(), 1, "only h1's own replica: {doc}");
    assert!(
        own[0]
            .as_str()
            .is_some_and(|b| b.starts_with("10.77.0.11:")),
        "{doc}"
    );

    // one view: every host's instances with their host (all ready: a probe that timed
    // out on a busy machine may have made one not ready for a moment)
    let mut ps = operator(&hosts, checkout.path(), &["ps"]);
    wait_until(Duration::from_secs(10), || {
        ps = operator(&hosts, checkout.path(), &["ps"]);
        ps.out().lines().skip(1).count() == 3
            && ps
                .out()
                .lines()
                .skip(1)
                .all(|l| l.split_whitespace().nth(5) == Some("yes"))
    });
    assert_eq!(ps.code, Some(0), "{}{}", ps.out(), ps.err());
    let out = ps.out();
    assert!(out.starts_with("HOST"), "{out}");
    let mut placed = Vec::new();
    for line in out.lines().skip(1) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.get(5), Some(&"yes"), "ready: {line}");
        placed.push((cells[0].to_string(), cells[1].to_string()));
    }
    let shown: BTreeSet<String> = placed.iter().map(|(h, _)| h.clone()).collect();
    assert_eq!(shown, names, "{out}");
    assert_eq!(placed.len(), 3, "{out}");
    let json = operator(&hosts, checkout.path(), &["ps", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.out()).expect("ps -o json");
    assert_eq!(doc["instances"].as_array().map(Vec::len), Some(3), "{doc}");
    // the logs of an instance come from the host that runs it
    let (host, name) = &placed[0];
    let logs = operator(&hosts, checkout.path(), &["logs", name]);
    assert_eq!(logs.code, Some(0), "{}", logs.err());
    assert!(
        logs.out().contains(&format!("serving {name} on {host}")),
        "{}",
        logs.out()
    );
    // and `lcc logs -f` streams what it writes next: a request to the replica itself
    let follow_logs = tempfile::tempdir().expect("tempdir");
    let logs_out = follow_logs.path().join("out");
    let mut cmd = hosts.operator(lcc_bin());
    cmd.arg("-C")
        .arg(checkout.path())
        .args(["logs", "-f", name])
        .env("NO_COLOR", "1")
        .stdout(std::fs::File::create(&logs_out).expect("out"))
        .stderr(std::process::Stdio::null());
    let follower = KillOnDrop(cmd.spawn().expect("lcc logs -f"));
    let (at, port) = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name.as_str()))
        .and_then(|l| {
            let port = l
                .split_whitespace()
                .nth(7)?
                .strip_prefix("http:")?
                .parse()
                .ok()?;
            let at = hosts.all().iter().find(|h| h.name == *host)?.address;
            Some((at, port))
        })
        .expect("the replica's host port in lcc ps");
    let replica = SocketAddr::from((at, port));
    let so_far = || std::fs::read_to_string(&logs_out).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || so_far()
            .contains(&format!("serving {name} on {host}"))),
        "lcc logs -f {name} shows what is there first: {:?}",
        so_far()
    );
    let asked = wait_until(Duration::from_secs(10), || {
        hosts.in_operator(|| get(replica, "/say/followed"));
        so_far().contains("asked /say/followed")
    });
    assert!(asked, "lcc logs -f {name}: {:?}", so_far());
    drop(follower);

    // `lcc events -f` from the operator follows every host through the cut below
    let follow_out = tempfile::tempdir().expect("tempdir");
    let followed = |f: &str| std::fs::read_to_string(follow_out.path().join(f)).unwrap_or_default();
    let mut cmd = hosts.operator(lcc_bin());
    cmd.arg("-C")
        .arg(checkout.path())
        .args(["events", "-f"])
        .env("NO_COLOR", "1")
        .stdout(std::fs::File::create(follow_out.path().join("out")).expect("out"))
        .stderr(std::fs::File::create(follow_out.path().join("err")).expect("err"));
    let _follower = KillOnDrop(cmd.spawn().expect("lcc events -f"));

    // h3 cut off: h1 and h2 declare it lost within 2 s, as their events record (the
    // test's own polling, slow on a loaded machine, is not part of the measure), and
    // it leaves their gateways
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
    };
    // the link goes down between these two moments
    let cutting = now();
    hosts.cut(2);
    let cut = now();
    let gone = wait_until(Duration::from_secs(10), || {
        hosts.all()[..2].iter().all(|h| {
            !backends(&h.dir, "web")
                .iter()
                .any(|b| b.starts_with(&format!("{}:", addresses[2])))
        })
    });
    assert!(gone, "h3's backends never left the gateways");
    for h in &hosts.all()[..2] {
        let events = h.read(".lcc/events.jsonl").unwrap_or_default();
        let lost = events
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["reason"] == "HostLost" && e["object"] == "host/h3")
            .filter_map(|e| e["time"].as_f64())
            .find(|t| *t >= cutting)
            .unwrap_or_else(|| panic!("{}: no HostLost of h3 after the cut:\n{events}", h.name));
        let took = lost - cut;
        assert!(took < 2.0, "{} lost h3 {took:.3} s after the cut", h.name);
    }
    // and the gateways serve on with the other hosts' replicas
    for h in &hosts.all()[..2] {
        let want: BTreeSet<String> = ["h1", "h2"].map(String::from).into();
        // the proxy applies the new config at once; its reload is not instant
        let mut got = BTreeSet::new();
        let settled = wait_until(Duration::from_secs(5), || {
            got = answering(&hosts, SocketAddr::from((h.address, GATEWAY)), "/", 6);
            got == want
        });
        assert!(
            settled,
            "through {}'s gateway after the cut: {got:?}",
            h.name
        );
    }
    let events = hosts.host(0).read(".lcc/events.jsonl").unwrap_or_default();
    assert!(
        events.contains("\"HostLost\"") && events.contains("host/h3"),
        "{events}"
    );
    let ps = operator(&hosts, checkout.path(), &["ps"]);
    assert_eq!(ps.code, Some(1), "{}{}", ps.out(), ps.err());
    assert!(
        ps.err()
            .contains(&format!("host h3 ({}:7480) does not answer", addresses[2])),
        "{}",
        ps.err()
    );
    assert_eq!(ps.err().lines().count(), 1, "{}", ps.err());
    let rows: BTreeSet<String> = ps
        .out()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(rows, ["h1", "h2"].map(String::from).into(), "{}", ps.out());

    // the follower: h3's silence is one line, the others' HostLost come as they happen
    let h3_line = format!("lcc: host h3 ({}:7480) does not answer", addresses[2]);
    let lost_followed = |out: &str| {
        out.lines().any(|l| {
            (l.starts_with("h1") || l.starts_with("h2"))
                && l.contains("HostLost")
                && l.contains("host/h3")
        })
    };
    assert!(
        wait_until(Duration::from_secs(10), || lost_followed(&followed("out"))
            && followed("err").contains(&h3_line)),
        "lcc events -f:\n{}{}",
        followed("out"),
        followed("err")
    );
    assert_eq!(
        followed("err").matches(&h3_line).count(),
        1,
        "{}",
        followed("err")
    );

    // back on the bridge: back in every gateway
    hosts.restore(2);
    let back = wait_until(Duration::from_secs(5), || {
        hosts.all().iter().all(|h| on_every_host(&h.dir))
    });
    assert!(back, "h3 never came back");
    let events = hosts.host(0).read(".lcc/events.jsonl").unwrap_or_default();
    assert!(events.contains("\"HostBack\""), "{events}");
    let back_line = format!("lcc: host h3 ({}:7480) answers again", addresses[2]);
    assert!(
        wait_until(Duration::from_secs(10), || followed("out")
            .contains("HostBack")
            && followed("err").contains(&back_line)),
        "lcc events -f:\n{}{}",
        followed("out"),
        followed("err")
    );
    // the events of every host, merged, with their host
    let ev = operator(&hosts, checkout.path(), &["events"]);
    assert_eq!(ev.code, Some(0), "{}", ev.err());
    let lost = ev
        .out()
        .lines()
        .find(|l| l.contains("HostLost") && l.contains("host/h3"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        lost.starts_with("h1") || lost.starts_with("h2"),
        "{}",
        ev.out()
    );
    for h in &names {
        assert!(
            ev.out().lines().any(|l| l.starts_with(h.as_str())),
            "{h}: {}",
            ev.out()
        );
    }
}
