//! Fault family 2: SIGKILL of `lcc-proxy` under a steady request load through a
//! gateway (four client threads): the daemon starts a new proxy, and requests fail only between the kill and
//! the new proxy answering.

use crate::support::{http_get, kill9, wait_until, Cluster};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request of the load: sent, answered (or failed), and whether it got a 200.
type Sent = (Instant, Instant, bool);

/// Requests through `addr` until `stop`, at most 60 s, each logged.
fn load(addr: SocketAddr, stop: Arc<AtomicBool>, log: Arc<Mutex<Vec<Sent>>>) {
    let start = Instant::now();
    while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
        let sent = Instant::now();
        let ok = http_get(addr, "/").is_some_and(|(s, _)| s == 200);
        if let Ok(mut log) = log.lock() {
            log.push((sent, Instant::now(), ok));
        }
        if !ok {
            // A refused connection returns at once: pace retries instead of spinning.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[test]
fn sigkill_of_the_proxy_under_load_is_repaired() {
    let c = Cluster::alone("pkill");
    let addr = c.write_web_group(2);
    c.up();
    assert!(
        wait_until(Duration::from_secs(10), || http_get(addr, "/")
            .is_some_and(|(s, _)| s == 200)),
        "gateway serves:\n{}",
        c.dump()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    // Four clients in closed loops: a small, steady load without wrk.
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (stop, log) = (Arc::clone(&stop), Arc::clone(&log));
            std::thread::spawn(move || load(addr, stop, log))
        })
        .collect();
    let served = |log: &Arc<Mutex<Vec<Sent>>>| {
        log.lock()
            .map(|l| l.iter().filter(|e| e.2).count())
            .unwrap_or(0)
    };
    let mut windows = Vec::new();
    for round in 1..=5 {
        let before = served(&log);
        assert!(
            wait_until(Duration::from_secs(10), || served(&log) >= before + 100),
            "load flows before kill {round}"
        );
        let old = c.proxy_pid().expect("proxy pid");
        c.observe();
        let killed = Instant::now();
        kill9(old);
        let back = wait_until(Duration::from_secs(10), || {
            c.proxy_pid().is_some_and(|p| p != old)
                && http_get(addr, "/").is_some_and(|(s, _)| s == 200)
        });
        c.observe();
        let recovered = Instant::now();
        assert!(
            back,
            "round {round}: no new proxy serving within 10 s:\n{}",
            c.dump()
        );
        eprintln!(
            "faults: proxy SIGKILL round {round}: serving again after {:?}",
            recovered - killed
        );
        windows.push((killed, recovered));
    }
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        l.join().expect("load thread");
    }

    let log = log.lock().expect("log").clone();
    let failures: Vec<&Sent> = log.iter().filter(|e| !e.2).collect();
    // A request still in flight at a kill may fail too, however long ago it was sent.
    let outside: Vec<&&Sent> = failures
        .iter()
        .filter(|(sent, done, _)| !windows.iter().any(|(k, r)| *done >= *k && *sent <= *r))
        .collect();
    let mut gaps: Vec<Duration> = windows.iter().map(|(k, r)| *r - *k).collect();
    gaps.sort();
    eprintln!(
        "faults: proxy SIGKILL x5 under load: {} requests, {} failed, {} outside the kill windows; recovery median {:?}, max {:?}",
        log.len(),
        failures.len(),
        outside.len(),
        gaps[gaps.len() / 2],
        gaps[gaps.len() - 1]
    );
    let restarted = c.events_with("ProxyStarted").len();
    assert!(
        restarted >= 6,
        "a ProxyStarted event per restart: {restarted}"
    );
    assert!(
        outside.is_empty(),
        "{} requests failed outside the kill windows",
        outside.len()
    );
    assert!(c.unparsable().is_empty(), "{:?}", c.unparsable());
}
