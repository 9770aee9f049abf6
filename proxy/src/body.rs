//! Bodies through the proxy: a client's request body on its way in (from hyper's HTTP/1
//! server or the proxy's HTTP/2 one), and a response body on its way to the client: a
//! backend's, streamed (never collected), or a short one the proxy makes.

use crate::h1::BackendBody;
use crate::http2::RecvBody;
use bytes::Bytes;
use http_body_util::Either;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A response body: a backend's, streamed, or a short one made by the proxy.
// the backend's variant is the large one and the one nearly every response takes: boxing
// it would be an allocation per response to spare the proxy's own rare answers some bytes
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum DownBody {
    /// A backend's body, read by the HTTP/1 client ([`crate::h1`]).
    Backend(BackendBody),
    /// A body made by the proxy.
    Full(Option<Bytes>),
}

/// Any error of a body on its way to the client.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl DownBody {
    /// A body made by the proxy.
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        DownBody::Full(Some(data.into()))
    }
}

impl DownBody {
    /// Writes more of the request's body to the backend, if any is left, without reading
    /// the response (which waits for the client).
    pub(crate) fn poll_upload(&mut self, cx: &mut Context<'_>) {
        if let DownBody::Backend(body) = self {
            body.poll_upload(cx)
        }
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
            DownBody::Backend(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            DownBody::Full(data) => data.is_none(),
            DownBody::Backend(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            DownBody::Full(Some(d)) => SizeHint::with_exact(d.len() as u64),
            DownBody::Full(None) => SizeHint::with_exact(0),
            DownBody::Backend(body) => body.size_hint(),
        }
    }
}

/// A client's request body: over HTTP/1 from hyper's server (`Left`), over HTTP/2 from
/// the proxy's own (`Right`).
pub(crate) type UpBody = Either<Incoming, RecvBody>;
