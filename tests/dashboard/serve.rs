//! `lcc dashboard` over HTTP: the clusters of the registry, their APIs forwarded, the
//! embedded page, and its guards (Host, token for changes, no CORS, non-loopback only
//! with a token file).

use super::Dashboard;
use crate::support::api::{call, stream_until, Target};
use crate::support::{wait_until, Cluster};
use std::time::Duration;

/// The token the served page carries.
fn page_token(board: &Dashboard) -> String {
    let page = call(&Target::Tcp(board.addr), "GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).expect("utf-8");
    let (_, rest) = html
        .split_once(r#"<meta name="lcc-token" content=""#)
        .expect("token meta");
    rest.split('"').next().expect("token").to_string()
}

#[test]
fn the_dashboard_lists_every_cluster_and_forwards_to_each_api() {
    let a = Cluster::new("dasha");
    a.write_web_group(2);
    let mut b = Cluster::new("dashb");
    b.share_registry(&a);
    b.write_web_group(1);
    a.up();
    b.up();
    let board = Dashboard::start(&a, &[]);
    let to = Target::Tcp(board.addr);
    let list = call(&to, "GET", "/api/v1/clusters", &[], b"").json();
    let names: Vec<(&str, u64, u64)> = list["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("id"),
                c["ready"].as_u64().expect("ready"),
                c["total"].as_u64().expect("total"),
            )
        })
        .collect();
    assert_eq!(names, vec![("dasha", 2, 2), ("dashb", 1, 1)]);
    // Each cluster's own API, through the dashboard.
    let inst = call(&to, "GET", "/api/v1/clusters/dashb/instances", &[], b"").json();
    assert_eq!(inst["instances"][0]["name"], "web-1");
    let missing = call(&to, "GET", "/api/v1/clusters/nosuch/instances", &[], b"");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    let unknown = call(
        &to,
        "GET",
        "/api/v1/clusters/dasha/instances/web-9",
        &[],
        b"",
    );
    assert_eq!(
        unknown.status,
        404,
        "{}",
        String::from_utf8_lossy(&unknown.body)
    );
    // Changes need the page's token, in a header.
    let body = br#"{"replicas": 3}"#;
    let path = "/api/v1/clusters/dasha/groups/web/scale";
    let none = call(&to, "PUT", path, &[], body);
    assert_eq!(none.status, 401);
    let wrong = call(&to, "PUT", path, &[("Authorization", "Bearer nope")], body);
    assert_eq!(wrong.status, 401);
    let token = page_token(&board);
    assert_eq!(token.len(), 64, "{token}");
    let auth = format!("Bearer {token}");
    let scaled = call(&to, "PUT", path, &[("Authorization", auth.as_str())], body);
    assert_eq!(
        scaled.status,
        200,
        "{}",
        String::from_utf8_lossy(&scaled.body)
    );
    let seen = wait_until(Duration::from_secs(30), || {
        a.lcc(&["ps"]).out().contains("web-3")
    });
    assert!(seen, "lcc ps never showed web-3:\n{}", a.lcc(&["ps"]).out());
    // The event stream comes through live.
    let (status, text) = stream_until(
        &to,
        "/api/v1/clusters/dasha/events",
        &[("Accept", "text/event-stream")],
        Duration::from_secs(30),
        |text| text.contains("instance/web-3"),
        || {},
    );
    assert_eq!(status, 200, "{text}");
    // The guards: another Host is 421; no answer carries CORS headers.
    for path in ["/", "/api/v1/clusters", "/api/v1/clusters/dasha/cluster"] {
        let evil = call(&to, "GET", path, &[("Host", "evil.example:80")], b"");
        assert_eq!(evil.status, 421, "{path}");
        let fine = call(&to, "GET", path, &[("Origin", "http://evil.example")], b"");
        assert_eq!(fine.status, 200, "{path}");
        assert!(
            fine.headers
                .iter()
                .all(|(n, _)| !n.starts_with("access-control-")),
            "{path}: {:?}",
            fine.headers
        );
    }
    let page = call(&to, "GET", "/", &[], b"");
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    for asset in ["/app.js", "/app.css"] {
        assert_eq!(call(&to, "GET", asset, &[], b"").status, 200, "{asset}");
    }
    assert_eq!(call(&to, "GET", "/../etc/passwd", &[], b"").status, 404);
    assert_eq!(call(&to, "POST", "/", &[], b"").status, 405);
}

#[test]
fn a_dashboard_beyond_loopback_needs_a_private_token_file_which_every_request_then_carries() {
    let c = Cluster::new("dashtok");
    c.write_web_group(1);
    c.up();
    // Not loopback, no token file: refused before listening.
    let out = c.lcc(&["dashboard", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.err(),
        "lcc: --listen 0.0.0.0:0 is not a loopback address: the dashboard controls every \
         cluster, so it needs --token-file FILE (a secret only you can read) to listen there\n"
    );
    let file = c.path().join("dash.token");
    std::fs::write(&file, "0123456789abcdef0123\n").expect("token file");
    let path = file.to_str().expect("path");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = c.lcc(&["dashboard", "--token-file", path]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.err(),
        format!(
            "lcc: --token-file {path}: mode 644 lets others read it; make it 0600 (chmod 600)\n"
        )
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let board = Dashboard::start(&c, &["--token-file", path]);
    let to = Target::Tcp(board.addr);
    // The page does not carry it; reads need it too.
    assert_eq!(page_token(&board), "");
    assert_eq!(call(&to, "GET", "/api/v1/clusters", &[], b"").status, 401);
    let auth = [("Authorization", "Bearer 0123456789abcdef0123")];
    let list = call(&to, "GET", "/api/v1/clusters", &auth, b"");
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["clusters"][0]["name"], "dashtok");
}

#[test]
fn open_hands_the_url_to_the_desktops_browser() {
    let c = Cluster::new("dashopen");
    c.write_web_group(1);
    c.up();
    // A stand-in for xdg-open that notes what it was asked to open.
    let bin = c.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let opened = c.path().join("opened");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$1\" > '{}'\n",
        opened.display()
    );
    std::fs::write(bin.join("xdg-open"), script).expect("xdg-open");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("xdg-open"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let board = Dashboard::start_with(&c, &["--open"], &[("PATH", path.as_str())]);
    let want = format!("http://{}/\n", board.addr);
    let seen = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&opened).is_ok_and(|t| t == want)
    });
    assert!(
        seen,
        "xdg-open got {:?}, not {want:?}",
        std::fs::read_to_string(&opened)
    );
}
