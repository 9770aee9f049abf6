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

/// The executor of one connection's streams: what hyper hands it waits here until the
/// connection's future takes it in (hyper clones the executor; the clones share this).
/// A stream may hand over another while it is polled (an HTTP/2 CONNECT answered 2xx
/// becomes a tunnel task): the queue is never locked while a stream runs.
#[derive(Clone, Default)]
pub(crate) struct Streams {
    new: Arc<Mutex<Vec<Stream>>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("new", &self.lock().len())
            .finish()
    }
}

impl<F> hyper::rt::Executor<F> for Streams
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, stream: F) {
        // hyper calls this only from the connection's or a stream's poll, which the
        // connection's future follows with a look at the queue
        self.lock().push(Box::pin(stream));
    }
}

impl Streams {
    fn lock(&self) -> MutexGuard<'_, Vec<Stream>> {
        self.new.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `conn`, served with these streams: a future that ends once the connection and
    /// all of its streams have.
    pub(crate) fn serve<C>(self, conn: C) -> Served<C> {
        Served {
            conn: Box::pin(conn),
            conn_done: false,
            streams: self,
            running: FuturesUnordered::new(),
        }
    }
}

/// A connection and its streams, polled together (see [`Streams::serve`]).
pub(crate) struct Served<C> {
    conn: Pin<Box<C>>,
    conn_done: bool,
    streams: Streams,
    running: FuturesUnordered<Stream>,
}

impl<C> std::fmt::Debug for Served<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("conn_done", &self.conn_done)
            .field("running", &self.running.len())
            .finish()
    }
}

impl<C> Served<C> {
    /// The connection itself, to ask it to finish.
    pub(crate) fn conn(&mut self) -> Pin<&mut C> {
        self.conn.as_mut()
    }

    /// Takes in the streams handed over, runs those that were woken; ready once there is
    /// none left.
    fn poll_streams(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            // pushing polls nothing: the lock is held by no stream's code
            self.running.extend(self.streams.lock().drain(..));
            while let Poll::Ready(Some(())) = self.running.poll_next_unpin(cx) {}
            if self.streams.lock().is_empty() {
                return match self.running.is_empty() {
                    true => Poll::Ready(()),
                    false => Poll::Pending,
                };
            }
        }
    }
}

impl<C: Future> Future for Served<C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // the streams woken by their backends first, so that the connection's poll
        // writes their responses together; then the streams it made, if any
        let _ = this.poll_streams(cx);
        if !this.conn_done && this.conn.as_mut().poll(cx).is_ready() {
            this.conn_done = true;
        }
        match (this.poll_streams(cx), this.conn_done) {
            (Poll::Ready(()), true) => Poll::Ready(()),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn a_stream_may_hand_over_another_while_it_runs() {
        // on a thread of its own: a deadlock fails the test instead of hanging it
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let streams = Streams::default();
                let (exec, ran) = (streams.clone(), Arc::new(AtomicBool::new(false)));
                let seen = ran.clone();
                let conn = async move {
                    let inner = exec.clone();
                    exec.execute(async move {
                        // as hyper does for a CONNECT answered 2xx: the stream hands
                        // over its tunnel's task while it is polled
                        inner.execute(async move { seen.store(true, Ordering::Relaxed) });
                    });
                };
                streams.serve(conn).await;
                let _ = done.send(ran.load(Ordering::Relaxed));
            });
        });
        let got = finished.recv_timeout(Duration::from_secs(5));
        assert_eq!(
            got,
            Ok(true),
            "the second stream ran and the connection ended"
        );
    }
}
