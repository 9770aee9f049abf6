//! The response deadline of a client connection's requests, on one lazy timer per
//! connection: armed once, and only moved when it fires before the request in flight is
//! due, instead of a timer entry added and removed for every request (each a lock and a
//! timer-wheel update, sometimes a wake-up of the runtime's own thread). It is for
//! HTTP/1, whose requests come one at a time; the streams of an HTTP/2 connection are
//! in flight together, and each has a timer of its own (`forward.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// One connection's timer; its requests come one at a time (HTTP/1).
#[derive(Debug, Default)]
pub(crate) struct Deadline {
    sleep: Mutex<Option<Pin<Box<Sleep>>>>,
}

/// The response did not come before its deadline.
#[derive(Debug)]
pub(crate) struct Elapsed;

impl Deadline {
    /// Runs `fut` until it completes or `after` has passed.
    pub(crate) fn within<F: Future + Unpin>(&self, after: Duration, fut: F) -> Within<'_, F> {
        Within {
            fut,
            due: Instant::now() + after,
            deadline: self,
        }
    }

    /// Ready once `due` has passed; the timer is re-armed (one wheel update) only when it
    /// fired for an earlier request or was never set.
    fn poll_due(&self, due: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
        let sleep = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if sleep.deadline() > due {
            sleep.as_mut().reset(due);
        }
        loop {
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if Instant::now() >= due => return Poll::Ready(()),
                // set for an earlier request: move it to this one's deadline
                Poll::Ready(()) => sleep.as_mut().reset(due),
            }
        }
    }
}

/// A future bounded by its connection's [`Deadline`] (pin it first: `tokio::pin!`).
#[derive(Debug)]
pub(crate) struct Within<'a, F> {
    fut: F,
    due: Instant,
    deadline: &'a Deadline,
}

impl<F: Future + Unpin> Future for Within<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = Pin::new(&mut self.fut).poll(cx) {
            return Poll::Ready(Ok(out));
        }
        self.deadline.poll_due(self.due, cx).map(|()| Err(Elapsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_timer_set_for_an_earlier_request_does_not_cut_a_later_one() {
        let deadline = Deadline::default();
        let quick = tokio::time::sleep(Duration::from_millis(5));
        tokio::pin!(quick);
        // arms the timer 100 ms from now
        let first = deadline.within(Duration::from_millis(100), quick).await;
        assert!(first.is_ok());
        // still running when the first request's timer fires: it is moved, not obeyed
        let slow = tokio::time::sleep(Duration::from_millis(200));
        tokio::pin!(slow);
        let second = deadline.within(Duration::from_secs(5), slow).await;
        assert!(second.is_ok());
        // and a request that never answers is still cut at its own deadline
        let never = std::future::pending::<()>();
        tokio::pin!(never);
        let third = deadline.within(Duration::from_millis(50), never).await;
        assert!(third.is_err());
    }
}
