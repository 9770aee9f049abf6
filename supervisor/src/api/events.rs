//! `GET /api/v1/events`: the event log with ids (an event's id is its line number in
//! `events.jsonl`, which only grows), as a JSON page or, with `Accept:
//! text/event-stream`, a live Server-Sent Events stream that resumes after
//! `Last-Event-ID` and sends a keep-alive comment when nothing happened for a while.

use super::{problem::Problem, Api, Reply};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{header, Response};
use lcc_core::events::Event;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events per page when `limit` is not given, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;
/// A comment after this long without an event keeps proxies from closing the stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Reads the complete lines after byte `offset`; returns the events with their ids
/// (`first_id` for the first line read) and the offset after the last complete line.
fn read_from(path: &Path, offset: u64, first_id: u64) -> (Vec<(u64, Event)>, u64, u64) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (Vec::new(), offset, first_id);
    };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(offset)).is_err() || f.read_to_end(&mut buf).is_err() {
        return (Vec::new(), offset, first_id);
    }
    let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut id = first_id;
    let mut out = Vec::new();
    for line in buf[..complete].split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        // A garbled line still takes its id, so ids stay line numbers.
        if let Ok(ev) = serde_json::from_slice::<Event>(line) {
            out.push((id, ev));
        }
        id += 1;
    }
    (out, offset + complete as u64, id)
}

fn json(id: u64, ev: &Event) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "time": super::views::rfc3339(ev.time),
        "object": ev.object,
        "reason": ev.reason,
        "message": ev.message,
    })
}

/// The largest number a query parameter or `Last-Event-ID` takes (as openapi.json says).
pub(crate) const MAX_NUMBER: u64 = 1_000_000_000;

/// The numeric value of query parameter `name`, if given: 0 to [`MAX_NUMBER`].
pub(crate) fn number(query: &[(String, String)], name: &str) -> Result<Option<u64>, Problem> {
    let Some((_, v)) = query.iter().find(|(k, _)| k == name) else {
        return Ok(None);
    };
    match v.parse::<u64>() {
        Ok(n) if n <= MAX_NUMBER => Ok(Some(n)),
        _ => Err(Problem::bad_request(format!(
            "query parameter {name}: {v:?} is not a whole number from 0 to {MAX_NUMBER}"
        ))),
    }
}

/// The JSON page: events with an id above `since`, at most `limit`.
pub(crate) fn page(api: &Api, query: &[(String, String)]) -> Result<serde_json::Value, Problem> {
    let since = number(query, "since")?.unwrap_or(0);
    let limit = number(query, "limit")?
        .map_or(DEFAULT_LIMIT, |n| n as usize)
        .min(MAX_LIMIT);
    let (all, _, next) = read_from(&api.layout.events(), 0, 1);
    let list: Vec<serde_json::Value> = all
        .iter()
        .filter(|(id, _)| *id > since)
        .take(limit)
        .map(|(id, ev)| json(*id, ev))
        .collect();
    Ok(serde_json::json!({ "events": list, "lastId": next - 1 }))
}

/// The live stream, from the event after `after`.
/// Where a live stream is: the log's bytes read so far and the next line's id.
struct Tail {
    path: std::path::PathBuf,
    offset: u64,
    next_id: u64,
    /// Only events after this id are sent.
    after: u64,
    /// Wakes when the daemon appends an event.
    appended: tokio::sync::watch::Receiver<u64>,
    /// When something was last sent.
    sent: Instant,
    first: bool,
}

impl Tail {
    /// The next frame: new events, or a keep-alive comment after [`KEEP_ALIVE`] of quiet
    /// (and at once, so the client sees the stream is open). Between events it sleeps on
    /// the daemon's word that one was appended (the daemon is the log's one writer); the
    /// look before each keep-alive is the net.
    async fn next(&mut self) -> Bytes {
        loop {
            // Marked seen before reading: an append during the read wakes the next wait.
            self.appended.borrow_and_update();
            let (evs, offset, next_id) = read_from(&self.path, self.offset, self.next_id);
            self.offset = offset;
            self.next_id = next_id;
            let mut text = String::new();
            for (id, ev) in evs.iter().filter(|(id, _)| *id > self.after) {
                text.push_str(&format!(
                    "id: {id}\nevent: event\ndata: {}\n\n",
                    json(*id, ev)
                ));
            }
            if !text.is_empty() {
                self.sent = Instant::now();
                self.first = false;
                return Bytes::from(text);
            }
            if std::mem::take(&mut self.first) || self.sent.elapsed() >= KEEP_ALIVE {
                self.sent = Instant::now();
                return Bytes::from_static(b": keep-alive\n\n");
            }
            let quiet_until = self.sent + KEEP_ALIVE;
            tokio::select! {
                _ = self.appended.changed() => {}
                _ = tokio::time::sleep_until(quiet_until.into()) => {}
            }
        }
    }
}

/// The live stream, from the event after `after`.
pub(crate) fn stream(api: Arc<Api>, after: u64) -> Reply {
    let tail = Tail {
        path: api.layout.events(),
        offset: 0,
        next_id: 1,
        after,
        appended: api.appended.subscribe(),
        sent: Instant::now(),
        first: true,
    };
    let body = futures_util::stream::unfold(tail, |mut tail| async move {
        let frame: Result<Frame<Bytes>, std::convert::Infallible> =
            Ok(Frame::data(tail.next().await));
        Some((frame, tail))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(StreamBody::new(body).boxed_unsync())
        .unwrap_or_else(|_| Response::new(super::empty()))
}
