//! Request and response bodies that stream through the proxy, counted, never collected.

use crate::balancer::Backend;
use crate::h1::LeanBody;
use crate::limits::Limits;
use crate::metrics::Counters;
use crate::upstream::Sender;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A client's request body on its way to a backend.
#[derive(Debug)]
pub struct UpBody {
    /// The client's body; `None` for the empty body of a request sent again.
    body: Option<Incoming>,
    counters: Arc<Counters>,
}

impl UpBody {
    /// Streams `body`, counting its bytes as received.
    pub fn new(body: Incoming, counters: Arc<Counters>) -> Self {
        Self {
            body: Some(body),
            counters,
        }
    }

    /// No body: a bodyless request sent again after its connection broke.
    pub fn empty(counters: Arc<Counters>) -> Self {
        Self {
            body: None,
            counters,
        }
    }
}

impl Body for UpBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        count_data(&polled, &this.counters.bytes_in);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

/// Adds the bytes of a polled data frame to `counter`.
fn count_data(polled: &Poll<Option<Result<Frame<Bytes>, hyper::Error>>>, counter: &AtomicU64) {
    if let Poll::Ready(Some(Ok(frame))) = polled {
        if let Some(data) = frame.data_ref() {
            Counters::add(counter, data.len() as u64);
        }
    }
}

/// Where a finished backend connection goes back to.
#[derive(Debug)]
pub struct Reuse {
    /// The connection.
    pub sender: Sender,
    /// Its backend, whose pool takes it back.
    pub backend: Arc<Backend>,
    /// Pool bounds.
    pub limits: Arc<Limits>,
}

impl Reuse {
    /// Returns the connection to its backend's pool.
    pub fn release(self) {
        self.backend.pool().put(self.sender, &self.limits);
    }
}

/// A response body: a backend's, streamed, or a short one made by the proxy.
#[derive(Debug)]
pub enum DownBody {
    /// A backend's body; its connection is pooled again once the body is complete.
    Upstream {
        /// The backend's body.
        body: Incoming,
        /// Counts bytes sent.
        counters: Arc<Counters>,
        /// The connection to give back at the end.
        reuse: Option<Reuse>,
    },
    /// A backend's body read by the lean client ([`crate::h1`]).
    Lean(LeanBody),
    /// A body made by the proxy.
    Full(Option<Bytes>),
}

/// Any error of a body on its way to the client.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl DownBody {
    /// A body made by the proxy.
    pub fn full(data: impl Into<Bytes>) -> Self {
        DownBody::Full(Some(data.into()))
    }
}

impl Body for DownBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut *self {
            DownBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            DownBody::Lean(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            DownBody::Upstream {
                body,
                counters,
                reuse,
            } => {
                let polled = Pin::new(&mut *body).poll_frame(cx);
                count_data(&polled, &counters.bytes_out);
                let done = match &polled {
                    // hyper stops polling a body that says it has ended
                    Poll::Ready(Some(Ok(_))) => body.is_end_stream(),
                    Poll::Ready(None) => true,
                    _ => false,
                };
                if done {
                    if let Some(r) = reuse.take() {
                        r.release();
                    }
                }
                polled.map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            DownBody::Full(data) => data.is_none(),
            DownBody::Lean(body) => body.is_end_stream(),
            DownBody::Upstream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            DownBody::Full(Some(d)) => SizeHint::with_exact(d.len() as u64),
            DownBody::Full(None) => SizeHint::with_exact(0),
            DownBody::Upstream { body, .. } => body.size_hint(),
            DownBody::Lean(body) => body.size_hint(),
        }
    }
}
