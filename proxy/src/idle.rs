//! The slowloris and keep-alive guard of a client connection: the next request head must
//! be complete within the header timeout of the connection going idle (accepted, or its
//! last response sent). One lazy timer per connection, re-armed only when it fires,
//! instead of a timer armed and cancelled for every request (which hyper's own
//! `header_read_timeout` does, at a measurable cost per request).

use crate::clock::now_ms;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// When one connection went idle, and how many of its requests are in flight.
#[derive(Debug)]
pub(crate) struct Idle {
    /// Requests whose response has not been sent in full yet.
    busy: AtomicU64,
    /// When the connection last went idle (ms, see [`now_ms`](crate::clock::now_ms)).
    since: AtomicU64,
}

impl Idle {
    /// A connection idle from now on.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            busy: AtomicU64::new(0),
            since: AtomicU64::new(now_ms()),
        })
    }

    /// Marks a request head as complete; the connection is busy until the guard drops
    /// (its response sent in full, or given up).
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Resolves once the connection has been idle for `timeout` without a request head
    /// completing: the caller then closes it.
    pub(crate) async fn expired(&self, timeout: Duration) {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        loop {
            let now = now_ms();
            let deadline = match self.busy.load(Ordering::Relaxed) {
                // a request in flight: look again one timeout later
                0 => self
                    .since
                    .load(Ordering::Relaxed)
                    .saturating_add(timeout_ms),
                _ => now.saturating_add(timeout_ms),
            };
            if deadline <= now {
                return;
            }
            tokio::time::sleep(Duration::from_millis(deadline - now)).await;
        }
    }
}

/// One request in flight on a connection; dropping it marks the connection idle again
/// when it was the last.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Idle>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.since.store(now_ms(), Ordering::Relaxed);
        }
    }
}

/// A response body that keeps its connection busy until it is sent in full (hyper drops
/// the body then) or dropped.
#[derive(Debug)]
pub(crate) struct Tracked<B> {
    body: B,
    _busy: Busy,
}

impl<B> Tracked<B> {
    /// `body`, holding `busy` for as long as it lives.
    pub(crate) fn new(body: B, busy: Busy) -> Self {
        Self { body, _busy: busy }
    }
}

impl Tracked<crate::body::DownBody> {
    /// See [`DownBody::poll_upload`](crate::body::DownBody::poll_upload).
    pub(crate) fn poll_upload(&mut self, cx: &mut Context<'_>) {
        self.body.poll_upload(cx)
    }
}

impl<B> Body for Tracked<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
