//! The state directory is lcc's alone (issue 25, items 5 and 8), with the real binaries:
//! what users put in `.lcc/pods/` survives `lcc up`/`down` byte for byte and is never
//! run; an lcc pod without its spec is moved to `.lcc/orphans/`, not deleted; `.lcc`,
//! its directories and pod scripts are owner-only and a secret env value shows in
//! neither `pod info` nor `lcc ps`; a `.lcc` symlink leaving the cluster is refused;
//! a user's folder in an instance's place is not written into.

use crate::support::{
    alive, gone, instance, kill9, lcc_bin, run_with_deadline, snapshot, wait_until, Cluster,
};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A shell app with no probe (ready while running) and `env` (YAML flow mapping body).
fn shell_app(name: &str, script: &str, env: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: {script:?}\n  env: {{{env}}}\nrestart: {{policy: always, maxRetries: 5, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 1s}}\n"
    )
}

/// Mode bits of a path (not following a symlink).
fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A user's folder: files, a nested directory, a symlink, odd modes, and a `pod` script
/// that leaves `marker` behind if anything ever runs it.
fn plant_user_folder(dir: &Path, marker: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("photo.jpg"), [0xff, 0xd8, 0xff, 0x00, 0x42]).unwrap();
    std::fs::write(dir.join("sub/notes.txt"), "mine, not lcc's\n").unwrap();
    std::os::unix::fs::symlink("sub/notes.txt", dir.join("link")).unwrap();
    std::fs::write(
        dir.join("pod"),
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .unwrap();
    chmod(&dir.join("pod"), 0o755);
    chmod(&dir.join("sub"), 0o750);
    chmod(dir, 0o755);
}

fn unknown_entry_reported(c: &Cluster, path: &Path) -> bool {
    c.events_with("UnknownEntry").iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains(&path.display().to_string()) && m.contains("left alone"))
    })
}

#[test]
fn user_entries_in_the_pods_directory_survive_up_and_down() {
    let c = Cluster::new("userpods");
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("user-pod-ran");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("s", "exec sleep 300", ""),
            instance("s", "s")
        ),
    );
    let pods = c.state().join("pods");
    let folder = pods.join("photos");
    plant_user_folder(&folder, &marker);
    std::fs::write(pods.join("notes.txt"), "a file of mine\n").unwrap();
    chmod(&pods.join("notes.txt"), 0o644);
    let before = (snapshot(&folder), snapshot(&pods.join("notes.txt")));

    c.up();
    assert!(c.ready("s"), "{}", c.dump());
    assert!(unknown_entry_reported(&c, &folder), "{}", c.dump());
    assert!(
        unknown_entry_reported(&c, &pods.join("notes.txt")),
        "{}",
        c.dump()
    );
    // The CLI does not run the folder's `pod` either.
    let refused: [&[&str]; 5] = [
        &["stop", "photos"],
        &["start", "photos"],
        &["restart", "photos"],
        &["delete", "photos"],
        &["logs", "photos"],
    ];
    for args in refused {
        let out = c.lcc(args);
        assert_ne!(out.code, Some(0), "lcc {args:?} accepted a user's folder");
    }
    let out = c.lcc(&["down"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    // A second start finds them again: still not taken for pods.
    c.up();
    assert_eq!(c.lcc(&["down"]).code, Some(0));

    let after = (snapshot(&folder), snapshot(&pods.join("notes.txt")));
    assert_eq!(before, after, "the user's entries changed");
    assert!(!marker.exists(), "the user's `pod` script was run");
    assert!(c.pod("s").join("pod").exists(), "lcc's own pod is there");
}

#[test]
fn a_pods_directory_linked_to_another_disk_keeps_the_users_folders() {
    // The "other disk": declared first so it outlives the cluster's cleanup.
    let other = tempfile::tempdir().unwrap();
    let c = Cluster::new("linkedpods");
    let marker = other.path().join("user-pod-ran");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("s", "exec sleep 300", ""),
            instance("s", "s")
        ),
    );
    let disk = other.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    chmod(&disk, 0o755);
    plant_user_folder(&disk.join("music"), &marker);
    std::fs::write(disk.join("readme.txt"), "the other disk\n").unwrap();
    std::fs::create_dir(c.state()).unwrap();
    std::os::unix::fs::symlink(&disk, c.state().join("pods")).unwrap();
    let before = (
        snapshot(&disk.join("music")),
        snapshot(&disk.join("readme.txt")),
        mode(&disk),
    );

    c.up();
    assert!(c.ready("s"), "{}", c.dump());
    let pods = c.state().join("pods");
    assert!(
        unknown_entry_reported(&c, &pods.join("music")),
        "{}",
        c.dump()
    );
    assert!(
        unknown_entry_reported(&c, &pods.join("readme.txt")),
        "{}",
        c.dump()
    );
    assert_eq!(c.lcc(&["down"]).code, Some(0));
    c.up();
    assert_eq!(c.lcc(&["down"]).code, Some(0));

    let after = (
        snapshot(&disk.join("music")),
        snapshot(&disk.join("readme.txt")),
        mode(&disk),
    );
    assert_eq!(before, after, "the other disk's folders changed");
    assert!(!marker.exists(), "the user's `pod` script was run");
    assert!(
        std::fs::symlink_metadata(&pods)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link itself is kept"
    );
}

#[test]
fn an_lcc_pod_without_its_spec_is_moved_to_orphans_not_deleted() {
    let c = Cluster::new("orphans");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("s", "echo started; exec sleep 300", ""),
            instance("s", "s")
        ),
    );
    c.up();
    let (old_pid, _) = c.run_id("s").expect("s runs");
    let pod = c.pod("s");
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(pod.join("log/stdout.log")).is_ok_and(|t| t.contains("started"))
    }));
    std::fs::write(pod.join("run/data.txt"), "the app's data\n").unwrap();
    // The daemon dies (its pods keep running) and the spec it recorded is lost.
    let daemon = c.daemon_pid().expect("daemon pid");
    kill9(daemon);
    assert!(wait_until(Duration::from_secs(10), || gone(daemon)));
    assert!(alive(old_pid as i32), "the pod outlives its daemon");
    std::fs::remove_file(c.state().join("specs/s.json")).unwrap();
    let files = |dir: &Path| {
        let mut s = snapshot(dir);
        // `.pod/` is the pod's own bookkeeping, which `pod stop` updates.
        s.retain(|k, _| !k.starts_with(".pod"));
        s
    };
    let before = files(&pod);

    c.up();
    assert!(
        wait_until(Duration::from_secs(10), || !alive(old_pid as i32)),
        "the orphan's app was not stopped"
    );
    let moved = c
        .events_with("Orphaned")
        .iter()
        .find_map(|e| {
            let m = e["message"].as_str()?;
            let at = m.find(".lcc/orphans/")?;
            let rest = &m[at..];
            Some(rest[..rest.find(';')?].to_string())
        })
        .unwrap_or_else(|| panic!("no Orphaned event naming the place: {}", c.dump()));
    let dest = c.path().join(&moved);
    assert!(
        moved.starts_with(".lcc/orphans/s."),
        "moved to {moved}: {}",
        c.dump()
    );
    assert_eq!(
        files(&dest),
        before,
        "the orphan's files were not kept intact"
    );
    assert_eq!(mode(&c.state().join("orphans")), 0o700);
    // The manifests still want `s`: a new pod takes its place.
    assert!(
        wait_until(Duration::from_secs(20), || c.ready("s")),
        "{}",
        c.dump()
    );
    assert_ne!(c.run_id("s").map(|r| r.0), Some(old_pid));
    assert!(!c.pod("s").join("run/data.txt").exists());
    assert_eq!(c.lcc(&["down"]).code, Some(0));
    assert!(
        dest.join("run/data.txt").exists(),
        "down removed the orphan"
    );
}

const SECRET: &str = "hunter2-s3cr3t-7f4a";

#[test]
fn state_is_private_and_secrets_stay_out_of_info_and_ps() {
    let c = Cluster::new("secrets");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app(
                "s",
                "printf '%s' \"$SECRET_TOKEN\" > got; exec sleep 300",
                &format!("SECRET_TOKEN: {SECRET}")
            ),
            instance("s", "s")
        ),
    );
    // A state directory of an older lcc, open to everyone: narrowed at start.
    std::fs::create_dir_all(c.state().join("status")).unwrap();
    chmod(&c.state(), 0o755);
    chmod(&c.state().join("status"), 0o755);
    c.up();
    let pod = c.pod("s");
    // The app got the secret: its absence below is not for want of one.
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(pod.join("run/got")).is_ok_and(|t| t == SECRET)
    }));
    check_private(&c);
    // A pod directory and script left 0755 (an older lcc) are narrowed at adoption.
    assert_eq!(c.lcc(&["down"]).code, Some(0));
    chmod(&pod, 0o755);
    chmod(&pod.join("pod"), 0o755);
    c.up();
    check_private(&c);

    let info = Command::new(pod.join("pod")).arg("info").output().unwrap();
    assert!(info.status.success());
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("\"instance\":\"s\""), "{info}");
    assert!(!info.contains(SECRET), "pod info shows the secret: {info}");
    for args in [&["ps", "-o", "json"][..], &["ps"], &["events"]] {
        let out = c.lcc(args);
        assert_eq!(out.code, Some(0), "{}", out.err());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains('s'), "{text}");
        assert!(
            !text.contains(SECRET),
            "lcc {args:?} shows the secret: {text}"
        );
    }
    // Where the secret is on disk: the pod script and the recorded spec (both owner
    // only, in owner-only directories), and what the app itself wrote.
    let mut holders: Vec<String> = snapshot(&c.state())
        .into_iter()
        .filter(|(_, (kind, _, bytes))| {
            kind == "file" && bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes())
        })
        .map(|(k, _)| k)
        .collect();
    holders.sort();
    assert_eq!(holders, ["pods/s/pod", "pods/s/run/got", "specs/s.json"]);
    assert_eq!(mode(&c.state().join("specs/s.json")) & 0o077, 0);

    // `lcc compile -o DIR` writes the same private pods.
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(lcc_bin())
        .arg("compile")
        .arg(c.path().join("app.yaml"))
        .arg("-o")
        .arg(out_dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&out_dir.path().join("out/s")), 0o700);
    assert_eq!(mode(&out_dir.path().join("out/s/pod")), 0o700);
}

/// `.lcc`, every directory directly in it and every pod directory are 0700, every pod
/// script 0700.
fn check_private(c: &Cluster) {
    assert_eq!(mode(&c.state()), 0o700, ".lcc");
    for e in std::fs::read_dir(c.state()).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            assert_eq!(mode(&e.path()), 0o700, "{}", e.path().display());
        }
    }
    for e in std::fs::read_dir(c.state().join("pods")).unwrap().flatten() {
        assert_eq!(mode(&e.path()), 0o700, "{}", e.path().display());
        assert_eq!(
            mode(&e.path().join("pod")),
            0o700,
            "{}/pod",
            e.path().display()
        );
    }
}

#[test]
fn a_state_link_leaving_the_cluster_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    let c = Cluster::new("stlink");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("s", "exec sleep 300", ""),
            instance("s", "s")
        ),
    );
    std::fs::write(elsewhere.path().join("keep.txt"), "theirs\n").unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), c.state()).unwrap();
    let before = snapshot(elsewhere.path());
    for args in [&["up", "-d", "--wait"][..], &["up"]] {
        let out = c.lcc(args);
        assert_eq!(out.code, Some(1), "lcc {args:?}: {}", out.err());
        let err = out.err();
        assert!(err.contains(".lcc is a symlink to"), "{err}");
        assert!(
            err.contains(
                &elsewhere
                    .path()
                    .canonicalize()
                    .unwrap()
                    .display()
                    .to_string()
            ),
            "{err}"
        );
        assert!(err.contains("remove the link"), "{err}");
    }
    // The daemon refuses too when started on its own.
    let mut daemon = Command::new(lcc_bin());
    daemon.arg("daemon").arg(c.path());
    let out = run_with_deadline(daemon, Duration::from_secs(30));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(
        out.err().contains("not inside the cluster directory"),
        "{}",
        out.err()
    );
    assert_eq!(
        snapshot(elsewhere.path()),
        before,
        "lcc wrote at the link's end"
    );
}

#[test]
fn a_user_folder_in_an_instances_place_is_not_written_into() {
    let c = Cluster::new("occupied");
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("user-pod-ran");
    let manifests = format!(
        "{}---\n{}---\nkind: InstanceGroup\nname: g\napp: s\nreplicas: 2\n",
        shell_app("s", "exec sleep 300", ""),
        instance("s", "s")
    );
    c.write("app.yaml", &manifests);
    let taken = c.pod("s");
    plant_user_folder(&taken, &marker);
    let group_slot = c.pod("g-1");
    std::fs::create_dir_all(&group_slot).unwrap();
    std::fs::write(group_slot.join("mine.txt"), "g-1 is my folder\n").unwrap();
    let before = (snapshot(&taken), snapshot(&group_slot));

    // `--wait` says at once that the explicit instance cannot become ready (it has no
    // status file: only its event tells); the group passes over the occupied name.
    let out = c.lcc(&["up", "-d", "--wait"]);
    assert_eq!(out.code, Some(1), "{}{}", out.out(), out.err());
    let line = format!(
        "  s PodDirOccupied: {} exists and is not a pod lcc made: lcc will not write into it; move it out of .lcc/pods/ and the instance is created",
        taken.display()
    );
    assert!(
        out.err().starts_with("lcc: not ready:\n") && out.err().lines().any(|l| l == line),
        "{}",
        out.err()
    );
    assert!(!out.err().contains("g-1"), "{}", out.err());
    assert!(
        wait_until(Duration::from_secs(20), || c.ready("g-2") && c.ready("g-3")),
        "{}",
        c.dump()
    );
    // More full passes: a scale up, done once its new member is ready.
    assert_eq!(c.lcc(&["scale", "g", "3"]).code, Some(0));
    assert!(
        wait_until(Duration::from_secs(20), || c.ready("g-4")),
        "{}",
        c.dump()
    );
    let occupied: Vec<_> = c
        .events_with("PodDirOccupied")
        .into_iter()
        .filter(|e| e["object"] == "instance/s")
        .collect();
    assert_eq!(occupied.len(), 1, "reported once: {}", c.dump());
    let msg = occupied[0]["message"].as_str().unwrap();
    assert!(msg.contains(&taken.display().to_string()), "{msg}");
    assert!(msg.contains("move it"), "{msg}");
    assert!(
        c.status("s").is_none(),
        "an instance was made in the user's folder"
    );
    assert!(c.status("g-1").is_none());
    assert_eq!(
        (snapshot(&taken), snapshot(&group_slot)),
        before,
        "the user's folders changed"
    );
    assert!(!marker.exists(), "the user's `pod` script was run");

    // Once the folder is moved away, the instance is created (at the next full pass,
    // which a manifest write brings about at once).
    std::fs::rename(&taken, outside.path().join("moved")).unwrap();
    c.write("app.yaml", &manifests);
    assert!(
        wait_until(Duration::from_secs(20), || c.ready("s")),
        "{}",
        c.dump()
    );
    assert_eq!(c.lcc(&["down"]).code, Some(0));
    assert_eq!(snapshot(&group_slot), before.1, "g-1 changed");
    assert!(!marker.exists(), "the user's `pod` script was run");
}
