//! `watch:` under `lcc up --watch`: a write under a watched path restarts the instances
//! after the debounce, a group one replica at a time while its gateway serves every
//! request; an ignored file restarts nothing.

use crate::support::{http_app, http_get, wait_until, Cluster};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn a_write_restarts_a_group_one_replica_at_a_time_and_no_request_fails() {
    let c = Cluster::new("watch");
    std::fs::create_dir_all(c.path().join("src")).expect("src");
    std::fs::write(c.path().join("src/app.py"), "v1\n").expect("write");
    let app = format!(
        "{}watch: [{{path: src, ignore: [\"*.pyc\"], action: restart}}]\n",
        http_app("web", "")
    );
    let addr = c.write_group_of(&app, 2);
    let out = c.lcc(&["up", "-d", "--wait", "--watch"]);
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let (stop, failures) = (stop.clone(), failures.clone());
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while !stop.load(Ordering::SeqCst) && sent < 100_000 {
                sent += 1;
                match http_get(addr, "/") {
                    Some((200, _)) => {}
                    other => failures
                        .lock()
                        .expect("lock")
                        .push(format!("{:?}", other.map(|(s, _)| s))),
                }
            }
            sent
        })
    };
    // An ignored file: nothing restarts.
    std::fs::write(c.path().join("src/app.pyc"), "x").expect("write");
    std::fs::write(c.path().join("src/app.py"), "v2\n").expect("write");
    let restarted = wait_until(Duration::from_secs(30), || {
        ["web-1", "web-2"]
            .iter()
            .all(|i| c.events_of(&format!("instance/{i}"), "Started").len() == 2 && c.ready(i))
    });
    stop.store(true, Ordering::SeqCst);
    let sent = load.join().expect("load thread");
    assert!(restarted, "{}", c.dump());
    let failed = failures.lock().expect("lock").clone();
    assert!(
        failed.is_empty(),
        "{} of {sent} requests failed: {failed:?}",
        failed.len()
    );
    assert!(sent > 20, "the load ran: {sent}");
    let changed = c.events_with("SourceChanged");
    assert_eq!(
        changed.len(),
        2,
        "one restart each, the .pyc ignored: {changed:?}"
    );
    let message = format!(
        "{} changed: restarting",
        c.path().join("src/app.py").display()
    );
    assert!(
        changed.iter().all(|e| e["message"] == message.as_str()),
        "{changed:?}"
    );
    // One at a time: the second went only once the first was Ready again.
    let first = changed[0]["object"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ready_again = c.events_of(&first, "Ready")[1]["time"]
        .as_f64()
        .unwrap_or(f64::MAX);
    assert!(
        changed[1]["time"].as_f64().unwrap_or(0.0) >= ready_again,
        "{}",
        c.dump()
    );
}
