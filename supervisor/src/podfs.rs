//! The files of a pod directory the daemon reads and writes: `pod.state`, `pod.env`,
//! `.pod/pid` (`PID STARTTIME`), `.pod/exit`, `.pod/stopped`, `.pod/started`.

use crate::atomic::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors reading a pod's files.
#[derive(Debug, thiserror::Error)]
pub enum PodFileError {
    /// `pod.state` holds something other than running|stopped|removed.
    #[error("{path}: invalid pod.state {content:?} (expected running, stopped or removed)")]
    BadState {
        /// The file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// A `pod.env` line is not `KEY=VALUE`.
    #[error("{path}:{line}: invalid pod.env line {content:?}")]
    BadEnv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line.
        content: String,
    },
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Desired state of a pod, the one word of `pod.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Keep it running.
    Running,
    /// Keep it stopped.
    Stopped,
    /// Stop and remove it.
    Removed,
}

impl PodState {
    /// The word written to the file.
    pub fn as_str(self) -> &'static str {
        match self {
            PodState::Running => "running",
            PodState::Stopped => "stopped",
            PodState::Removed => "removed",
        }
    }
    /// Parses the word (surrounding whitespace ignored).
    pub fn parse(word: &str) -> Option<PodState> {
        match word.trim() {
            "running" => Some(PodState::Running),
            "stopped" => Some(PodState::Stopped),
            "removed" => Some(PodState::Removed),
            _ => None,
        }
    }
}

/// `<poddir>/pod.state`.
pub fn state_path(pod: &Path) -> PathBuf {
    pod.join("pod.state")
}

/// Reads `pod.state`: `Ok(None)` if missing.
pub fn read_state(pod: &Path) -> Result<Option<PodState>, PodFileError> {
    let path = state_path(pod);
    match std::fs::read_to_string(&path) {
        Ok(s) => PodState::parse(&s).map(Some).ok_or(PodFileError::BadState {
            path,
            content: s.chars().take(40).collect(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PodFileError::Io { path, source }),
    }
}

/// Writes `pod.state` atomically.
pub fn write_state(pod: &Path, state: PodState) -> Result<(), PodFileError> {
    let path = state_path(pod);
    write_atomic(&path, format!("{}\n", state.as_str()).as_bytes())
        .map_err(|source| PodFileError::Io { path, source })
}

/// `<poddir>/pod.env`.
pub fn env_path(pod: &Path) -> PathBuf {
    pod.join("pod.env")
}

/// Reads `pod.env` into a map: empty if missing; an error on any malformed line.
pub fn read_env(pod: &Path) -> Result<BTreeMap<String, String>, PodFileError> {
    let path = env_path(pod);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(PodFileError::Io { path, source }),
    };
    parse_env(&text).map_err(|(line, content)| PodFileError::BadEnv {
        path,
        line,
        content,
    })
}

/// Parses `KEY=VALUE` lines (blank lines and `#` comments allowed).
pub fn parse_env(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if is_env_name(k) => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => return Err((i + 1, line.chars().take(60).collect())),
        }
    }
    Ok(out)
}

fn is_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes `pod.env` atomically: `KEY=VALUE` lines, the value being the rest of the
/// line (the pod reads it without sourcing it; newlines cannot be represented).
pub fn write_env(pod: &Path, env: &BTreeMap<String, String>) -> Result<(), PodFileError> {
    let path = env_path(pod);
    let mut text = String::new();
    for (k, v) in env {
        text.push_str(&format!("{k}={}\n", v.replace(['\n', '\r'], " ")));
    }
    write_atomic(&path, text.as_bytes()).map_err(|source| PodFileError::Io { path, source })
}

/// A process identity that survives pid reuse: pid plus its start time in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcId {
    /// Process id (the pod's process-group leader).
    pub pid: i32,
    /// Field 22 of `/proc/PID/stat`.
    pub start: u64,
}

impl ProcId {
    /// Parses `PID STARTTIME`.
    pub fn parse(text: &str) -> Option<ProcId> {
        let mut it = text.split_whitespace();
        let pid = it.next()?.parse().ok()?;
        let start = it.next()?.parse().ok()?;
        Some(ProcId { pid, start })
    }
    /// Whether this very process still exists and is not a zombie.
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((state, start)) if start == self.start && state != 'Z' && state != 'X')
    }
    /// The identity of a running pid, read from /proc.
    pub fn of(pid: i32) -> Option<ProcId> {
        proc_stat(pid).map(|(_, start)| ProcId { pid, start })
    }
}

/// State letter and start time (field 22) of `/proc/PID/stat`.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// The parent pid of `pid`, from `/proc/PID/stat`.
pub fn proc_ppid(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Inode, mtime (seconds, nanoseconds) and length of a file.
pub type FileKey = (u64, i64, i64, u64);

/// Identity of a file's current content for change detection.
pub fn file_key(path: &Path) -> Option<FileKey> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.mtime(), m.mtime_nsec(), m.len()))
}

/// The `LCC_PORT_*` variables a running pod's processes were started with: the
/// session leader and its children (the app gets pod.env in its environment).
pub fn ports_from_process(pid: i32) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let pids =
        std::iter::once(pid).chain(children.split_whitespace().filter_map(|c| c.parse().ok()));
    for p in pids {
        let Ok(env) = std::fs::read(format!("/proc/{p}/environ")) else {
            continue;
        };
        for var in env.split(|b| *b == 0) {
            let var = String::from_utf8_lossy(var);
            if let Some((k, v)) = var
                .split_once('=')
                .filter(|(k, _)| k.starts_with("LCC_PORT_"))
            {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

/// Reads `.pod/pid`.
pub fn read_pid(pod: &Path) -> Option<ProcId> {
    ProcId::parse(&std::fs::read_to_string(pod.join(".pod/pid")).ok()?)
}

/// Reads `.pod/exit`: the exit code when the app ended on its own.
pub fn read_exit(pod: &Path) -> Option<i32> {
    std::fs::read_to_string(pod.join(".pod/exit"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether `.pod/stopped` is present (the app was stopped or killed, not ended).
pub fn was_stopped(pod: &Path) -> bool {
    pod.join(".pod/stopped").exists()
}

/// When the pod's run started, in unix seconds: `.pod/started`'s content where a pod of
/// an older lcc wrote one, else its modification time (`run` truncates it, see
/// docs/pod-api.md).
pub fn read_started(pod: &Path) -> Option<f64> {
    let path = pod.join(".pod/started");
    let text = std::fs::read_to_string(&path).ok()?;
    if let Ok(secs) = text.trim().parse() {
        return Some(secs);
    }
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    Some(
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64()
            .floor(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_state(dir.path()).unwrap(), None);
        write_state(dir.path(), PodState::Stopped).unwrap();
        assert_eq!(read_state(dir.path()).unwrap(), Some(PodState::Stopped));
        std::fs::write(state_path(dir.path()), "runnning\n").unwrap();
        assert!(matches!(
            read_state(dir.path()),
            Err(PodFileError::BadState { .. })
        ));
    }

    #[test]
    fn started_is_the_content_else_the_modification_time() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_started(dir.path()), None);
        std::fs::create_dir(dir.path().join(".pod")).unwrap();
        std::fs::write(dir.path().join(".pod/started"), "1795428066\n").unwrap();
        assert_eq!(read_started(dir.path()), Some(1795428066.0));
        std::fs::write(dir.path().join(".pod/started"), "").unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = read_started(dir.path()).unwrap();
        assert!((now - started).abs() < 5.0, "{started} is not about {now}");
    }

    #[test]
    fn env_round_trip_with_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = BTreeMap::new();
        env.insert("LCC_PORT_HTTP".to_string(), "30001".to_string());
        env.insert("X".to_string(), "it's $HOME = 'x'".to_string());
        write_env(dir.path(), &env).unwrap();
        assert_eq!(read_env(dir.path()).unwrap(), env);
        std::fs::write(env_path(dir.path()), "LCC_PORT_HTTP=1\n%%garbage\n").unwrap();
        assert!(matches!(
            read_env(dir.path()),
            Err(PodFileError::BadEnv { line: 2, .. })
        ));
    }

    #[test]
    fn own_process_is_alive_and_reuse_is_detected() {
        let me = ProcId::of(std::process::id() as i32).unwrap();
        assert!(me.alive());
        assert!(!ProcId {
            pid: me.pid,
            start: me.start + 1
        }
        .alive());
        assert_eq!(
            ProcId::parse("12 345\n"),
            Some(ProcId {
                pid: 12,
                start: 345
            })
        );
        assert_eq!(ProcId::parse("12"), None);
    }
}
