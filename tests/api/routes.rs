//! Every route over the socket, and bad input: clear 4xx as problem details, nothing
//! changed, the daemon unharmed.

use crate::support::api::{call, get, Target};
use crate::support::{wait_until, Cluster};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn no_cors(a: &crate::support::api::Answer, what: &str) {
    assert!(
        !a.headers
            .iter()
            .any(|(n, _)| n.starts_with("access-control-")),
        "{what}: CORS headers {:?}",
        a.headers
    );
}

#[test]
fn every_route_answers_over_the_socket_and_matches_the_cli() {
    let c = Cluster::new("apiroutes");
    c.write_web_group(2);
    c.up();
    let sock = c.state().join("api.sock");
    let mode = std::fs::metadata(&sock)
        .expect("api.sock")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "api.sock is the owner's only");
    let to = Target::Socket(&sock);

    let cluster = get(&sock, "/api/v1/cluster");
    assert_eq!(cluster.status, 200);
    assert_eq!(cluster.header("content-type"), Some("application/json"));
    let doc = cluster.json();
    assert_eq!(doc["name"], "apiroutes");
    assert_eq!(doc["instances"]["total"], 2);
    assert_eq!(doc["instances"]["ready"], 2);
    assert_eq!(doc["daemonPid"].as_i64(), c.daemon_pid().map(i64::from));

    let list = get(&sock, "/api/v1/instances").json();
    let names: Vec<&str> = list["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names, ["web-1", "web-2"]);
    let one = get(&sock, "/api/v1/instances/web-1").json();
    assert_eq!(one["state"], "Running");
    assert_eq!(one["ready"], true);
    assert_eq!(one["pid"].as_i64(), c.pid("web-1"));
    assert_eq!(
        one["ports"]["http"].as_u64(),
        c.port("web-1", "http").map(u64::from)
    );
    let kinds: Vec<(&str, &str)> = one["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(kinds, [("Created", "True"), ("Ready", "True")]);

    let gws = get(&sock, "/api/v1/gateways").json();
    let gw = &gws["gateways"][0];
    assert_eq!(gw["listen"], format!("127.0.0.1:{}", c.gateway_port(0)));
    assert_eq!(gw["backends"].as_array().map(Vec::len), Some(2));
    assert!(gw["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .all(|b| b["ready"] == true));
    let ents = get(&sock, "/api/v1/entrances").json();
    assert_eq!(
        ents["entrances"][0]["url"],
        format!("http://{}/entrances/web/", c.http())
    );
    assert_eq!(
        get(&sock, "/api/v1/storage").json()["storage"],
        serde_json::json!([])
    );
    assert_eq!(
        get(&sock, "/api/v1/groups").json()["groups"][0]["replicas"],
        2
    );

    let openapi = get(&sock, "/api/v1/openapi.json");
    let kept = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .expect("docs/openapi.json");
    assert_eq!(
        openapi.body, kept,
        "the served document is docs/openapi.json"
    );

    let events = get(&sock, "/api/v1/events?limit=3").json();
    assert_eq!(events["events"].as_array().map(Vec::len), Some(3));
    assert_eq!(events["events"][0]["id"], 1);
    let logs = get(&sock, "/api/v1/instances/web-1/logs?tail=5&stream=stderr");
    assert_eq!(logs.status, 200);

    // Scale through the API, seen by `lcc ps`.
    let scaled = call(
        &to,
        "PUT",
        "/api/v1/groups/web/scale",
        &[],
        br#"{"replicas": 3}"#,
    );
    assert_eq!(
        scaled.status,
        200,
        "{}",
        String::from_utf8_lossy(&scaled.body)
    );
    let three = wait_until(Duration::from_secs(20), || {
        let ps = c.lcc(&["ps", "-o", "json"]);
        let doc: serde_json::Value = serde_json::from_str(&ps.out()).unwrap_or_default();
        doc["instances"]
            .as_array()
            .is_some_and(|a| a.len() == 3 && a.iter().all(|i| i["ready"] == true))
    });
    assert!(three, "scaled to 3 through the API:\n{}", c.dump());

    // Stop and start one instance.
    let stop = call(&to, "POST", "/api/v1/instances/web-2/stop", &[], b"");
    assert_eq!(stop.status, 202);
    assert!(wait_until(Duration::from_secs(15), || {
        c.status("web-2").is_some_and(|s| s["phase"] == "Stopped")
    }));
    let start = call(&to, "POST", "/api/v1/instances/web-2/start", &[], b"");
    assert_eq!(start.status, 202);
    assert!(wait_until(Duration::from_secs(15), || c.ready("web-2")));
    let del = call(&to, "DELETE", "/api/v1/instances/web-3", &[], b"");
    assert_eq!(del.status, 202);
    assert!(wait_until(Duration::from_secs(15), || !c
        .members("web")
        .contains(&"web-3".to_string())
        || c.status("web-3").is_none()));
    for a in [&cluster, &openapi, &scaled, &stop, &del] {
        no_cors(a, "a reply");
    }
}

#[test]
fn bad_requests_get_clear_4xx_and_change_nothing() {
    let c = Cluster::new("apibad");
    c.write_web_group(1);
    c.up();
    let sock = c.state().join("api.sock");
    let to = Target::Socket(&sock);
    let before = std::fs::read_dir(c.state().join("scale")).map_or(0, |d| d.count());
    let big = vec![b'x'; (1 << 20) + 10];
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("GET", "/api/v1/nothing", vec![], 404, "no such path"),
        ("GET", "/nope", vec![], 404, "no such path"),
        ("POST", "/api/v1/cluster", vec![], 405, "not allowed"),
        (
            "PATCH",
            "/api/v1/instances/web-1",
            vec![],
            405,
            "allowed: GET, DELETE",
        ),
        (
            "GET",
            "/api/v1/instances/ghost",
            vec![],
            404,
            "no instance named ghost",
        ),
        (
            "POST",
            "/api/v1/instances/ghost/stop",
            vec![],
            404,
            "no instance named ghost",
        ),
        (
            "DELETE",
            "/api/v1/instances/..",
            vec![],
            400,
            "invalid name",
        ),
        (
            "GET",
            "/api/v1/instances/%2e%2e%2f.lcc",
            vec![],
            400,
            "invalid name",
        ),
        (
            "GET",
            "/api/v1/instances/Web-1",
            vec![],
            400,
            "invalid name",
        ),
        (
            "PUT",
            "/api/v1/groups/ghost/scale",
            br#"{"replicas": 1}"#.to_vec(),
            404,
            "no instance group named ghost",
        ),
        (
            "PUT",
            "/api/v1/groups/web/scale",
            b"{".to_vec(),
            400,
            "not JSON",
        ),
        (
            "PUT",
            "/api/v1/groups/web/scale",
            b"".to_vec(),
            400,
            "not JSON",
        ),
        (
            "PUT",
            "/api/v1/groups/web/scale",
            br#"{"replicas": "2"}"#.to_vec(),
            422,
            "field replicas",
        ),
        (
            "PUT",
            "/api/v1/groups/web/scale",
            br#"{"replicas": -1}"#.to_vec(),
            422,
            "field replicas",
        ),
        (
            "PUT",
            "/api/v1/groups/web/scale",
            br#"{"replicas": 99999}"#.to_vec(),
            422,
            "more than 1000",
        ),
        (
            "PUT",
            "/api/v1/groups/web/scale",
            br#"{"replica": 2}"#.to_vec(),
            422,
            "unknown field",
        ),
        (
            "PUT",
            "/api/v1/groups/web/scale",
            br#"[2]"#.to_vec(),
            422,
            "must be an object",
        ),
        ("PUT", "/api/v1/groups/web/scale", big, 413, "larger than"),
        (
            "GET",
            "/api/v1/events?since=abc",
            vec![],
            400,
            "query parameter since",
        ),
        (
            "GET",
            "/api/v1/instances/web-1/logs?stream=both",
            vec![],
            400,
            "query parameter stream",
        ),
        (
            "GET",
            "/api/v1/instances/web-1/logs?tail=-3",
            vec![],
            400,
            "query parameter tail",
        ),
        (
            "GET",
            "/api/v1/instances/web-1/logs?tail=1000000001",
            vec![],
            400,
            "query parameter tail",
        ),
        (
            "GET",
            "/api/v1/events?limit=99999999999999999999",
            vec![],
            400,
            "query parameter limit",
        ),
    ];
    for (method, path, body, status, words) in cases {
        let a = call(&to, method, path, &[], &body);
        assert_eq!(
            a.status,
            status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(
            a.header("content-type"),
            Some("application/problem+json"),
            "{method} {path}"
        );
        let p = a.json();
        assert_eq!(p["status"], status);
        assert!(p["title"].is_string() && p["type"].is_string());
        let detail = p["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(words),
            "{method} {path}: {detail:?} lacks {words:?}"
        );
        no_cors(&a, path);
    }
    let guarded = call(
        &to,
        "GET",
        "/api/v1/cluster",
        &[("Host", "evil.example")],
        b"",
    );
    assert_eq!(guarded.status, 421);
    let after = std::fs::read_dir(c.state().join("scale")).map_or(0, |d| d.count());
    assert_eq!(before, after, "no scale override written");
    assert_eq!(
        c.status("web-1").map(|s| s["desired"].clone()),
        Some("running".into())
    );
    let daemon = c.daemon_pid().expect("daemon");
    assert!(crate::support::alive(daemon), "the daemon is unharmed");
    assert_eq!(get(&sock, "/api/v1/cluster").status, 200);
}
