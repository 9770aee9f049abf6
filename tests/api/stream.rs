//! The live event stream: it resumes after `Last-Event-ID` and shows what the CLI does.

use crate::support::api::{get, stream_until, Target};
use crate::support::Cluster;
use std::time::Duration;

#[test]
fn the_event_stream_resumes_after_last_event_id_and_shows_a_cli_restart() {
    let c = Cluster::new("apisse");
    c.write_web_group(1);
    c.up();
    let sock = c.state().join("api.sock");
    let last = get(&sock, "/api/v1/events").json()["lastId"]
        .as_u64()
        .expect("lastId");
    assert!(last > 3);
    let resume = (last - 2).to_string();
    let mut restarted = false;
    let (status, text) = stream_until(
        &Target::Socket(&sock),
        "/api/v1/events",
        &[
            ("Accept", "text/event-stream"),
            ("Last-Event-ID", resume.as_str()),
        ],
        Duration::from_secs(30),
        |text| text.contains("\"reason\":\"Started\"") && text.contains("Stopped"),
        || {
            let out = c.lcc(&["restart", "web-1"]);
            restarted = out.code == Some(0);
        },
    );
    assert_eq!(status, 200, "{text}");
    assert!(restarted, "lcc restart web-1 succeeded");
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    let ids: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    // Resumed right after the id given: the two events before the stream opened, then
    // the restart's, in order.
    assert_eq!(ids.first().copied(), Some(last - 1), "{text}");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids in order: {ids:?}"
    );
    assert!(ids.len() >= 4, "{text}");
    assert!(text.contains("instance/web-1"), "{text}");
}

#[test]
fn logs_follow_carries_what_the_app_writes_next() {
    let c = Cluster::new("apilogs");
    // An app that writes a numbered line every 100 ms.
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            crate::support::shell_app(
                "ticker",
                "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done",
                5
            ),
            crate::support::instance("ticker", "ticker")
        ),
    );
    c.up();
    let sock = c.state().join("api.sock");
    let tail = get(&sock, "/api/v1/instances/ticker/logs?tail=2");
    assert_eq!(tail.status, 200);
    let first: Vec<String> = String::from_utf8_lossy(&tail.body)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(first.len(), 2, "{first:?}");
    // Following: the lines seen grow past those of the tail, in order.
    let (status, text) = stream_until(
        &Target::Socket(&sock),
        "/api/v1/instances/ticker/logs?tail=1&follow=1",
        &[],
        Duration::from_secs(20),
        |text| text.matches("tick-").count() >= 8,
        || {},
    );
    assert_eq!(status, 200, "{text}");
    let ticks: Vec<u64> = text
        .split("tick-")
        .skip(1)
        .filter_map(|t| t.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert!(ticks.len() >= 8, "{text}");
    assert!(
        ticks.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none lost: {ticks:?}"
    );
}
