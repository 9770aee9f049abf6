//! What a host tells a sync about itself (`lcc sync-state DIR`, the host's side): the
//! commit it was last synced to, the Host name it was synced as, whether its daemon
//! runs, and the digest of every file a sync put there. One line each, so that any
//! `lcc` that prints it can be read by any newer one:
//!
//! ```text
//! commit 3f2a...        (or `commit -`: never synced)
//! host eu-1             (or `host -`)
//! daemon up             (or `daemon down`)
//! file DIGEST PATH      (one per file; PATH last, it may hold spaces)
//! ```
//!
//! Unknown lines are skipped (a newer host may say more).

use crate::changes::Digests;

/// A host's state as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostState {
    /// The commit recorded by the last complete receive.
    pub commit: Option<String>,
    /// The Host name recorded by it.
    pub host: Option<String>,
    /// Whether a daemon runs the cluster there.
    pub daemon_up: bool,
    /// The files a sync put there (the token included), by digest.
    pub files: Digests,
}

/// The report's text.
pub fn render(state: &HostState) -> String {
    let mut out = format!(
        "commit {}\nhost {}\ndaemon {}\n",
        state.commit.as_deref().unwrap_or("-"),
        state.host.as_deref().unwrap_or("-"),
        if state.daemon_up { "up" } else { "down" }
    );
    for (path, digest) in &state.files {
        out.push_str(&format!("file {digest} {path}\n"));
    }
    out
}

/// Reads a report; `Err` names the first line that is not understood.
pub fn parse(text: &str) -> Result<HostState, String> {
    let mut state = HostState::default();
    let (mut commit, mut daemon) = (false, false);
    for line in text.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        let value = |v: &str| (v != "-").then(|| v.to_string());
        match key {
            "commit" => {
                commit = true;
                state.commit = value(rest);
            }
            "host" => state.host = value(rest),
            "daemon" => {
                daemon = true;
                state.daemon_up = rest == "up";
            }
            "file" => {
                let Some((digest, path)) = rest.split_once(' ') else {
                    return Err(format!("unreadable state line `{line}`"));
                };
                state.files.insert(path.to_string(), digest.to_string());
            }
            _ => {}
        }
    }
    if !(commit && daemon) {
        return Err("the host's state lacks its commit or daemon line".to_string());
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let mut files = Digests::new();
        files.insert("apps/my web.yaml".into(), "ab12+x".into());
        files.insert("cluster.yaml".into(), "cd34".into());
        let state = HostState {
            commit: Some("3f2a".into()),
            host: Some("eu-1".into()),
            daemon_up: true,
            files,
        };
        assert_eq!(parse(&render(&state)), Ok(state));
        let fresh = HostState::default();
        assert_eq!(render(&fresh), "commit -\nhost -\ndaemon down\n");
        assert_eq!(parse(&render(&fresh)), Ok(fresh));
        let table = [
            (
                "commit -\ndaemon up\nfile x\n",
                "unreadable state line `file x`",
            ),
            (
                "host a\n",
                "the host's state lacks its commit or daemon line",
            ),
        ];
        for (text, message) in table {
            assert_eq!(parse(text), Err(message.to_string()), "{text:?}");
        }
        let newer = "commit -\nsomething new\ndaemon up\n";
        assert!(parse(newer).is_ok(), "unknown lines are skipped");
    }
}
