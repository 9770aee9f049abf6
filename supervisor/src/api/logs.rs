//! `GET /api/v1/instances/{name}/logs`: the last lines of an instance's stdout or
//! stderr (`tail`, default 100), and with `follow=1` what it writes next, as `lcc logs
//! -f` shows it.

use super::{number, problem::Problem, Reply};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{header, Response};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT_TAIL: u64 = 100;
/// How far back from the end the last lines are looked for.
const TAIL_WINDOW: u64 = 1 << 20;
const POLL: Duration = Duration::from_millis(250);

/// The log file asked for: `stream=stdout` (default) or `stderr`.
pub(crate) fn file(pod: PathBuf, query: &[(String, String)]) -> Result<PathBuf, Problem> {
    let stream = query
        .iter()
        .find(|(k, _)| k == "stream")
        .map_or("stdout", |(_, v)| v.as_str());
    match stream {
        "stdout" => Ok(pod.join("log/stdout.log")),
        "stderr" => Ok(pod.join("log/stderr.log")),
        other => Err(Problem::bad_request(format!(
            "query parameter stream: {other:?} is not stdout or stderr"
        ))),
    }
}

/// The reply: the last `tail` lines, then (with `follow=1`) what follows.
pub(crate) fn reply(path: PathBuf, query: &[(String, String)]) -> Result<Reply, Problem> {
    let tail = number(query, "tail")?.unwrap_or(DEFAULT_TAIL);
    let follow = match query
        .iter()
        .find(|(k, _)| k == "follow")
        .map(|(_, v)| v.as_str())
    {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "query parameter follow: {other:?} is not 0, 1, true or false"
            )))
        }
    };
    let (text, end) = last_lines(&path, tail);
    let builder = Response::builder().header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
    if !follow {
        return builder
            .body(super::full(text))
            .map_err(|e| Problem::internal(e.to_string()));
    }
    let body = futures_util::stream::unfold(
        (path, end, Some(text)),
        |(path, offset, first)| async move {
            if let Some(first) = first {
                let frame: Result<Frame<Bytes>, std::convert::Infallible> = Ok(Frame::data(first));
                return Some((frame, (path, offset, None)));
            }
            let mut offset = offset;
            loop {
                tokio::time::sleep(POLL).await;
                let (more, end) = read_after(&path, offset);
                offset = end;
                if !more.is_empty() {
                    return Some((Ok(Frame::data(more)), (path, offset, None)));
                }
            }
        },
    );
    builder
        .body(StreamBody::new(body).boxed_unsync())
        .map_err(|e| Problem::internal(e.to_string()))
}

/// The last `n` lines of the file (looked for in its last MiB) and its length.
fn last_lines(path: &std::path::Path, n: u64) -> (Bytes, u64) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (Bytes::new(), 0);
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(TAIL_WINDOW);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut buf).is_err() {
        return (Bytes::new(), len);
    }
    let end = start + buf.len() as u64;
    let body = if buf.ends_with(b"\n") {
        &buf[..buf.len() - 1]
    } else {
        &buf[..]
    };
    let from = if n == 0 {
        buf.len()
    } else {
        body.iter()
            .enumerate()
            .rev()
            .filter(|(_, &b)| b == b'\n')
            .nth(n as usize - 1)
            .map_or(0, |(i, _)| i + 1)
    };
    (Bytes::copy_from_slice(&buf[from..]), end)
}

/// What was appended after `offset` (from the start if the file shrank).
fn read_after(path: &std::path::Path, offset: u64) -> (Bytes, u64) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (Bytes::new(), offset);
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let offset = if len < offset { 0 } else { offset };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(offset)).is_err() || f.read_to_end(&mut buf).is_err() {
        return (Bytes::new(), offset);
    }
    let end = offset + buf.len() as u64;
    (Bytes::from(buf), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_of_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("log");
        std::fs::write(&p, "a\nb\nc\n").expect("write");
        let table = [
            (0, ""),
            (1, "c\n"),
            (2, "b\nc\n"),
            (3, "a\nb\nc\n"),
            (9, "a\nb\nc\n"),
        ];
        for (n, want) in table {
            assert_eq!(last_lines(&p, n).0, Bytes::from(want), "tail {n}");
        }
        std::fs::write(&p, "a\nno newline").expect("write");
        assert_eq!(last_lines(&p, 1).0, Bytes::from("no newline"));
        assert_eq!(last_lines(&dir.path().join("none"), 5), (Bytes::new(), 0));
    }
}
