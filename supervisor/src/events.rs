//! The event log `events.jsonl`: one JSON object per line, appended by the daemon.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// One transition of one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unix time in seconds, with milliseconds.
    pub time: f64,
    /// What it concerns: `instance/NAME`, `group/NAME`, `cluster/NAME`, `proxy`.
    pub object: String,
    /// A CamelCase word: Started, Ready, BackOff, Failed, PortChanged, ...
    pub reason: String,
    /// A sentence for people.
    pub message: String,
}

/// Current unix time in seconds, as a float.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Appends events to one file.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    /// The file, open for appending since the first event: a start storm emits
    /// thousands, and opening the path for each was a visible share of the daemon's CPU.
    file: std::sync::Mutex<Option<std::fs::File>>,
}

impl EventLog {
    /// The log at `path` (created on first append).
    pub fn new(path: &Path) -> EventLog {
        EventLog {
            path: path.to_path_buf(),
            file: std::sync::Mutex::new(None),
        }
    }

    /// Ends a torn last line (a writer killed mid-line) so the next event parses.
    pub fn seal(&self) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
        else {
            return;
        };
        let mut last = [0u8; 1];
        let torn = f.seek(SeekFrom::End(-1)).is_ok()
            && f.read_exact(&mut last).is_ok()
            && last[0] != b'\n';
        if torn {
            let _ = f.write_all(b"\n");
        }
    }

    /// Appends one event; a full line per write so concurrent readers never see half.
    pub fn emit(&self, object: &str, reason: &str, message: &str) {
        let ev = Event {
            time: now_secs(),
            object: object.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
        };
        if let Err(e) = self.append(&ev) {
            eprintln!("lcc: cannot append to {}: {e}", self.path.display());
        }
    }

    fn append(&self, ev: &Event) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let mut line = serde_json::to_vec(ev).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // A log deleted or replaced meanwhile (no links left) is opened again by path, as
        // a writer that opened it for each event would.
        if file
            .as_ref()
            .is_none_or(|f| f.metadata().map_or(true, |m| m.nlink() == 0))
        {
            *file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        match file.as_mut() {
            Some(f) => f.write_all(&line),
            None => Ok(()),
        }
    }
}

/// Reads every complete, parsable event of the log at `path` (none if it is missing).
pub fn read_events(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    parse_events(&text)
}

/// Parses complete lines; a torn last line or a garbled one is skipped.
pub fn parse_events(text: &str) -> Vec<Event> {
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .filter_map(|l| serde_json::from_str(l.trim_end()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(&dir.path().join("events.jsonl"));
        log.emit("instance/a", "Started", "pid 1");
        log.emit("instance/a", "Ready", "probe passed");
        let evs = read_events(&dir.path().join("events.jsonl"));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[1].reason, "Ready");
    }

    #[test]
    fn a_deleted_log_is_created_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let log = EventLog::new(&path);
        log.emit("instance/a", "Started", "pid 1");
        std::fs::remove_file(&path).unwrap();
        log.emit("instance/a", "Ready", "probe passed");
        let evs = read_events(&path);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].reason, "Ready");
    }

    #[test]
    fn seal_ends_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"time\":1.0,\"obj").unwrap();
        let log = EventLog::new(&path);
        log.seal();
        log.emit("instance/a", "Started", "pid 1");
        assert_eq!(read_events(&path).len(), 1);
    }

    #[test]
    fn skips_torn_lines() {
        let evs = parse_events("{\"time\":1.0,\"object\":\"x\",\"reason\":\"R\",\"message\":\"m\"}\ngarbage\n{\"time\":");
        assert_eq!(evs.len(), 1);
    }
}
