//! What the operator asks of a host once it has read the host's state, on the same
//! connection (`lcc sync-state --session`): nothing (`done`), or a receive. One field
//! a line, then an empty line; the tar stream of the files follows it:
//!
//! ```text
//! receive
//! commit 3f2a...
//! host eu-1
//! if-commit 1b9c...     (or `if-commit -`: never synced)
//! up
//! delete PATH           (one per file; PATH to the end of the line)
//!
//! ```

/// A receive asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The commit to record.
    pub commit: String,
    /// The Host name to record.
    pub host: Option<String>,
    /// The commit the host must still be at (`-`: never synced).
    pub if_commit: Option<String>,
    /// Files a sync put there that are no longer wanted.
    pub delete: Vec<String>,
    /// Start the daemon unless one runs.
    pub up: bool,
}

/// The request's text (`None`: `done`, nothing to do).
pub fn render(request: Option<&Request>) -> String {
    let Some(r) = request else {
        return "done\n".to_string();
    };
    let mut out = format!("receive\ncommit {}\n", r.commit);
    if let Some(host) = &r.host {
        out.push_str(&format!("host {host}\n"));
    }
    if let Some(c) = &r.if_commit {
        out.push_str(&format!("if-commit {c}\n"));
    }
    if r.up {
        out.push_str("up\n");
    }
    for path in &r.delete {
        out.push_str(&format!("delete {path}\n"));
    }
    out.push('\n');
    out
}

/// Reads a request from its lines (the first line, then up to the empty one).
pub fn parse<'a>(mut lines: impl Iterator<Item = &'a str>) -> Result<Option<Request>, String> {
    match lines.next() {
        Some("done") => return Ok(None),
        Some("receive") => {}
        other => return Err(format!("unexpected request `{}`", other.unwrap_or(""))),
    }
    let mut r = Request::default();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "commit" => r.commit = value.to_string(),
            "host" => r.host = Some(value.to_string()),
            "if-commit" => r.if_commit = Some(value.to_string()),
            "up" => r.up = true,
            "delete" => r.delete.push(value.to_string()),
            _ => return Err(format!("unexpected request line `{line}`")),
        }
    }
    if r.commit.is_empty() {
        return Err("the request names no commit".to_string());
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_errors() {
        let full = Request {
            commit: "3f2a".into(),
            host: Some("eu-1".into()),
            if_commit: Some("-".into()),
            delete: vec!["old.yaml".into(), "dir/with space.txt".into()],
            up: true,
        };
        for request in [Some(&full), None] {
            let text = render(request);
            assert_eq!(parse(text.split('\n')), Ok(request.cloned()), "{text:?}");
        }
        let table = [
            ("hello", "unexpected request `hello`"),
            ("receive\nsteal x\n", "unexpected request line `steal x`"),
            ("receive\nup\n\n", "the request names no commit"),
        ];
        for (text, message) in table {
            assert_eq!(
                parse(text.split('\n')),
                Err(message.to_string()),
                "{text:?}"
            );
        }
    }
}
