//! Response bodies: bytes held in memory, or a file streamed in chunks by a blocking
//! reader thread through a small channel (so a slow client slows the reader, not memory).

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Size of each chunk read from a streamed file.
const CHUNK: usize = 256 * 1024;

/// A response body.
#[derive(Debug)]
pub(crate) enum SiteBody {
    /// The whole body at once (None once sent).
    Full(Option<Bytes>),
    /// A file read on a blocking thread; `remaining` bytes still to come.
    Stream {
        /// Chunks from the reader.
        rx: mpsc::Receiver<io::Result<Bytes>>,
        /// Bytes not yet handed to hyper.
        remaining: u64,
    },
}

impl SiteBody {
    /// A body of these bytes.
    pub(crate) fn full(bytes: Bytes) -> SiteBody {
        SiteBody::Full(Some(bytes))
    }

    /// An empty body.
    pub(crate) fn empty() -> SiteBody {
        SiteBody::Full(None)
    }

    /// Streams `len` bytes of `file` from `start`.
    pub(crate) fn stream(mut file: File, start: u64, len: u64) -> SiteBody {
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = file.seek(SeekFrom::Start(start)) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            let mut left = len;
            while left > 0 {
                let mut buf = vec![0u8; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
                let chunk = match file.read(&mut buf) {
                    Ok(0) => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                    Ok(n) => {
                        buf.truncate(n);
                        left -= n as u64;
                        Ok(Bytes::from(buf))
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let failed = chunk.is_err();
                // A closed channel means the client went away: stop reading.
                if tx.blocking_send(chunk).is_err() || failed {
                    return;
                }
            }
        });
        SiteBody::Stream { rx, remaining: len }
    }
}

impl Body for SiteBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            SiteBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            SiteBody::Stream { rx, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        *remaining = remaining.saturating_sub(chunk.len() as u64);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => {
                        Poll::Ready(Some(Err(io::Error::from(io::ErrorKind::UnexpectedEof))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SiteBody::Full(bytes) => bytes.is_none(),
            SiteBody::Stream { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SiteBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            SiteBody::Stream { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}
