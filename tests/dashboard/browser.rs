//! The dashboard in headless Chromium over WebDriver, on the README's demo: it shows the
//! three hello replicas, scales the group from the page and sees the new replica become
//! ready without a reload, shows an instance's log, and shows a restart made with the
//! CLI as a live event. Screenshots (1280x800 and 390 px wide) go to target/tmp/.

use super::Dashboard;
use crate::support::browser::{Browser, LOOK};
use crate::support::{demo, Cluster};
use fantoccini::{key::Key, Locator};
use std::time::Duration;

#[test]
fn the_dashboard_shows_scales_logs_and_streams_events_of_the_demo_in_chromium() {
    let cluster = Cluster::new("demo");
    let ports = demo::ports(&cluster);
    demo::copy(&cluster, &ports);
    cluster.up();
    let board = Dashboard::start(&cluster, &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let b = Browser::start(1280, 800).await;
        b.client
            .goto(&format!("http://{}/", board.addr))
            .await
            .expect("open the dashboard");
        // One cluster on the machine: the start page goes straight to it.
        let replicas = r#"#instances tr[data-instance^="hello-"][data-ready="true"]"#;
        b.until("the demo's three ready hello replicas", LOOK, || async {
            (b.count(replicas).await == 3).then_some(())
        })
        .await;
        let url = b.client.current_url().await.expect("url");
        assert_eq!(url.fragment(), Some("/c/demo"));
        // A mark in the page: still there after the scale means the page never reloaded.
        b.client
            .execute("window.lccMark = 42; return null;", vec![])
            .await
            .expect("mark");
        b.click(r#"#groups tr[data-group="hello"] [data-action="scale-up"]"#)
            .await;
        b.until("hello-4 ready", Duration::from_secs(60), || async {
            (b.count(r#"#instances tr[data-instance="hello-4"][data-ready="true"]"#)
                .await
                == 1)
                .then_some(())
        })
        .await;
        let mark = b
            .client
            .execute("return window.lccMark;", vec![])
            .await
            .expect("mark");
        assert_eq!(mark, serde_json::json!(42), "the page was reloaded");
        assert_eq!(
            b.text(r#"#groups tr[data-group="hello"] output"#).await.as_deref(),
            Some("4")
        );
        // The log pane follows hello-1's stdout.
        b.click(r#"#instances tr[data-instance="hello-1"] [data-action="logs"]"#)
            .await;
        b.until("a line of hello-1's log", LOOK, || async {
            b.text("#log")
                .await
                .filter(|t| t.contains("hello-1 listening on 127.0.0.1:"))
        })
        .await;
        // A restart from the CLI shows as a live event.
        let stops = r#"#events li[data-object="instance/hello-1"][data-reason="Stopped"]"#;
        let before = b.count(stops).await;
        let hello1 = r#"#instances tr[data-instance="hello-1"]"#;
        let started_before = b
            .client
            .find(Locator::Css(hello1))
            .await
            .expect("hello-1's row")
            .attr("data-started")
            .await
            .expect("data-started");
        let out = cluster.lcc(&["restart", "hello-1"]);
        assert_eq!(out.code, Some(0), "lcc restart: {}", out.err());
        b.until("the restart of hello-1 in the events pane", LOOK, || async {
            (b.count(stops).await > before).then_some(())
        })
        .await;
        // Settled again: hello-1 started anew and every row ready (or a job done).
        b.until("hello-1 started again and every instance settled", LOOK, || async {
            let settled = b
                .client
                .execute(
                    "const rows = [...document.querySelectorAll('#instances tbody tr')]; \
                     return rows.length > 0 && rows.every(r => r.dataset.ready === 'true' \
                       || r.dataset.state === 'Completed');",
                    vec![],
                )
                .await
                .ok()?;
            let row = b.client.find(Locator::Css(hello1)).await.ok()?;
            let started = row.attr("data-started").await.ok()?;
            (started != started_before && settled == serde_json::json!(true)).then_some(())
        })
        .await;
        // The README's picture: the top of the page.
        b.client
            .execute("document.activeElement.blur(); window.scrollTo(0, 0); return null;", vec![])
            .await
            .expect("scroll");
        let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        let png = b.client.screenshot().await.expect("screenshot");
        std::fs::write(shots.join("dashboard-1280.png"), png).expect("save screenshot");
        // A phone's width: every instance and its buttons still there, nothing wider
        // than the screen.
        b.client.set_window_size(390, 844).await.expect("resize");
        let overflow = b
            .client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .expect("width");
        assert_eq!(overflow, serde_json::json!(0), "the page scrolls sideways at 390 px");
        let png = b.client.screenshot().await.expect("screenshot");
        std::fs::write(shots.join("dashboard-390.png"), png).expect("save screenshot");
        let rows = b.count("#instances tbody tr").await;
        assert!(rows >= 7, "{rows} instances");
        assert_eq!(b.count(r#"#instances [data-action="restart"]"#).await, rows);
        // Keyboard: from the top of the page, Tab reaches hello's "−" and Enter presses
        // it (back to 3 replicas).
        b.client
            .execute("document.activeElement.blur(); window.scrollTo(0, 0); return null;", vec![])
            .await
            .expect("blur");
        let scale_down = r#"#groups tr[data-group="hello"] [data-action="scale-down"]"#;
        let mut reached = false;
        for _ in 0..80 {
            let here = b
                .client
                .execute(
                    "return document.activeElement === document.querySelector(arguments[0]);",
                    vec![serde_json::json!(scale_down)],
                )
                .await
                .expect("active");
            let key = if here == serde_json::json!(true) {
                reached = true;
                Key::Enter
            } else {
                Key::Tab
            };
            b.press(key).await;
            if reached {
                break;
            }
        }
        assert!(reached, "Tab never reached {scale_down}");
        b.until("hello back at 3 replicas", LOOK, || async {
            b.text(r#"#groups tr[data-group="hello"] output"#)
                .await
                .filter(|t| t == "3")
        })
        .await;
        b.client.clone().close().await.expect("close the session");
    });
}

#[test]
fn the_start_page_lists_every_cluster_and_a_delete_asks_first() {
    let a = Cluster::new("dasha");
    a.write_web_group(1);
    let mut b = Cluster::new("dashb");
    b.share_registry(&a);
    b.write_web_group(2);
    a.up();
    b.up();
    let board = Dashboard::start(&a, &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let br = Browser::start(1280, 800).await;
        br.client
            .goto(&format!("http://{}/", board.addr))
            .await
            .expect("open the dashboard");
        // Two clusters: the start page shows both, each with its instances.
        br.until("both clusters with their instances", LOOK, || async {
            (br.count(r#"article[data-cluster="dasha"] .chips .badge"#)
                .await
                == 1
                && br
                    .count(r#"article[data-cluster="dashb"] .chips .badge"#)
                    .await
                    == 2)
                .then_some(())
        })
        .await;
        br.click(r#"article[data-cluster="dashb"] h2 a"#).await;
        let rows = r#"#instances tr[data-instance^="web-"]"#;
        br.until("dashb's two instances", LOOK, || async {
            (br.count(rows).await == 2).then_some(())
        })
        .await;
        // Delete asks first: dismissed, nothing happens; accepted, web-1 goes.
        let delete = r#"#instances tr[data-instance="web-1"] [data-action="delete"]"#;
        br.click(delete).await;
        let question = br.client.get_alert_text().await.expect("a confirmation");
        assert!(question.contains("Delete instance web-1?"), "{question}");
        br.client.dismiss_alert().await.expect("dismiss");
        br.click(delete).await;
        br.client.accept_alert().await.expect("accept");
        let removed = r#"#events li[data-object="instance/web-1"][data-reason="Removed"]"#;
        br.until("web-1 removed", LOOK, || async {
            (br.count(removed).await == 1).then_some(())
        })
        .await;
        // Only the accepted one reached the daemon.
        let deletes = b
            .events()
            .iter()
            .filter(|e| {
                e["object"] == "instance/web-1"
                    && e["reason"] == "DesiredState"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.ends_with("removed"))
            })
            .count();
        assert_eq!(deletes, 1, "{:?}", b.events());
        br.client.clone().close().await.expect("close the session");
    });
}
