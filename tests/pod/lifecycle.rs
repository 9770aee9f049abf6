//! The pod API of a local app, driven through real dash and bash with real processes:
//! run, status, idempotence, crashes, stop (grace period, process trees, escapees),
//! rm, logs, foreground runs, detaching, platform and port errors.

use crate::support::pod::*;
use lcc_compiler::podspec::{Command, ProbeAction, StorageBinding};
use std::time::Duration;

/// A python program that sleeps, optionally ignoring SIGTERM and forking a tree with
/// a grandchild and an escapee that calls setsid and double-forks. Every process keeps
/// `marker` in its argv.
fn sleeper(marker: &str, ignore_term: bool, tree: bool) -> Vec<String> {
    let code = format!(
        r#"
import os, signal, sys, time
if {ignore_term}:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if {tree}:
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(300)
        time.sleep(300)
        os._exit(0)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(300)
        os._exit(0)
print("started", flush=True)
time.sleep(300)
"#,
        ignore_term = if ignore_term { "True" } else { "False" },
        tree = if tree { "True" } else { "False" },
    );
    vec![python(), "-c".into(), code, marker.into()]
}

fn spec_of(name: &str, argv: Vec<String>) -> lcc_compiler::PodSpec {
    local_cmd(name, Command::Argv(argv))
}

#[test]
fn run_is_idempotent_and_stop_stops() {
    for shell in SHELLS {
        let mark = marker("idem");
        let pod = Pod::new(&spec_of("idem", sleeper(&mark, false, false)), shell);
        assert_eq!(pod.status(), "not-created");
        pod.ok(&["run"]);
        assert_eq!(pod.status(), "running");
        let pid = pod.pid();
        assert!(wait_until(Duration::from_secs(30), || pids_with_arg(&mark)
            .len()
            == 1));
        pod.ok(&["run"]);
        assert_eq!(pod.pid(), pid, "{shell}: a second run replaced the process");
        let pids = pids_with_arg(&mark);
        let show: Vec<String> = pids
            .iter()
            .map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default())
            .collect();
        assert_eq!(pids.len(), 1, "{shell}: two copies running: {show:?}");
        let info = pod.info();
        assert_eq!(info["status"], "running");
        assert_eq!(info["pid"].as_u64(), pid.map(u64::from));
        assert_eq!(info["type"], "local");
        // `started` is .pod/started's modification time, read back with `date -r`.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let started = info["started"]
            .as_u64()
            .unwrap_or_else(|| panic!("{shell}: {info}"));
        assert!(
            now.abs_diff(started) < 60,
            "{shell}: started {started}, now {now}"
        );
        pod.ok(&["stop"]);
        assert_eq!(pod.status(), "stopped");
        assert!(
            pids_with_arg(&mark).is_empty(),
            "{shell}: survivor after stop"
        );
        // Stopping a stopped pod is fine; running it again starts a new process.
        pod.ok(&["stop"]);
        pod.ok(&["run"]);
        assert_eq!(pod.status(), "running");
        assert_ne!(pod.pid(), pid);
    }
}

#[test]
fn a_crash_is_exited_with_its_code() {
    for shell in SHELLS {
        let pod = Pod::new(
            &local("crash", &["sh", "-c", "echo dying >&2; exit 3"]),
            shell,
        );
        pod.ok(&["run"]);
        pod.wait_status("exited");
        assert!(wait_until(Duration::from_secs(5), || pod.info()
            ["exit_code"]
            == 3));
        assert!(pod.ok(&["logs", "--stderr"]).contains("dying"));
        // A process killed by a signal records 128 + the signal.
        let mark = marker("sig");
        let pod = Pod::new(&spec_of("sig", sleeper(&mark, false, false)), shell);
        pod.ok(&["run"]);
        assert!(wait_until(Duration::from_secs(30), || pids_with_arg(&mark)
            .len()
            == 1));
        for pid in pids_with_arg(&mark) {
            std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .expect("kill");
        }
        pod.wait_status("exited");
        assert!(wait_until(Duration::from_secs(5), || pod.info()
            ["exit_code"]
            == 137));
    }
}

#[test]
fn stop_kills_after_the_timeout_and_leaves_no_survivor() {
    for shell in SHELLS {
        let mark = marker("tree");
        let pod = Pod::new(&spec_of("tree", sleeper(&mark, true, true)), shell);
        pod.ok(&["run"]);
        // main, child, grandchild and the escapee's double-forked child.
        assert!(
            wait_until(Duration::from_secs(30), || pids_with_arg(&mark).len() == 4),
            "{shell}: tree not complete: {:?}",
            pids_with_arg(&mark)
        );
        pod.ok(&["stop", "--timeout", "0.3"]);
        assert_eq!(pod.status(), "stopped");
        assert!(
            pids_with_arg(&mark).is_empty(),
            "{shell}: survivors {:?}",
            pids_with_arg(&mark)
        );
    }
}

#[test]
fn kill_is_immediate() {
    for shell in SHELLS {
        let mark = marker("kill");
        let pod = Pod::new(&spec_of("kill", sleeper(&mark, true, false)), shell);
        pod.ok(&["run"]);
        assert!(wait_until(Duration::from_secs(30), || pids_with_arg(&mark)
            .len()
            == 1));
        pod.ok(&["kill"]);
        assert_eq!(pod.status(), "stopped");
        assert!(pids_with_arg(&mark).is_empty());
    }
}

#[test]
fn rm_keeps_storage_and_can_run_twice() {
    for shell in SHELLS {
        let storage = tempfile::tempdir().expect("tempdir");
        let data_dir = storage.path().join("notes");
        let mut spec = local("rm", &["sh", "-c", "echo kept > data/note; exec sleep 300"]);
        spec.storage = vec![StorageBinding {
            storage: "notes".into(),
            path: "data".into(),
            dir: data_dir.display().to_string(),
            cluster: "test".into(),
        }];
        let pod = Pod::new(&spec, shell);
        pod.ok(&["run"]);
        assert!(wait_until(Duration::from_secs(30), || data_dir
            .join("note")
            .exists()));
        pod.ok(&["rm"]);
        assert_eq!(pod.status(), "not-created");
        for gone in ["run", "log", ".pod"] {
            assert!(!exists(&pod.dir().join(gone)), "{shell}: {gone} left");
        }
        assert_eq!(
            std::fs::read_to_string(data_dir.join("note")).expect("storage data kept"),
            "kept\n"
        );
        pod.ok(&["rm"]);
        assert!(pod.dir().join("pod").exists());
        // The pod made the storage directory, so it carries the ownership mark.
        let mark = lcc_core::ownership::StorageMark::read(&data_dir).expect("read mark");
        let want = lcc_core::ownership::StorageMark {
            cluster: "test".into(),
            storage: "notes".into(),
        };
        assert_eq!(mark, Some(want), "{shell}");
    }
}

#[test]
fn an_existing_storage_directory_gets_no_mark() {
    let storage = tempfile::tempdir().expect("tempdir");
    std::fs::write(storage.path().join("mine"), "user data").expect("write");
    let mut spec = local("premade", &["sh", "-c", "exec sleep 300"]);
    spec.storage = vec![StorageBinding {
        storage: "notes".into(),
        path: "data".into(),
        dir: storage.path().display().to_string(),
        cluster: "test".into(),
    }];
    let pod = Pod::new(&spec, "dash");
    pod.ok(&["run"]);
    pod.ok(&["rm"]);
    let names: Vec<_> = std::fs::read_dir(storage.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        ["mine"],
        "lcc did not make it, so it does not mark it"
    );
}

#[test]
fn logs_show_the_output() {
    for shell in SHELLS {
        let pod = Pod::new(
            &local(
                "logs",
                &["sh", "-c", "echo one; echo two; echo three; echo oops >&2"],
            ),
            shell,
        );
        assert_eq!(pod.ok(&["logs"]), "");
        pod.ok(&["run"]);
        pod.wait_status("exited");
        assert_eq!(pod.ok(&["logs"]), "one\ntwo\nthree\n");
        assert_eq!(pod.ok(&["logs", "-n", "1"]), "three\n");
        assert_eq!(pod.ok(&["logs", "--stderr"]), "oops\n");
        assert_eq!(pod.cmd(&["logs", "-n", "x"]).status.code(), Some(2));
    }
}

#[test]
fn run_detaches_from_the_callers_output() {
    for shell in SHELLS {
        let mark = marker("detach");
        let pod = Pod::new(&spec_of("detach", sleeper(&mark, false, false)), shell);
        // `$(...)` waits for every writer of its pipe: it returns only if the app holds none.
        let script = format!("out=$({shell} ./pod run); echo \"done:$out\"");
        let mut child = std::process::Command::new("sh")
            .args(["-c", &script])
            .current_dir(pod.dir())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let finished = wait_until(Duration::from_secs(30), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !finished {
            let _ = child.kill();
        }
        let out = child.wait_with_output().expect("output");
        assert!(finished, "{shell}: out=$(./pod run) hung");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "done:\n");
        assert_eq!(pod.status(), "running");
    }
}

#[test]
fn foreground_runs_in_place() {
    for shell in SHELLS {
        let pod = Pod::new(&local("fg", &["sh", "-c", "echo here; exit 5"]), shell);
        let out = pod.cmd(&["run", "--foreground"]);
        assert_eq!(out.status.code(), Some(5));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "here\n");
        assert_eq!(pod.status(), "exited");
    }
}

#[test]
fn no_matching_platform_starts_nothing() {
    for shell in SHELLS {
        let mut spec = local("plat", &["sleep", "300"]);
        spec.platforms[0].os = "plan9".into();
        spec.platforms[0].arch = vec!["mips".into()];
        let pod = Pod::new(&spec, shell);
        let out = pod.cmd(&["run"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no platform matches"), "{err}");
        assert!(err.contains("plan9/mips"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(pod.status(), "not-created");
        assert!(!exists(&pod.dir().join("run")));
    }
}

#[test]
fn a_missing_program_is_named_and_nothing_starts() {
    for shell in SHELLS {
        let spec = local("noprog", &["lcc-test-no-such-program", "arg"]);
        let pod = Pod::new(&spec, shell);
        let out = pod.cmd(&["run"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "pod noprog: program not found: lcc-test-no-such-program (install it or put it on PATH)\n"
        );
        assert_eq!(pod.status(), "not-created");
    }
}

#[test]
fn a_port_in_use_is_named_and_nothing_starts() {
    for shell in SHELLS {
        let taken = listen_low();
        let port = taken.local_addr().expect("addr").port();
        let mut spec = local("busy", &["sleep", "300"]);
        spec.interfaces = vec![iface("admin", None), iface("web", Some(port))];
        let pod = Pod::new(&spec, shell);
        let out = pod.cmd(&["run"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("interface web: port {port} is in use")),
            "{err}"
        );
        assert_eq!(pod.status(), "not-created");
        drop(taken);
        pod.ok(&["run"]);
        assert_eq!(pod.status(), "running");
        let ports = pod.ok(&["ports"]);
        let admin = pod.read("pod.env");
        let admin = admin
            .lines()
            .find_map(|l| l.strip_prefix("LCC_PORT_ADMIN="))
            .expect("allocated port remembered in pod.env");
        assert_eq!(ports, format!("admin {admin} http\nweb {port} http\n"));
    }
}

#[test]
fn exec_readiness_runs_in_run_dir_with_the_pod_env() {
    for shell in SHELLS {
        let mut spec = local("ready", &["sleep", "300"]);
        spec.env = vec![var("FLAG", "ready-file")];
        spec.probe = Some(probe(ProbeAction::Exec {
            command: vec!["test".into(), "-f".into(), "${FLAG}".into()],
        }));
        let pod = Pod::new(&spec, shell);
        assert_eq!(pod.cmd(&["readiness"]).status.code(), Some(1));
        pod.ok(&["run"]);
        assert_eq!(pod.cmd(&["readiness"]).status.code(), Some(1));
        std::fs::write(pod.dir().join("run/ready-file"), "").expect("write");
        pod.ok(&["readiness"]);
    }
}

#[test]
fn usage_errors_exit_2() {
    for shell in SHELLS {
        let pod = Pod::new(&local("usage", &["true"]), shell);
        for args in [
            &["frobnicate"][..],
            &[],
            &["run", "--bogus"],
            &["stop", "--timeout", "soon"],
        ] {
            assert_eq!(pod.cmd(args).status.code(), Some(2), "{shell} {args:?}");
        }
        assert!(pod.ok(&["help"]).contains("readiness"));
        assert!(pod.ok(&["version"]).starts_with("lcc-pod api 1"));
    }
}

#[test]
fn leftovers_of_an_exited_run_are_killed_by_the_next_run() {
    for shell in SHELLS {
        let mark = marker("left");
        let child = "import time; time.sleep(300)";
        let script = format!("\"$0\" -c '{child}' '{mark}' & exit 0");
        let pod = Pod::new(&local("left", &["sh", "-c", &script, &python()]), shell);
        pod.ok(&["run"]);
        pod.wait_status("exited");
        assert!(wait_until(Duration::from_secs(30), || pids_with_arg(&mark)
            .len()
            == 1));
        let old = pids_with_arg(&mark);
        pod.ok(&["run"]);
        assert!(wait_until(Duration::from_secs(30), || {
            let now = pids_with_arg(&mark);
            now.len() == 1 && now != old
        }));
    }
}

#[test]
fn the_pod_finds_its_directory_from_anywhere() {
    for shell in SHELLS {
        let pod = Pod::new(&local("where", &["sleep", "300"]), shell);
        let run = |args: &[&str]| {
            std::process::Command::new(shell)
                .arg("pod-dir/pod")
                .args(args)
                .current_dir(pod.tmp.path())
                .env("CDPATH", "/")
                .output()
                .expect("spawn")
        };
        assert!(run(&["run"]).status.success());
        let out = run(&["status"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "running\n");
        assert!(pod.dir().join(".pod/pid").exists());
    }
}

#[test]
fn the_app_does_not_inherit_ignored_int_or_quit() {
    for shell in SHELLS {
        let mark = marker("sigign");
        let pod = Pod::new(&spec_of("sigign", sleeper(&mark, false, false)), shell);
        pod.ok(&["run"]);
        assert!(wait_until(Duration::from_secs(30), || pids_with_arg(&mark)
            .len()
            == 1));
        let pid = pids_with_arg(&mark)[0];
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let ignored = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .expect("SigIgn");
        // Bits are signal - 1: SIGINT = 2, SIGQUIT = 3.
        assert_eq!(ignored & 0b110, 0, "{shell}: SigIgn {ignored:x}");
    }
}

#[test]
fn concurrent_runs_start_one_process() {
    for shell in SHELLS {
        let mark = marker("race");
        let pod = Pod::new(&spec_of("race", sleeper(&mark, false, false)), shell);
        let children: Vec<_> = (0..4)
            .map(|_| {
                std::process::Command::new(shell)
                    .args(["./pod", "run"])
                    .current_dir(pod.dir())
                    .stdin(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for mut child in children {
            assert!(child.wait().expect("wait").success());
        }
        assert!(wait_until(Duration::from_secs(30), || pids_with_arg(&mark)
            .len()
            == 1));
        // Give a second copy, if any were starting, the time to show up.
        assert!(!wait_until(Duration::from_millis(500), || pids_with_arg(
            &mark
        )
        .len()
            > 1));
    }
}

#[test]
fn logs_follow_new_output() {
    for shell in SHELLS {
        let pod = Pod::new(
            &local(
                "follow",
                &["sh", "-c", "echo first; sleep 1; echo second; sleep 300"],
            ),
            shell,
        );
        pod.ok(&["run"]);
        let mut tail = std::process::Command::new(shell)
            .args(["./pod", "logs", "-f"])
            .current_dir(pod.dir())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdout = tail.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut seen = String::new();
            let mut buf = [0u8; 256];
            while !seen.contains("second") {
                match std::io::Read::read(&mut stdout, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
            seen
        });
        let done = wait_until(Duration::from_secs(30), || reader.is_finished());
        let _ = tail.kill();
        let _ = tail.wait();
        assert!(done, "{shell}: logs -f never showed the second line");
        assert_eq!(reader.join().expect("reader"), "first\nsecond\n");
    }
}

#[test]
fn a_pod_directory_with_shell_characters_works() {
    for shell in SHELLS {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a b$(x)'c\"d`e");
        let mark = marker("odd");
        let spec = spec_of("odd", sleeper(&mark, false, false));
        lcc_compiler::render::write_pod(&dir, &spec, &lcc_bin()).expect("write_pod");
        let pod = |args: &[&str]| {
            std::process::Command::new(shell)
                .arg(dir.join("pod"))
                .args(args)
                .stdin(std::process::Stdio::null())
                .output()
                .expect("spawn")
        };
        // Stopping a pod never run changes nothing.
        assert!(pod(&["stop"]).status.success());
        assert_eq!(
            String::from_utf8_lossy(&pod(&["status"]).stdout),
            "not-created\n"
        );
        assert!(pod(&["run"]).status.success());
        assert!(wait_until(Duration::from_secs(30), || pids_with_arg(&mark)
            .len()
            == 1));
        assert_eq!(
            String::from_utf8_lossy(&pod(&["status"]).stdout),
            "running\n"
        );
        assert!(pod(&["rm"]).status.success());
        assert!(pids_with_arg(&mark).is_empty());
        assert_eq!(
            String::from_utf8_lossy(&pod(&["status"]).stdout),
            "not-created\n"
        );
    }
}
