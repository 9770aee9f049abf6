//! The streams of one HTTP/2 connection, run on the connection's own task instead of a
//! task each. hyper's HTTP/2 server hands every stream's future to its executor; this
//! executor keeps them in a set that is polled beside the connection, in the same
//! wake-up: the streams woken by their backends' answers run first, then the connection
//! writes all their responses at once. With a task per stream, each answer meant a task
//! scheduled for the stream, then a wake-up of the connection's task to write it (the
//! figure that calls for this is in bench/RESULTS.md, "Figures behind design choices").
//! It serves the connections that chose `h2` by ALPN. HTTP/2 told from HTTP/1 by its
//! preface (h2c, TLS without ALPN) keeps hyper's task per stream: those connections are
//! mostly HTTP/1, whose every wake-up would pay for a look at an empty set.

use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

/// A stream's future, as hyper made it (boxed: hyper's stream type names its executor).
type Stream = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The executor of one connection's streams (hyper clones it; the clones share the set).
#[derive(Clone, Default)]
pub(crate) struct Streams {
    set: Arc<Mutex<FuturesUnordered<Stream>>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("len", &self.lock().len())
            .finish()
    }
}

impl<F> hyper::rt::Executor<F> for Streams
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, stream: F) {
        // first polled by the connection's future right after the connection's poll
        // that made it
        self.lock().push(Box::pin(stream));
    }
}

impl Streams {
    fn lock(&self) -> MutexGuard<'_, FuturesUnordered<Stream>> {
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the streams that were woken; ready once there is none left.
    fn poll_streams(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut set = self.lock();
        loop {
            match set.poll_next_unpin(cx) {
                Poll::Ready(Some(())) => continue,
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `conn`, served with these streams: a future that ends once the connection and
    /// all of its streams have.
    pub(crate) fn serve<C>(self, conn: C) -> Served<C> {
        Served {
            conn: Box::pin(conn),
            conn_done: false,
            streams: self,
        }
    }
}

/// A connection and its streams, polled together (see [`Streams::serve`]).
#[derive(Debug)]
pub(crate) struct Served<C> {
    conn: Pin<Box<C>>,
    conn_done: bool,
    streams: Streams,
}

impl<C> Served<C> {
    /// The connection itself, to ask it to finish.
    pub(crate) fn conn(&mut self) -> Pin<&mut C> {
        self.conn.as_mut()
    }
}

impl<C: Future> Future for Served<C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // the streams woken by their backends first, so that the connection's poll
        // writes their responses together; then the streams it made, if any
        let _ = this.streams.poll_streams(cx);
        if !this.conn_done && this.conn.as_mut().poll(cx).is_ready() {
            this.conn_done = true;
        }
        match (this.streams.poll_streams(cx), this.conn_done) {
            (Poll::Ready(()), true) => Poll::Ready(()),
            _ => Poll::Pending,
        }
    }
}
