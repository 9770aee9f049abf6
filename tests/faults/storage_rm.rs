//! `lcc storage rm` deletes only what lcc made: a folder carrying its storage's
//! `.lcc-storage` mark, bound by no instance (compared by folder), never a protected
//! one even with `--force`; it asks on a terminal and says what it deleted. Names given
//! on the command line are checked before they touch a path. Every refused case leaves
//! every file in place, byte for byte.

use crate::support;
use crate::support::{listing, snapshot, wait_until, Cluster};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A folder of the user's own files outside any cluster.
fn user_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("thesis.txt"), "years of work\n").expect("write");
    std::fs::create_dir(dir.path().join("photos")).expect("mkdir");
    std::fs::write(dir.path().join("photos/cat.jpg"), [0xff, 0xd8, 0, 1]).expect("write");
    dir
}

#[test]
fn a_folder_lcc_did_not_make_is_refused_and_force_deletes_it() {
    let c = Cluster::new("own");
    let user = user_files();
    let dir = std::fs::canonicalize(user.path()).expect("canonical");
    c.write(
        "storage.yaml",
        &format!("kind: Storage\nname: data\npath: {}\n", dir.display()),
    );
    let ls = c.lcc(&["storage", "ls"]);
    assert!(
        ls.out().contains(&format!(
            "{}  (outside the cluster directory)",
            dir.display()
        )),
        "{}",
        ls.out()
    );
    let before = snapshot(&dir);
    let rm = c.lcc(&["storage", "rm", "data"]);
    assert_eq!(rm.code, Some(1), "{}", rm.out());
    assert_eq!(
        rm.err(),
        format!(
            "lcc: storage data: refusing to delete {d}: lcc did not make it (it has no .lcc-storage mark); lcc deletes only folders carrying its .lcc-storage mark for this cluster and storage. Delete it yourself, or pass --force if everything in it may be deleted\n",
            d = dir.display()
        )
    );
    assert_eq!(snapshot(&dir), before, "nothing was touched");

    // A mark for another storage or cluster is no mark of this one.
    std::fs::write(dir.join(".lcc-storage"), "cluster: other\nstorage: data\n")
        .expect("write mark");
    let before = snapshot(&dir);
    let rm = c.lcc(&["storage", "rm", "data"]);
    assert_eq!(rm.code, Some(1));
    assert!(
        rm.err()
            .contains("(its .lcc-storage names storage data of cluster other)"),
        "{}",
        rm.err()
    );
    assert_eq!(snapshot(&dir), before);

    let rm = c.lcc(&["storage", "rm", "data", "--force"]);
    assert_eq!(rm.code, Some(0), "{}", rm.err());
    assert_eq!(
        rm.out(),
        format!(
            "storage data: deleted {} (3 files, 1 directory, 47 B)\n",
            dir.display()
        )
    );
    assert!(!dir.exists());
}

#[test]
fn a_folder_lcc_made_is_deleted_after_asking_on_a_terminal() {
    let c = Cluster::new("made");
    let app = "kind: Application\nname: w\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: \"echo kept > data/file; exec sleep 300\"\nstorage:\n  - {storage: notes, path: data}\nstop: {signal: KILL, timeout: 1s}\n---\nkind: Instance\nname: w\napp: w\n";
    c.write(
        "app.yaml",
        &format!("{app}---\nkind: Storage\nname: notes\n"),
    );
    c.up();
    let store = c.state().join("storage/notes");
    assert!(wait_until(Duration::from_secs(10), || store
        .join("file")
        .exists()));
    let mark = std::fs::read_to_string(store.join(".lcc-storage")).expect("mark");
    assert!(mark.ends_with("cluster: made\nstorage: notes\n"), "{mark}");
    let down = c.lcc(&["down"]);
    assert_eq!(down.code, Some(0), "{}", down.err());
    // The stopped instance's pod still binds the folder.
    let rm = c.lcc(&["storage", "rm", "notes"]);
    assert_eq!(rm.code, Some(1));
    assert!(rm.err().contains("is bound by w;"), "{}", rm.err());
    c.write("app.yaml", "kind: Storage\nname: notes\n");
    let up = c.lcc(&["up", "-d"]);
    assert_eq!(up.code, Some(0), "{}", up.err());
    assert!(
        wait_until(Duration::from_secs(20), || c.status("w").is_none()),
        "{}",
        c.dump()
    );

    // On a terminal it asks; anything but yes keeps the data.
    let before = snapshot(&store);
    let no = on_terminal(c.path(), &["storage", "rm", "notes"], "n\n");
    let shown = store
        .canonicalize()
        .expect("canonical")
        .display()
        .to_string();
    assert!(
        no.contains(&format!("delete {shown} (2 files, 0 directories, "))
            && no.contains("? [y/N]")
            && no.contains("storage notes: kept"),
        "{no}"
    );
    assert_eq!(snapshot(&store), before);
    let yes = on_terminal(c.path(), &["storage", "rm", "notes"], "y\n");
    assert!(
        yes.contains(&format!(
            "storage notes: deleted {shown} (2 files, 0 directories, "
        )),
        "{yes}"
    );
    assert!(!store.exists());
}

/// Runs `lcc -C DIR ARGS` on a pseudo-terminal (util-linux `script`) typing `input`;
/// returns what the terminal showed.
fn on_terminal(dir: &Path, args: &[&str], input: &str) -> String {
    let mut line = format!("'{}' -C '{}'", support::lcc_bin().display(), dir.display());
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "printf '%s' \"$1\" | script -qec \"$2\" /dev/null",
        "sh",
        input,
        &line,
    ])
    .env("NO_COLOR", "1");
    let out = support::run_with_deadline(cmd, Duration::from_secs(30));
    assert!(!out.timed_out, "script timed out");
    out.out().replace('\r', "")
}

#[test]
fn protected_folders_are_never_deleted_even_with_force() {
    let c = Cluster::new("never");
    let home = tempfile::tempdir().expect("fake home");
    std::fs::write(home.path().join("notes"), "mine").expect("write");
    std::fs::create_dir_all(c.state().join("storage")).expect("mkdir");
    // Leftover folders in .lcc/storage/ that lead to the cluster directory and the home.
    std::os::unix::fs::symlink(c.path(), c.state().join("storage/evil")).expect("symlink");
    std::os::unix::fs::symlink(home.path(), c.state().join("storage/home")).expect("symlink");
    for mark in [c.path(), home.path()] {
        std::fs::write(mark.join(".lcc-storage"), "cluster: never\nstorage: evil\n").expect("mark");
    }
    let cluster = std::fs::canonicalize(c.path()).expect("canonical");
    let home_dir = std::fs::canonicalize(home.path()).expect("canonical");
    let before = (snapshot(&cluster), snapshot(&home_dir));
    let cases = [
        (
            "evil",
            format!("{}: it is the cluster directory", cluster.display()),
        ),
        (
            "home",
            format!("{}: it is your home directory", home_dir.display()),
        ),
    ];
    for (name, why) in cases {
        let mut cmd = Command::new(support::lcc_bin());
        cmd.arg("-C")
            .arg(c.path())
            .args(["storage", "rm", name, "--force", "-y"])
            .env("HOME", home.path());
        let out = support::run_with_deadline(cmd, Duration::from_secs(30));
        assert_eq!(out.code, Some(1), "{name}: {}", out.out());
        assert_eq!(
            out.err(),
            format!("lcc: storage {name}: refusing to delete {why} (never deleted, even with --force)\n")
        );
    }
    assert_eq!((snapshot(&cluster), snapshot(&home_dir)), before);
}

#[test]
fn names_are_checked_before_they_touch_a_path() {
    let a = Cluster::new("a");
    let b = tempfile::tempdir().expect("another cluster");
    let victim = b.path().join(".lcc/pods/x");
    std::fs::create_dir_all(&victim).expect("mkdir");
    std::fs::write(victim.join("pod.state"), "running\n").expect("write");
    std::fs::write(victim.join("pod"), "#!/bin/sh\ntouch \"$0.ran\"\n").expect("write");
    let before = listing(b.path());
    let escape = format!("../../../{}/.lcc/pods/x", b.path().display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["stop", &escape],
        vec!["start", &escape],
        vec!["restart", &escape],
        vec!["delete", &escape],
        vec!["logs", "/some/dir"],
        vec!["scale", "../g", "2"],
        vec!["storage", "rm", "../data"],
    ];
    for args in cases {
        let out = a.lcc(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.err());
        assert!(
            out.err().contains("invalid name `")
                && out.err().contains("use 1-63 lowercase letters"),
            "{args:?}: {}",
            out.err()
        );
    }
    assert_eq!(listing(b.path()), before, "the other cluster is untouched");
    assert_eq!(
        std::fs::read_to_string(victim.join("pod.state")).expect("read"),
        "running\n"
    );
    let unknown = a.lcc(&["stop", "nobody"]);
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.err().contains("no instance or group named nobody"),
        "{}",
        unknown.err()
    );
}
