//! A request body as it comes in DATA frames: handed by the connection to the request's
//! exchange through a channel, and the window it used given back as the exchange reads
//! it, so that a client sends no faster than its backend takes the body.

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Why a request body ended before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecvError {
    #[error("the client reset the stream")]
    Reset,
    #[error("the body does not match its content-length")]
    Length,
    #[error("the connection closed")]
    Closed,
}

/// What the connection hands a body.
#[derive(Debug)]
pub(crate) enum Piece {
    Data(Bytes),
    Trailers(HeaderMap),
    Failed(RecvError),
}

/// Bytes of a stream's body read by its exchange: the connection opens that much of the
/// stream's and its own window again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    pub(crate) stream: u32,
    pub(crate) bytes: u32,
    /// The pieces those bytes came in.
    pub(crate) pieces: u32,
}

/// The body of one request (none at all when its HEADERS ended the stream).
#[derive(Debug)]
pub(crate) struct RecvBody {
    rx: Option<UnboundedReceiver<Piece>>,
    release: Option<UnboundedSender<Released>>,
    stream: u32,
    length: Option<u64>,
}

impl RecvBody {
    /// A request without a body.
    pub(crate) fn empty() -> Self {
        Self {
            rx: None,
            release: None,
            stream: 0,
            length: None,
        }
    }

    /// A body fed through `rx` whose reads are told through `release`.
    pub(crate) fn new(
        stream: u32,
        rx: UnboundedReceiver<Piece>,
        release: UnboundedSender<Released>,
        length: Option<u64>,
    ) -> Self {
        Self {
            rx: Some(rx),
            release: Some(release),
            stream,
            length,
        }
    }

    fn released(&self, bytes: usize, pieces: u32) {
        if let (Some(release), Ok(bytes)) = (&self.release, u32::try_from(bytes)) {
            let _ = release.send(Released {
                stream: self.stream,
                bytes,
                pieces,
            });
        }
    }
}

impl Body for RecvBody {
    type Data = Bytes;
    type Error = RecvError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RecvError>>> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(None);
        };
        let piece = match rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(piece) => piece,
        };
        match piece {
            None => {
                self.rx = None;
                Poll::Ready(None)
            }
            Some(Piece::Data(data)) => {
                self.released(data.len(), 1);
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Some(Piece::Trailers(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Some(Piece::Failed(e)) => {
                self.rx = None;
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rx.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (self.length, &self.rx) {
            (_, None) => SizeHint::with_exact(0),
            (Some(length), _) => SizeHint::with_exact(length),
            (None, _) => SizeHint::default(),
        }
    }
}

impl Drop for RecvBody {
    /// What came and was not read goes back to the connection's window.
    fn drop(&mut self) {
        let Some(rx) = self.rx.as_mut() else {
            return;
        };
        rx.close();
        let (mut unread, mut pieces) = (0, 0);
        while let Ok(piece) = rx.try_recv() {
            if let Piece::Data(data) = piece {
                unread += data.len();
                pieces += 1;
            }
        }
        if pieces > 0 {
            self.released(unread, pieces);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    async fn frame(body: &mut RecvBody) -> Option<Result<Frame<Bytes>, RecvError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
    }

    #[tokio::test]
    async fn data_read_is_released_and_unread_data_too_when_dropped() {
        let (tx, rx) = unbounded_channel();
        let (release, mut released) = unbounded_channel();
        let mut body = RecvBody::new(3, rx, release, Some(10));
        assert_eq!(body.size_hint().exact(), Some(10));
        tx.send(Piece::Data(Bytes::from_static(b"abcd"))).unwrap();
        tx.send(Piece::Data(Bytes::from_static(b"efghij"))).unwrap();
        let first = frame(&mut body).await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "abcd");
        assert_eq!(
            released.try_recv(),
            Ok(Released {
                stream: 3,
                bytes: 4,
                pieces: 1
            })
        );
        drop(body);
        assert_eq!(
            released.try_recv(),
            Ok(Released {
                stream: 3,
                bytes: 6,
                pieces: 1
            })
        );
        assert!(
            tx.send(Piece::Data(Bytes::new())).is_err(),
            "closed once dropped"
        );
    }

    #[tokio::test]
    async fn a_body_ends_with_its_trailers_or_fails_with_its_reset() {
        let (tx, rx) = unbounded_channel();
        let (release, _released) = unbounded_channel();
        let mut body = RecvBody::new(1, rx, release, None);
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", "1".parse().unwrap());
        tx.send(Piece::Trailers(trailers)).unwrap();
        drop(tx);
        let got = frame(&mut body).await.unwrap().unwrap();
        assert_eq!(got.into_trailers().unwrap()["x-sum"], "1");
        assert!(frame(&mut body).await.is_none());
        assert!(body.is_end_stream());

        let (tx, rx) = unbounded_channel();
        let (release, _released) = unbounded_channel();
        let mut body = RecvBody::new(1, rx, release, None);
        tx.send(Piece::Failed(RecvError::Reset)).unwrap();
        assert_eq!(
            frame(&mut body).await.unwrap().err(),
            Some(RecvError::Reset)
        );
        assert!(RecvBody::empty().is_end_stream());
    }
}
