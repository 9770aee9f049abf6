//! `lcc sync` to three real hosts (network namespaces with sshd, [`Hosts`]): the
//! operator's checkout is a git repository, mostly with one Instance placed on each
//! host; one test places by region and labels, with an inactive host; one reaches a
//! host through another (`ssh.jumpHost`).

use crate::support::hosts::{Host, Hosts};
use crate::support::{
    instance, lcc_bin, run_with_deadline, shell_app, wait_until, Bounded, KillOnDrop,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The operator's checkout: `hosts.yaml`, `app.yaml` (app `s`), and `a1.yaml`..
/// (Instance `aN` placed on host `hN`), committed.
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    /// The cluster over `hosts`; `host_docs` are the `kind: Host` documents.
    fn new(hosts: &Hosts, host_docs: &str) -> Checkout {
        let c = Checkout::without_instances(host_docs);
        for (i, host) in hosts.all().iter().enumerate() {
            c.write(
                &format!("a{}.yaml", i + 1),
                &format!(
                    "{}placement: {{hosts: [{}]}}\n",
                    instance(&format!("a{}", i + 1), "s"),
                    host.name
                ),
            );
        }
        c.commit("first");
        c
    }

    /// `hosts.yaml` (the Cluster and `host_docs`), `app.yaml` and `bin/tool.sh` in a new
    /// repository, not committed yet.
    fn without_instances(host_docs: &str) -> Checkout {
        let c = Checkout {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        c.git(&["init", "-q", "-b", "main"]);
        c.write(
            "hosts.yaml",
            &format!("kind: Cluster\nname: multi\n---\n{host_docs}"),
        );
        c.write("app.yaml", &shell_app("s", "exec sleep 300", 5));
        c.write("bin/tool.sh", "#!/bin/sh\necho tool\n");
        set_mode(&c.path().join("bin/tool.sh"), 0o755);
        c
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, body: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }

    fn git(&self, args: &[&str]) -> String {
        crate::support::hosts::git(self.path(), args)
    }

    /// `git add -A` and commit; the new HEAD.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// `lcc sync DIR ARGS` from the operator's namespace.
    fn sync(&self, hosts: &Hosts, args: &[&str]) -> Bounded {
        self.sync_with(hosts, args, &[])
    }

    fn sync_with(&self, hosts: &Hosts, args: &[&str], env: &[(&str, String)]) -> Bounded {
        let mut cmd = hosts.operator(lcc_bin());
        cmd.arg("sync")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_with_deadline(cmd, Duration::from_secs(90))
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The report's line of each host: `h1` -> `synced (5 files)`.
fn report(out: &Bounded) -> BTreeMap<String, String> {
    out.out()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(h, r)| (h.to_string(), r.to_string()))
        .collect()
}

fn expect(out: &Bounded, code: i32, lines: &[(&str, &str)]) {
    let want: BTreeMap<String, String> = lines
        .iter()
        .map(|(h, r)| (h.to_string(), r.to_string()))
        .collect();
    assert_eq!(
        report(out),
        want,
        "stdout:\n{}stderr:\n{}",
        out.out(),
        out.err()
    );
    assert_eq!(out.code, Some(code), "{}{}", out.out(), out.err());
}

/// A directory with an `ssh` that pipes its stdin through the shell command `filter`
/// to the real ssh, and a PATH that finds it first.
fn ssh_through(filter: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ssh = dir.path().join("ssh");
    std::fs::write(&ssh, format!("#!/bin/sh\n{filter} | /usr/bin/ssh \"$@\"\n")).expect("wrapper");
    set_mode(&ssh, 0o755);
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (dir, path)
}

/// An interrupted sync of commit `head` (which adds `data/blob.txt`) left nothing on
/// `host`: no blob, `head` not recorded.
fn assert_blob_not_moved_in(host: &Host, head: &str) {
    assert!(
        !host.dir.join("data/blob.txt").exists(),
        "{}: nothing moved in",
        host.name
    );
    assert_ne!(
        host.read(".lcc/sync/commit").map(|c| c.trim().to_string()),
        Some(head.to_string()),
        "{}: the commit is not recorded",
        host.name
    );
}

/// The files of a host's cluster directory, `.lcc/` aside.
fn files_of(host: &Host) -> Vec<String> {
    files_in(&host.dir)
}

/// The files under `dir`, `.lcc/` aside, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = crate::support::listing(dir)
        .into_iter()
        .filter(|p| !p.starts_with(".lcc") && dir.join(p).is_file())
        .collect();
    out.sort();
    out
}

/// The pid of `instance`'s run on `host`, once its status has one.
fn pid_on(host: &Host, instance: &str) -> Option<i32> {
    let text = host.read(&format!(".lcc/status/{instance}.json"))?;
    let status: serde_json::Value = serde_json::from_str(&text).ok()?;
    status["pid"].as_i64().map(|p| p as i32)
}

/// Whether `pid` runs in `host`'s network namespace (it was started there).
fn in_namespace(host: &Host, pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata(format!("/run/netns/{}", host.ns)).map(|m| m.ino());
    let of = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino());
    matches!((ns, of), (Ok(a), Ok(b)) if a == b)
}

#[test]
fn sync_sends_each_host_its_part_then_nothing_then_one_edit() {
    let hosts = Hosts::new(3);
    let co = Checkout::new(&hosts, &hosts.documents());
    let head = co.head();
    let out = co.sync(&hosts, &[]);
    // each host: hosts.yaml, app.yaml, bin/tool.sh and its own aN.yaml
    expect(
        &out,
        0,
        &[
            ("h1", "synced (4 files)"),
            ("h2", "synced (4 files)"),
            ("h3", "synced (4 files)"),
        ],
    );
    for (i, host) in hosts.all().iter().enumerate() {
        let own = format!("a{}.yaml", i + 1);
        let mut want = vec!["app.yaml", "bin/tool.sh", "hosts.yaml", own.as_str()];
        want.sort_unstable();
        assert_eq!(files_of(host), want);
        assert_eq!(
            host.read(".lcc/sync/commit").map(|c| c.trim().to_string()),
            Some(head.clone())
        );
        assert_eq!(
            host.read(".lcc/sync/host").as_deref().map(str::trim),
            Some(host.name.as_str())
        );
        let token = std::fs::metadata(host.dir.join(".lcc/sync/token")).expect("token");
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&token.permissions()) & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read(host.dir.join(".lcc/sync/token")).ok(),
            std::fs::read(co.path().join(".lcc/sync/token")).ok()
        );
        let mode = std::fs::metadata(host.dir.join("bin/tool.sh")).expect("tool");
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o755
        );
        // its daemon runs its instance, in its namespace, and no other
        let name = format!("a{}", i + 1);
        assert!(
            wait_until(Duration::from_secs(20), || pid_on(host, &name)
                .is_some_and(|p| in_namespace(host, p))),
            "{name} runs on {}: {:?}",
            host.name,
            host.read(".lcc/events.jsonl")
        );
        let ps = host.lcc(&["-C", &host.dir.display().to_string(), "ps"]);
        let listed: Vec<&str> = ps
            .stdout
            .split(|&b| b == b'\n')
            .filter_map(|l| std::str::from_utf8(l).ok())
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.starts_with('a'))
            .collect();
        assert_eq!(listed, [name.as_str()], "{}", ps.out());
    }

    let again = co.sync(&hosts, &[]);
    expect(
        &again,
        0,
        &[
            ("h1", "unchanged"),
            ("h2", "unchanged"),
            ("h3", "unchanged"),
        ],
    );

    // an edit of a2 goes to h2 alone; a3 removed goes from h3
    co.write(
        "a2.yaml",
        &format!(
            "{}placement: {{hosts: [h2]}}\nenv: {{V: \"2\"}}\n",
            instance("a2", "s")
        ),
    );
    std::fs::remove_file(co.path().join("a3.yaml")).expect("rm");
    let second = co.commit("edit a2, drop a3");
    let a2_before = pid_on(hosts.host(1), "a2");
    let out = co.sync(&hosts, &[]);
    expect(
        &out,
        0,
        &[
            ("h1", "unchanged"),
            ("h2", "synced (1 file)"),
            ("h3", "synced (0 files, 1 removed)"),
        ],
    );
    assert!(!hosts.host(2).dir.join("a3.yaml").exists());
    for host in hosts.all() {
        assert_eq!(
            host.read(".lcc/sync/commit").map(|c| c.trim().to_string()),
            Some(second.clone()),
            "{}",
            host.name
        );
    }
    assert!(
        wait_until(Duration::from_secs(20), || pid_on(hosts.host(1), "a2")
            .is_some_and(|p| Some(p) != a2_before)),
        "the running daemon of h2 reloaded and restarted a2"
    );
    assert!(
        wait_until(Duration::from_secs(20), || pid_on(hosts.host(2), "a3")
            .is_none()),
        "a3 is gone from h3"
    );
}

#[test]
fn placement_by_region_and_labels_decides_what_each_host_runs() {
    let hosts = Hosts::new(3);
    let docs = [
        hosts
            .host(0)
            .document(&hosts, "region: eu\nlabels: {disk: ssd}"),
        hosts
            .host(1)
            .document(&hosts, "region: eu\nstate: inactive"),
        hosts
            .host(2)
            .document(&hosts, "region: us\nlabels: {gpu: \"yes\"}"),
    ]
    .join("---\n");
    let co = Checkout::without_instances(&docs);
    co.write(
        "group.yaml",
        "kind: InstanceGroup\nname: web\napp: s\nreplicas: 2\nplacement: {region: eu}\n",
    );
    co.write(
        "gpu.yaml",
        &format!(
            "{}placement: {{labels: {{gpu: \"yes\"}}}}\n",
            instance("g1", "s")
        ),
    );
    co.write(
        "ssd.yaml",
        &format!(
            "{}placement: {{region: eu, labels: {{disk: ssd}}}}\n",
            instance("d1", "s")
        ),
    );
    co.commit("placed");
    let mut cmd = hosts.operator(lcc_bin());
    cmd.arg("plan").arg(co.path()).env("NO_COLOR", "1");
    let plan = run_with_deadline(cmd, Duration::from_secs(20));
    let (a1, a3) = (hosts.host(0).address, hosts.host(2).address);
    assert_eq!(
        plan.out(),
        format!(
            "INSTANCE  HOST  REGION  ADDRESS\n\
             g1        h3    us      {a3}\n\
             web-1     h1    eu      {a1}\n\
             web-2     h1    eu      {a1}\n\
             d1        h1    eu      {a1}\n\
             no instances: h2\n"
        ),
        "{}",
        plan.err()
    );
    let want: BTreeMap<&str, &str> =
        [("web-1", "h1"), ("web-2", "h1"), ("g1", "h3"), ("d1", "h1")].into();

    // the inactive host is synced (the cluster's files) but given no instance
    expect(
        &co.sync(&hosts, &[]),
        0,
        &[
            ("h1", "synced (5 files)"),
            ("h2", "synced (3 files)"),
            ("h3", "synced (4 files)"),
        ],
    );
    assert_eq!(
        files_of(hosts.host(1)),
        ["app.yaml", "bin/tool.sh", "hosts.yaml"]
    );
    for (instance, host) in &want {
        let host = hosts.all().iter().find(|h| h.name == *host).expect("host");
        assert!(
            wait_until(Duration::from_secs(20), || pid_on(host, instance)
                .is_some_and(|pid| in_namespace(host, pid))),
            "{instance} runs on {}: {:?}",
            host.name,
            host.read(".lcc/events.jsonl")
        );
    }
    for host in hosts.all() {
        let mut running: Vec<String> = crate::support::listing(&host.dir.join(".lcc/status"))
            .into_iter()
            .filter_map(|f| f.strip_suffix(".json").map(str::to_string))
            .collect();
        running.sort();
        let mut placed_here: Vec<String> = want
            .iter()
            .filter(|(_, h)| **h == host.name)
            .map(|(i, _)| i.to_string())
            .collect();
        placed_here.sort();
        assert_eq!(running, placed_here, "{}", host.name);
    }
}

#[test]
fn a_dirty_tree_and_a_rollback_are_refused_until_forced() {
    let hosts = Hosts::new(3);
    let co = Checkout::new(&hosts, &hosts.documents());
    let first = co.head();

    // dirty: a tracked change and an untracked file; nothing reaches a host
    co.write("app.yaml", &shell_app("s", "exec sleep 301", 5));
    co.write("notes.txt", "draft\n");
    let out = co.sync(&hosts, &[]);
    assert_eq!(out.code, Some(1), "{}{}", out.out(), out.err());
    assert!(
        out.err().contains("has uncommitted changes (")
            && out.err().contains("M app.yaml")
            && out.err().contains("?? notes.txt")
            && out.err().contains("commit or stash them"),
        "{}",
        out.err()
    );
    for host in hosts.all() {
        assert!(files_of(host).is_empty(), "{} got files", host.name);
    }
    co.git(&["checkout", "-q", "--", "app.yaml"]);
    std::fs::remove_file(co.path().join("notes.txt")).expect("rm");

    co.write("later.txt", "later\n");
    let second = co.commit("second");
    let all = |r: &str| {
        [
            ("h1", r.to_string()),
            ("h2", r.to_string()),
            ("h3", r.to_string()),
        ]
    };
    let out = co.sync(&hosts, &[]);
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());

    // back at the first commit: the hosts are ahead
    co.git(&["checkout", "-q", &first]);
    let out = co.sync(&hosts, &[]);
    let ahead = format!(
        "failed: host is ahead (at {second}, a descendant of this commit): syncing would roll it back; use --force"
    );
    let lines = all(&ahead);
    expect(&out, 1, &lines.each_ref().map(|(h, r)| (*h, r.as_str())));
    assert!(
        hosts.host(0).dir.join("later.txt").exists(),
        "nothing rolled back"
    );

    // --force rolls back, for one host only when asked
    let out = co.sync(&hosts, &["--force", "--host", "h2"]);
    expect(&out, 0, &[("h2", "synced (0 files, 1 removed)")]);
    assert!(!hosts.host(1).dir.join("later.txt").exists());
    assert!(hosts.host(0).dir.join("later.txt").exists());

    // another history: an orphan branch
    co.git(&["checkout", "-q", "--orphan", "other"]);
    let other = co.commit("unrelated");
    let out = co.sync(&hosts, &["--host", "h1"]);
    expect(
        &out,
        1,
        &[(
            "h1",
            &*format!(
                "failed: host is on another history (at {second}): use --force to replace it"
            ),
        )],
    );
    let out = co.sync(&hosts, &["--host", "h1", "--force"]);
    expect(&out, 0, &[("h1", "synced (0 files, 1 removed)")]);
    assert_eq!(
        hosts
            .host(0)
            .read(".lcc/sync/commit")
            .map(|c| c.trim().to_string()),
        Some(other)
    );
    let out = co.sync(&hosts, &["--host", "nope"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.err()
            .contains("no Host `nope` in the cluster; the hosts are: h1, h2, h3"),
        "{}",
        out.err()
    );
}

#[test]
fn an_interrupted_sync_converges_when_run_again() {
    let hosts = Hosts::new(3);
    let co = Checkout::new(&hosts, &hosts.documents());
    // h2 cut off: the others are synced, h2 fails within the timeout
    hosts.cut(1);
    // 8 s: also on a loaded machine h1 and h3 finish well within it
    let out = co.sync(&hosts, &["--timeout", "8"]);
    let mut first = report(&out);
    let h2 = first.remove("h2").unwrap_or_default();
    assert!(h2.starts_with("failed: "), "{}{}", out.out(), out.err());
    for h in ["h1", "h3"] {
        let line = first.remove(h).unwrap_or_default();
        assert!(
            line.starts_with("synced"),
            "{h}: {}{}",
            out.out(),
            out.err()
        );
    }
    assert_eq!(out.code, Some(1));
    assert!(
        out.took < Duration::from_secs(25),
        "bounded by --timeout: {:?}",
        out.took
    );
    assert!(files_of(hosts.host(1)).is_empty());
    hosts.restore(1);
    let out = co.sync(&hosts, &[]);
    expect(
        &out,
        0,
        &[
            ("h1", "unchanged"),
            ("h2", "synced (4 files)"),
            ("h3", "unchanged"),
        ],
    );

    // a stream cut half way (ssh dies mid-transfer): nothing half-applied, then done
    let blob: String = (0..20_000).map(|i| format!("{i}\n")).collect();
    co.write("data/blob.txt", &blob);
    let head = co.commit("blob");
    let (_wrapper, path) = ssh_through("head -c 3000");
    let out = co.sync_with(&hosts, &[], &[("PATH", path)]);
    assert_eq!(out.code, Some(1), "{}{}", out.out(), out.err());
    for (host, line) in report(&out) {
        assert!(line.starts_with("failed: lcc receive: "), "{host}: {line}");
    }
    for host in hosts.all() {
        assert_blob_not_moved_in(host, &head);
        assert!(
            !host.dir.join(".lcc/sync/lock").exists(),
            "{}: lock released",
            host.name
        );
    }
    let out = co.sync(&hosts, &[]);
    expect(
        &out,
        0,
        &[
            ("h1", "synced (1 file)"),
            ("h2", "synced (1 file)"),
            ("h3", "synced (1 file)"),
        ],
    );
    for host in hosts.all() {
        assert_eq!(host.read("data/blob.txt").as_deref(), Some(blob.as_str()));
    }
}

#[test]
fn a_sync_killed_while_sending_leaves_no_lock_and_the_next_one_finishes() {
    let hosts = Hosts::new(2);
    let co = Checkout::new(&hosts, &hosts.documents());
    expect(
        &co.sync(&hosts, &[]),
        0,
        &[("h1", "synced (4 files)"), ("h2", "synced (4 files)")],
    );
    // a slow link: ssh's stdin trickles (4 KiB every 50 ms), so the sync is still
    // sending a 300 KB file when it is killed
    let blob: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
    co.write("data/blob.txt", &blob);
    let head = co.commit("blob");
    let (_wrapper, path) = ssh_through(
        "python3 -c 'import sys, time\nwhile True:\n    b = sys.stdin.buffer.read1(4096)\n    if not b:\n        break\n    sys.stdout.buffer.write(b)\n    sys.stdout.buffer.flush()\n    time.sleep(0.05)\n'",
    );
    let mut cmd = hosts.operator(lcc_bin());
    cmd.arg("sync")
        .arg(co.path())
        .env("PATH", path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut sync = KillOnDrop(cmd.spawn().expect("lcc sync"));
    let lock = |h: &Host| h.dir.join(".lcc/sync/lock");
    assert!(
        wait_until(Duration::from_secs(20), || hosts
            .all()
            .iter()
            .all(|h| lock(h).exists())),
        "both hosts locked while the blob is sent"
    );
    sync.0.kill().expect("SIGKILL lcc sync");
    sync.0.wait().expect("reap");
    // the hosts see the stream end short: nothing moves in, the locks go
    assert!(
        wait_until(Duration::from_secs(15), || hosts
            .all()
            .iter()
            .all(|h| !lock(h).exists())),
        "locks released after the operator died"
    );
    for host in hosts.all() {
        assert_blob_not_moved_in(host, &head);
    }
    expect(
        &co.sync(&hosts, &[]),
        0,
        &[("h1", "synced (1 file)"), ("h2", "synced (1 file)")],
    );
    for host in hosts.all() {
        assert_eq!(host.read("data/blob.txt").as_deref(), Some(blob.as_str()));
    }
}

#[test]
fn a_fresh_clone_with_another_token_is_refused_until_it_has_the_clusters() {
    let hosts = Hosts::new(2);
    let co = Checkout::new(&hosts, &hosts.documents());
    expect(
        &co.sync(&hosts, &[]),
        0,
        &[("h1", "synced (4 files)"), ("h2", "synced (4 files)")],
    );
    // another operator's clone: `.lcc/` is not in git, so it makes a token of its own
    let clone = Checkout {
        dir: tempfile::tempdir().expect("tempdir"),
    };
    clone.git(&["clone", "-q", &co.path().display().to_string(), "."]);
    let refused = "failed: the host has another peer token than this checkout's .lcc/sync/token (a new clone makes a new one): copy .lcc/sync/token from the checkout that synced first, so that the hosts keep one token";
    expect(
        &clone.sync(&hosts, &["--force"]),
        1,
        &[("h1", refused), ("h2", refused)],
    );
    let token = std::fs::read(co.path().join(".lcc/sync/token")).expect("token");
    for host in hosts.all() {
        assert_eq!(
            std::fs::read(host.dir.join(".lcc/sync/token"))
                .ok()
                .as_ref(),
            Some(&token),
            "{} keeps the cluster's token",
            host.name
        );
    }
    std::fs::write(clone.path().join(".lcc/sync/token"), &token).expect("copy the token");
    expect(
        &clone.sync(&hosts, &[]),
        0,
        &[("h1", "unchanged"), ("h2", "unchanged")],
    );
}

#[test]
fn a_missing_or_older_remote_lcc_is_named() {
    let hosts = Hosts::new(3);
    let old = tempfile::tempdir().expect("tempdir");
    let old_lcc = old.path().join("lcc");
    std::fs::write(&old_lcc, "#!/bin/sh\necho 'lcc 0.0.1'\n[ \"$1\" = --version ] || { echo \"error: unrecognized subcommand '$1'\" >&2; exit 2; }\n").expect("old lcc");
    set_mode(&old_lcc, 0o755);
    let docs = [
        hosts
            .host(0)
            .document_with_lcc(&hosts, "", "/nonexistent/lcc"),
        hosts
            .host(1)
            .document_with_lcc(&hosts, "", &old_lcc.display().to_string()),
        hosts.host(2).document_on_path(&hosts, ""),
    ]
    .join("---\n");
    let co = Checkout::new(&hosts, &docs);
    let out = co.sync(&hosts, &["--dry-run"]);
    let lines = report(&out);
    assert!(
        lines["h1"].starts_with("failed: no lcc on the host at `/nonexistent/lcc` (ssh.lcc; `lcc` means the login's PATH)"),
        "{}",
        lines["h1"]
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        lines["h2"],
        format!("failed: the host's lcc is 0.0.1, older than this lcc {version}: install lcc {version} or newer there")
    );
    assert!(
        lines["h3"].starts_with("would send 4 files (a3.yaml, app.yaml, bin/tool.sh, hosts.yaml)"),
        "{}",
        lines["h3"]
    );
    assert!(
        out.out().starts_with("INSTANCE  HOST"),
        "the placement first: {}",
        out.out()
    );
    assert_eq!(out.code, Some(1));
    assert!(
        files_of(hosts.host(2)).is_empty(),
        "a dry run sends nothing"
    );
}

#[test]
fn a_host_that_takes_logins_only_from_a_bastion_is_synced_through_it() {
    let mut hosts = Hosts::new(2);
    hosts.reachable_only_through(1, 0);
    let direct = Checkout::new(&hosts, &hosts.documents());
    let out = direct.sync(&hosts, &["--dry-run"]);
    let lines = report(&out);
    assert!(
        lines["h1"].starts_with("would send 4 files"),
        "{}",
        lines["h1"]
    );
    assert!(
        lines["h2"].starts_with("failed: ") && lines["h2"].contains("Permission denied"),
        "h2 refuses the operator: {}",
        lines["h2"]
    );
    let docs = [
        hosts.host(0).document(&hosts, ""),
        hosts.host(1).document_through(&hosts, hosts.host(0)),
    ]
    .join("---\n");
    let co = Checkout::new(&hosts, &docs);
    let out = co.sync(&hosts, &[]);
    expect(
        &out,
        0,
        &[("h1", "synced (4 files)"), ("h2", "synced (4 files)")],
    );
    let h2 = hosts.host(1);
    assert!(
        wait_until(Duration::from_secs(20), || pid_on(h2, "a2")
            .is_some_and(|p| in_namespace(h2, p))),
        "a2 runs on h2: {:?}",
        h2.read(".lcc/events.jsonl")
    );
    expect(
        &co.sync(&hosts, &[]),
        0,
        &[("h1", "unchanged"), ("h2", "unchanged")],
    );
}

/// Runs `lcc down` in a cluster directory on drop (a daemon a test started there).
struct DownOnDrop<'a>(&'a Path, &'a Path);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let mut cmd = std::process::Command::new(lcc_bin());
        cmd.arg("-C")
            .arg(self.0)
            .arg("down")
            .env("XDG_RUNTIME_DIR", self.1);
        let _ = run_with_deadline(cmd, Duration::from_secs(30));
    }
}

/// A checkout whose Hosts are `here` (`address: local`, with `extra` lines such as a
/// `dir`), running instance `a0`, and `h1`.
fn with_local_host(hosts: &Hosts, extra: &str) -> Checkout {
    let docs = format!(
        "kind: Host\nname: here\naddress: local\n{extra}---\n{}",
        hosts.host(0).document(hosts, "")
    );
    let co = Checkout::new(hosts, &docs);
    co.write(
        "here.yaml",
        &format!("{}placement: {{hosts: [here]}}\n", instance("a0", "s")),
    );
    co.commit("an instance here");
    co
}

/// Waits until the daemon of the cluster directory `dir` runs `instance` (its status
/// file is there), failing the test with the directory's events if it does not.
fn assert_runs_in(dir: &Path, instance: &str) {
    let status = dir.join(format!(".lcc/status/{instance}.json"));
    assert!(
        wait_until(Duration::from_secs(20), || status.exists()),
        "{instance} runs in {}: {:?}",
        dir.display(),
        std::fs::read_to_string(dir.join(".lcc/events.jsonl"))
    );
}

/// The host name recorded in the cluster directory `dir`.
fn recorded_host(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(".lcc/sync/host"))
        .ok()
        .map(|h| h.trim().to_string())
}

#[test]
fn the_local_host_is_synced_in_place_without_ssh() {
    let hosts = Hosts::new(1);
    let co = with_local_host(&hosts, "");
    let runtime = tempfile::tempdir().expect("tempdir");
    let _down = DownOnDrop(co.path(), runtime.path());
    let env = [("XDG_RUNTIME_DIR", runtime.path().display().to_string())];
    let out = co.sync_with(&hosts, &[], &env);
    // `here` is the checkout itself: its files are there, only its daemon is started
    expect(
        &out,
        0,
        &[("here", "unchanged"), ("h1", "synced (4 files)")],
    );
    assert_runs_in(co.path(), "a0");
    assert!(
        !co.path().join(".lcc/status/a1.json").exists(),
        "a1 is h1's"
    );
    assert_eq!(recorded_host(co.path()).as_deref(), Some("here"));
    assert!(
        !hosts.host(0).dir.join("here.yaml").exists(),
        "a0's file stays here"
    );
    let again = co.sync_with(&hosts, &[], &env);
    expect(&again, 0, &[("here", "unchanged"), ("h1", "unchanged")]);
}

#[test]
fn a_local_host_with_a_dir_of_its_own_gets_its_files_there_without_ssh() {
    let hosts = Hosts::new(1);
    let there = tempfile::tempdir().expect("tempdir");
    let co = with_local_host(&hosts, &format!("dir: {}\n", there.path().display()));
    let runtime = tempfile::tempdir().expect("tempdir");
    let _down = DownOnDrop(there.path(), runtime.path());
    let env = [("XDG_RUNTIME_DIR", runtime.path().display().to_string())];
    let out = co.sync_with(&hosts, &[], &env);
    expect(
        &out,
        0,
        &[("here", "synced (4 files)"), ("h1", "synced (4 files)")],
    );
    assert_eq!(
        files_in(there.path()),
        ["app.yaml", "bin/tool.sh", "here.yaml", "hosts.yaml"]
    );
    assert_runs_in(there.path(), "a0");
    assert!(
        !co.path().join(".lcc/status").exists(),
        "nothing runs in the checkout"
    );
    assert_eq!(recorded_host(there.path()).as_deref(), Some("here"));
    let again = co.sync_with(&hosts, &[], &env);
    expect(&again, 0, &[("here", "unchanged"), ("h1", "unchanged")]);
}
