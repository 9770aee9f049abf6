//! The real `lcc-proxy` binary: refusing a bad config at startup, serving around a taken
//! address and naming its holder, 100 MiB each way with
//! bounded memory, SIGHUP reloads, a clean exit on SIGTERM, and workers kept on a core each.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The binary, killed when dropped; its stderr lines collected.
struct Running {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(config: &std::path::Path) -> Running {
        Running::start_with(config, &[])
    }

    /// Starts the binary with extra environment variables.
    fn start_with(config: &std::path::Path, env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lcc-proxy"))
            .arg("--config")
            .arg(config)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lcc-proxy");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().expect("lock").push(line);
            }
        });
        Running { child, stderr }
    }

    fn count(&self, needle: &str) -> usize {
        self.stderr
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

#[test]
fn a_bad_config_at_startup_exits_1_naming_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("proxy.conf");
    std::fs::write(
        &path,
        "version: 1\ngateways: [{name: a, listen: nowhere, protocol: http}]\n",
    )
    .expect("write");
    let out = run_with_config(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("gateways[0].listen"), "{err}");
    let missing = run_with_config(&dir.path().join("absent.conf"));
    assert_eq!(missing.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_at_startup_is_named_with_its_holder_and_taken_once_free() {
    let a = http_backend("a").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, listeners) = (
        dir.path().join("proxy.conf"),
        dir.path().join("proxy.listeners"),
    );
    // this test process holds the gateway's port
    let thief = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let (http, gw) = (free_addr(), thief.local_addr().expect("addr"));
    std::fs::write(&path, web_config(http, gw, &[a.addr])).expect("write");
    let child = Command::new(env!("CARGO_BIN_EXE_lcc-proxy"))
        .arg("--config")
        .arg(&path)
        .arg("--listeners")
        .arg(&listeners)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lcc-proxy");
    // killed when dropped, even if an assertion fails
    let proxy = Running {
        child,
        stderr: Arc::new(Mutex::new(Vec::new())),
    };
    let client = client();
    // the entrance serves although the gateway's address is taken
    wait_until(Duration::from_secs(10), "entrance serving", || async {
        who(&client, http, "/entrances/web/").await == "a"
    })
    .await;
    let read = || lcc_core::proxy_listeners::Listeners::read(&listeners).unwrap_or_default();
    wait_until(Duration::from_secs(5), "the busy address named", || async {
        read().busy.len() == 1
    })
    .await;
    let busy = read().busy.remove(0);
    assert_eq!(busy.listen, gw.to_string());
    let me = std::process::id() as i32;
    assert_eq!(busy.holder.as_ref().map(|h| h.pid), Some(me), "{busy:?}");
    assert_eq!(read().listening, [http.to_string()]);
    drop(thief);
    // retried with a backoff capped at 5 s
    wait_until(
        Duration::from_secs(6),
        "gateway served once free",
        || async { who(&client, gw, "/").await == "a" },
    )
    .await;
    wait_until(Duration::from_secs(2), "the file says so", || async {
        read().busy.is_empty() && read().listening.len() == 2
    })
    .await;
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_mib_each_way_with_bounded_memory_sighup_and_sigterm() {
    let a = http_backend("a").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("proxy.conf");
    let (http, gw) = (free_addr(), free_addr());
    std::fs::write(&path, web_config(http, gw, &[a.addr])).expect("write");
    let proxy = Running::start(&path);
    let client = client();
    wait_until(Duration::from_secs(10), "binary serving", || async {
        who(&client, gw, "/").await == "a"
    })
    .await;

    const SIZE: u64 = 100 * 1024 * 1024;
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pid_rss = {
        let pid = proxy.child.id();
        let (sampling, peak) = (sampling.clone(), peak.clone());
        std::thread::spawn(move || {
            let probe = Running::rss_of(pid);
            for _ in 0..6000 {
                if !sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                peak.fetch_max(probe(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let upload = http::Request::post(format!("http://{http}/entrances/web/upload"))
        .body(generated(SIZE))
        .expect("request");
    let r = send(&client, upload).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, SIZE.to_string().as_str())
    );
    let resp = client
        .request(request(gw, &format!("/download?{SIZE}")))
        .await
        .expect("download");
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut got = 0u64;
    while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
        got += frame
            .expect("frame")
            .data_ref()
            .map_or(0, |d| d.len() as u64);
    }
    assert_eq!(got, SIZE);
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    pid_rss.join().expect("sampler");
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        peak > 0 && peak < 100 * 1024,
        "proxy RSS peaked at {peak} KiB"
    );

    // SIGHUP re-reads the file even when it did not change
    let before = proxy.count("reloaded");
    proxy.signal("HUP");
    wait_until(Duration::from_secs(5), "reload on SIGHUP", || async {
        proxy.count("reloaded") > before
    })
    .await;
    assert_eq!(who(&client, http, "/entrances/web/").await, "a");

    // a broken file is logged as refused and the binary keeps serving
    std::fs::write(
        &path,
        "version: 1\nentrances: [{name: x, gateway: missing}]\n",
    )
    .expect("write");
    wait_until(Duration::from_secs(5), "refusal logged", || async {
        proxy.count("refused") > 0
    })
    .await;
    assert!(proxy
        .stderr
        .lock()
        .expect("lock")
        .iter()
        .any(|l| l.contains("entrances[0].gateway")));
    assert_eq!(who(&client, gw, "/").await, "a");

    proxy.signal("TERM");
    let mut proxy = proxy;
    let mut status = None;
    wait_until(Duration::from_secs(15), "exit on SIGTERM", || {
        let s = proxy.child.try_wait().expect("wait");
        status = s;
        async move { s.is_some() }
    })
    .await;
    assert!(status.expect("status").success());
}

impl Running {
    fn rss_of(pid: u32) -> impl Fn() -> u64 {
        move || {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        }
    }
}

/// The `Cpus_allowed_list` of each thread of `pid` whose name starts with `lcc-proxy`
/// (the workers: the main thread is worker 0), by name.
fn worker_cores(pid: u32) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    for task in tasks.map_while(Result::ok) {
        let read = |f: &str| std::fs::read_to_string(task.path().join(f)).unwrap_or_default();
        let name = read("comm").trim().to_string();
        if name.starts_with("lcc-proxy") {
            found.push((name, cores_of(&read("status"))));
        }
    }
    found.sort();
    found
}

/// The `Cpus_allowed_list:` value of a `/proc/.../status` text.
fn cores_of(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The cores this test may use, as `Cpus_allowed_list` counts them.
fn own_cores() -> (String, usize) {
    let list = cores_of(&std::fs::read_to_string("/proc/self/status").expect("status"));
    let count = list
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap_or(0) - a.parse::<usize>().unwrap_or(0) + 1,
            None => 1,
        })
        .sum();
    (list, count)
}

#[tokio::test]
async fn two_workers_keep_to_a_core_each_unless_told_not_to() {
    let a = http_backend("a").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("proxy.conf");
    let (http, gw) = (free_addr(), free_addr());
    std::fs::write(&path, web_config(http, gw, &[a.addr])).expect("write");
    let (mine, count) = own_cores();
    let client = client();
    for pin in ["1", "0"] {
        let proxy =
            Running::start_with(&path, &[("LCC_PROXY_THREADS", "2"), ("LCC_PROXY_PIN", pin)]);
        wait_until(Duration::from_secs(10), "binary serving", || async {
            who(&client, gw, "/").await == "a"
        })
        .await;
        let cores = worker_cores(proxy.child.id());
        let names: Vec<&str> = cores.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["lcc-proxy", "lcc-proxy-1"], "{cores:?}");
        if pin == "1" && count >= 2 {
            // one core each, and not the same one
            assert!(
                cores.iter().all(|(_, c)| c.parse::<usize>().is_ok()),
                "{cores:?}"
            );
            assert_ne!(cores[0].1, cores[1].1, "{cores:?}");
        } else {
            // unpinned (or too few cores to pin): wherever this test may run
            assert!(cores.iter().all(|(_, c)| *c == mine), "{cores:?} vs {mine}");
        }
    }
}

/// Runs `lcc-proxy --config PATH` to completion (for configs it refuses at startup).
fn run_with_config(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lcc-proxy"))
        .arg("--config")
        .arg(path)
        .output()
        .expect("run lcc-proxy")
}
