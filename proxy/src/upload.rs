//! A client's request body on its way to a backend: written by the HTTP/1 client
//! ([`crate::h1`]) as the `Content-Length` bytes when the client said how long it is, and
//! chunked otherwise; streamed a frame at a time (never collected) and counted.

use crate::body::{BoxError, UpBody};
use crate::headers::trailer_allowed;
use crate::metrics::Counters;
use bytes::{Buf, Bytes};
use http::header::{self, HeaderMap, HeaderValue};
use hyper::body::{Body, Frame};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

/// Bytes queued for the backend before the client's body is asked for more.
const HIGH_WATER: usize = 64 * 1024;
/// Pieces queued for the backend before the client's body is asked for more: a body in
/// tiny frames or chunks costs far more memory than its bytes.
const MAX_PIECES: usize = 192;
/// Pieces handed to one vectored write (a chunk is three: size line, data, CRLF).
const SLICES: usize = 12;

/// How long the rest of a body no backend takes any more is read and thrown away.
const LINGER: Duration = Duration::from_secs(5);

/// Why an upload stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    /// The client's body failed (a malformed chunk, a body cut short).
    #[error("{0}")]
    Client(#[source] BoxError),
    /// Writing to the backend failed.
    #[error("{0}")]
    Backend(#[source] std::io::Error),
}

/// The rest of one request body: what the client has not sent yet and what is queued
/// for the backend.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The client's body; taken only by `drop`.
    body: Option<UpBody>,
    chunked: bool,
    queue: VecDeque<Bytes>,
    queued: usize,
    /// The client's body has ended (its last chunk is queued).
    ended: bool,
    counters: Arc<Counters>,
}

impl Upload {
    /// The upload of `body`, setting `headers` to frame it (the client's own framing
    /// headers are hop-by-hop or decoded by now); `None` when there is no body to send.
    pub(crate) fn prepare(
        headers: &mut HeaderMap,
        body: UpBody,
        counters: &Arc<Counters>,
    ) -> Option<Upload> {
        if body.is_end_stream() {
            return None;
        }
        let chunked = match body.size_hint().exact() {
            Some(length) => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
                false
            }
            None => {
                headers.remove(header::CONTENT_LENGTH);
                headers.insert(
                    header::TRANSFER_ENCODING,
                    HeaderValue::from_static("chunked"),
                );
                true
            }
        };
        Some(Upload {
            body: Some(body),
            chunked,
            queue: VecDeque::new(),
            queued: 0,
            ended: false,
            counters: counters.clone(),
        })
    }

    /// Moves the body to `stream` as far as both sides allow; ready once all of it is
    /// written.
    pub(crate) fn poll_send(
        &mut self,
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        loop {
            // take what the client has ready, without waiting, while little is queued
            while !self.ended && self.queued < HIGH_WATER && self.queue.len() < MAX_PIECES {
                let Some(body) = self.body.as_mut() else {
                    break;
                };
                match Pin::new(body).poll_frame(cx) {
                    Poll::Pending => break,
                    Poll::Ready(None) => self.end(),
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(UploadError::Client(e))),
                    Poll::Ready(Some(Ok(frame))) => self.push(frame),
                }
            }
            if self.queue.is_empty() {
                return match self.ended {
                    true => Poll::Ready(Ok(())),
                    false => Poll::Pending,
                };
            }
            let mut slices = [IoSlice::new(&[]); SLICES];
            let mut count = 0;
            for (slot, piece) in slices.iter_mut().zip(&self.queue) {
                *slot = IoSlice::new(piece);
                count += 1;
            }
            let written = ready!(Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..count]))
                .map_err(UploadError::Backend)?;
            if written == 0 {
                let closed = std::io::Error::from(std::io::ErrorKind::WriteZero);
                return Poll::Ready(Err(UploadError::Backend(closed)));
            }
            self.consume(written);
        }
    }

    fn push(&mut self, frame: Frame<Bytes>) {
        match frame.into_data() {
            Ok(data) if data.is_empty() => {}
            Ok(data) => {
                Counters::add(&self.counters.bytes_in, data.len() as u64);
                if self.chunked {
                    self.queue_piece(Bytes::from(format!("{:x}\r\n", data.len())));
                    self.queue_piece(data);
                    self.queue_piece(Bytes::from_static(b"\r\n"));
                } else {
                    self.queue_piece(data);
                }
            }
            Err(frame) => {
                // a Content-Length body has nowhere to carry trailers: they are dropped
                if let (Ok(trailers), true) = (frame.into_trailers(), self.chunked) {
                    let mut block = b"0\r\n".to_vec();
                    for (name, value) in trailers.iter().filter(|(n, _)| trailer_allowed(n)) {
                        block.extend_from_slice(name.as_str().as_bytes());
                        block.extend_from_slice(b": ");
                        block.extend_from_slice(value.as_bytes());
                        block.extend_from_slice(b"\r\n");
                    }
                    block.extend_from_slice(b"\r\n");
                    self.queue_piece(Bytes::from(block));
                    self.ended = true;
                }
            }
        }
    }

    fn end(&mut self) {
        if self.chunked {
            self.queue_piece(Bytes::from_static(b"0\r\n\r\n"));
        }
        self.ended = true;
    }

    fn queue_piece(&mut self, piece: Bytes) {
        self.queued += piece.len();
        self.queue.push_back(piece);
    }

    fn consume(&mut self, mut written: usize) {
        self.queued -= written;
        while written > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            let n = written.min(front.len());
            front.advance(n);
            written -= n;
            if front.is_empty() {
                self.queue.pop_front();
            }
        }
    }
}

impl Drop for Upload {
    /// A body left unsent (the backend answered before reading it whole, or went away)
    /// is read to its end and thrown away, for at most [`LINGER`], like nginx's lingering
    /// close: the client finishes sending and then reads the answer, instead of having
    /// its connection reset under its feet while it writes.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let (Some(mut body), Ok(runtime)) =
            (self.body.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            let rest = async {
                loop {
                    let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
                    if !matches!(frame, Some(Ok(_))) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, rest).await;
        });
    }
}
