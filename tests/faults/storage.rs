//! Fault family 5: an app appends a numbered, fsynced record to its storage every few
//! milliseconds and acknowledges each one afterwards, while its instance is SIGKILLed,
//! deleted (replaced) and the daemon is SIGKILLed and restarted: every acknowledged
//! record is still on disk, and the storage was never deleted, truncated or re-pointed.

use crate::support::{gone, kill9, kill_group, wait_until, Cluster};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// The writer: append record, fsync, then acknowledge it in the test's own file.
const WRITER: &str = r#"
import os, sys, time
ack = os.open(os.environ["ACK_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
rec = os.open(os.path.join("data", "records"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
tag = os.environ["LCC_POD_UID"]
i = 0
while True:
    i += 1
    line = ("%s-%d\n" % (tag, i)).encode()
    os.write(rec, line)
    os.fsync(rec)
    os.write(ack, line)
    time.sleep(0.003)
"#;

/// Records in a file, as a set of lines.
fn lines(path: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn acknowledged_records_survive_kills_replacement_and_daemon_restart() {
    let c = Cluster::new("storage");
    let acks_dir = tempfile::tempdir().expect("tempdir");
    let acks = acks_dir.path().join("acks");
    std::fs::write(c.path().join("writer.py"), WRITER).expect("writer.py");
    c.write(
        "app.yaml",
        &format!(
            "kind: Storage\nname: notes\n---\nkind: Application\nname: writer\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [python3, \"${{LCC_MANIFEST_DIR}}/writer.py\"]\n  env: {{ACK_FILE: {:?}}}\nstorage:\n  - {{storage: notes, path: data}}\nrestart: {{policy: always, maxRetries: 100, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: KILL, timeout: 1s}}\n---\nkind: InstanceGroup\nname: writer\napp: writer\nreplicas: 1\n",
            acks.display().to_string()
        ),
    );
    c.up();
    let store = c.state().join("storage/notes");
    let records = store.join("records");
    let grows = |n: usize| wait_until(Duration::from_secs(10), || lines(&acks).len() >= n);
    assert!(grows(50), "the writer acknowledges records:\n{}", c.dump());
    let inode = std::fs::metadata(&store).expect("storage dir").ino();
    let t0 = Instant::now();
    let mut injected = Vec::new();

    for round in 0..3 {
        let member = c.members("writer").first().cloned().expect("a writer");
        // 1. SIGKILL of the app's whole process group: the pod restarts it.
        let (pid, _) = c.run_id(&member).expect("runs");
        kill_group("KILL", pid as i32);
        let n = lines(&acks).len();
        assert!(
            grows(n + 50),
            "round {round}: writing resumes after SIGKILL:\n{}",
            c.dump()
        );
        injected.push("app SIGKILL");
        // 2. lcc delete: the group replaces the instance with a new one.
        let del = c.lcc(&["delete", &member]);
        assert_eq!(del.code, Some(0), "{}", del.err());
        let replaced = wait_until(Duration::from_secs(15), || {
            c.members("writer")
                .iter()
                .any(|m| *m != member && c.ready(m))
        });
        assert!(
            replaced,
            "round {round}: {member} is replaced:\n{}",
            c.dump()
        );
        let n = lines(&acks).len();
        assert!(grows(n + 50), "round {round}: the replacement writes");
        injected.push("instance delete");
        // 3. SIGKILL of the daemon, then lcc up.
        let daemon = c.daemon_pid().expect("daemon");
        c.observe();
        kill9(daemon);
        assert!(wait_until(Duration::from_secs(5), || gone(daemon)));
        let n = lines(&acks).len();
        c.up();
        assert!(
            grows(n + 50),
            "round {round}: writing goes on after the daemon restart"
        );
        injected.push("daemon SIGKILL");
    }
    let stop = c.lcc(&["stop", "writer"]);
    assert_eq!(stop.code, Some(0), "{}", stop.err());
    assert!(wait_until(Duration::from_secs(10), || c
        .procs_inside()
        .iter()
        .all(|p| p.var("LCC_APP") != Some("writer"))));

    let acked = lines(&acks);
    let on_disk = lines(&records);
    let lost: Vec<&String> = acked.difference(&on_disk).collect();
    eprintln!(
        "faults: storage: {} faults injected ({injected:?}) over {:?}; {} records acknowledged, {} on disk, {} lost",
        injected.len(),
        t0.elapsed(),
        acked.len(),
        on_disk.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged records missing from the storage: {:?}",
        &lost[..lost.len().min(10)]
    );
    assert_eq!(
        std::fs::metadata(&store).expect("storage dir").ino(),
        inode,
        "the storage directory was never replaced"
    );
    let link = c.pod(&c.members("writer")[0]).join("run/data");
    let target = std::fs::read_link(&link).expect("run/data is a symlink");
    assert_eq!(
        std::fs::canonicalize(target).ok(),
        std::fs::canonicalize(&store).ok(),
        "run/data points at the storage"
    );
    // `lcc down` removes pods, never storage data.
    let down = c.lcc(&["down"]);
    assert_eq!(down.code, Some(0), "{}", down.err());
    let kept = lines(&records);
    assert!(acked.is_subset(&kept), "lcc down kept every record");
    assert_eq!(
        std::fs::metadata(&store).expect("storage dir").ino(),
        inode,
        "the storage survives lcc down"
    );
}
