//! `GET /api/v1/events`: the event log with ids (an event's id is its line number in
//! `events.jsonl`, which only grows), as a JSON page or, with `Accept:
//! text/event-stream`, a live Server-Sent Events stream that resumes after
//! `Last-Event-ID` and sends a keep-alive comment when nothing happened for a while.

use super::{number, problem::Problem, Api, Reply};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{header, Response};
use lcc_core::events::{Event, Tail};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events per page when `limit` is not given, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;
/// A comment after this long without an event keeps proxies from closing the stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn json(id: u64, ev: &Event) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        // to the millisecond: `lcc events` merges the hosts' events by it
        "time": rfc3339_millis(ev.time),
        "object": ev.object,
        "reason": ev.reason,
        "message": ev.message,
    })
}

/// Unix seconds as RFC 3339 (UTC) with milliseconds.
fn rfc3339_millis(secs: f64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// The JSON page: events with an id above `since`, at most `limit`.
pub(crate) fn page(api: &Api, query: &[(String, String)]) -> Result<serde_json::Value, Problem> {
    let since = number(query, "since")?.unwrap_or(0);
    let limit = number(query, "limit")?
        .map_or(DEFAULT_LIMIT, |n| n as usize)
        .min(MAX_LIMIT);
    let mut tail = Tail::start();
    let all = tail.read(&api.layout.events());
    let list: Vec<serde_json::Value> = all
        .iter()
        .filter(|(id, _)| *id > since)
        .take(limit)
        .map(|(id, ev)| json(*id, ev))
        .collect();
    Ok(serde_json::json!({ "events": list, "lastId": tail.next_id() - 1 }))
}

/// The live stream, from the event after `after`.
/// A live stream: where it is in the log.
struct Live {
    path: std::path::PathBuf,
    tail: Tail,
    /// Only events after this id are sent.
    after: u64,
    /// Wakes when the daemon appends an event.
    appended: tokio::sync::watch::Receiver<u64>,
    /// When something was last sent.
    sent: Instant,
    first: bool,
}

impl Live {
    /// The next frame: new events, or a keep-alive comment after [`KEEP_ALIVE`] of quiet
    /// (and at once, so the client sees the stream is open). Between events it sleeps on
    /// the daemon's word that one was appended (the daemon is the log's one writer); the
    /// look before each keep-alive is the net.
    async fn next(&mut self) -> Bytes {
        loop {
            // Marked seen before reading: an append during the read wakes the next wait.
            self.appended.borrow_and_update();
            let evs = self.tail.read(&self.path);
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
    let live = Live {
        path: api.layout.events(),
        tail: Tail::start(),
        after,
        appended: api.appended.subscribe(),
        sent: Instant::now(),
        first: true,
    };
    let body = futures_util::stream::unfold(live, |mut live| async move {
        let frame: Result<Frame<Bytes>, std::convert::Infallible> =
            Ok(Frame::data(live.next().await));
        Some((frame, live))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(StreamBody::new(body).boxed_unsync())
        .unwrap_or_else(|_| Response::new(super::empty()))
}
