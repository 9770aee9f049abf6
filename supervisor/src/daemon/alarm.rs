//! The loop's next deadline as a timerfd in the event loop: the kernel wakes the loop
//! once, at the deadline.
//!
//! A tokio timer a second ahead wakes the loop early, at its wheel's slot boundary (64 ms
//! slots at that range), to be parked again for the rest, and re-arming one wakes the
//! driver through its eventfd: three wake-ups per deadline instead of one, and each
//! wake-up of an idle daemon costs more than the probes it sends (the figure is in
//! bench/RESULTS.md).

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

/// A one-shot monotonic timer the event loop waits on; without a timerfd (none could be
/// made, or reading it failed), a tokio timer to the same deadline.
#[derive(Debug)]
pub(super) struct Alarm {
    fd: Option<AsyncFd<Timer>>,
    /// The deadline it is set to; `None` once it rang.
    armed: Option<Instant>,
}

/// The timerfd, as tokio registers it (by raw fd).
#[derive(Debug)]
struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Alarm {
    /// A disarmed alarm registered with the current tokio runtime.
    pub(super) fn new() -> Alarm {
        Alarm {
            fd: Timer::new().ok(),
            armed: None,
        }
    }

    /// Rings at `at` (at once if it has passed); a deadline already set costs nothing.
    pub(super) fn set(&mut self, at: Instant) {
        if self.armed == Some(at) {
            return;
        }
        self.armed = Some(at);
        // Relative: std's Instant has no public clock value. A zero time would disarm it.
        let wait = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_micros(1));
        let spec = Expiration::OneShot(TimeSpec::from_duration(wait));
        if let Some(fd) = &self.fd {
            if fd
                .get_ref()
                .0
                .set(spec, TimerSetTimeFlags::empty())
                .is_err()
            {
                self.fd = None;
            }
        }
    }

    /// Waits until it rings (never, if it is not set); then it is disarmed, so the next
    /// `set` arms it even for the same deadline.
    pub(super) async fn rung(&mut self) {
        let Some(at) = self.armed else {
            return std::future::pending().await;
        };
        if self.fd.is_some() && self.read_ring().await.is_err() {
            self.fd = None;
        }
        if self.fd.is_none() {
            tokio::time::sleep_until(at.into()).await;
        }
        self.armed = None;
    }

    /// Waits for the timerfd to become readable and reads its count.
    async fn read_ring(&self) -> io::Result<()> {
        let Some(fd) = &self.fd else {
            return Ok(());
        };
        loop {
            let mut ready = fd.readable().await?;
            let read = ready.try_io(|t| {
                let mut ticks = [0u8; 8];
                nix::unistd::read(t.get_ref().0.as_fd(), &mut ticks)
                    .map(drop)
                    .map_err(io::Error::from)
            });
            if let Ok(result) = read {
                return result;
            }
        }
    }
}

impl Timer {
    /// A non-blocking monotonic timerfd, registered with tokio.
    fn new() -> io::Result<AsyncFd<Timer>> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // `AsyncFd::new` is deprecated (tokio 1.54) for taking any `AsRawFd`, which may
        // close its fd while registered; `Timer` owns its fd for its whole life, which is
        // what the unsafe `register` asks of its caller (and this workspace forbids
        // unsafe code).
        #[allow(deprecated)]
        AsyncFd::new(Timer(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rings_once_at_the_deadline_and_again_when_set_again() {
        let mut a = Alarm::new();
        assert!(a.fd.is_some(), "a timerfd on Linux");
        let t0 = Instant::now();
        a.set(t0 + Duration::from_millis(50));
        tokio::time::timeout(Duration::from_secs(5), a.rung())
            .await
            .expect("rings");
        assert!(
            t0.elapsed() >= Duration::from_millis(50),
            "not before its time"
        );
        // Not set again: it stays quiet.
        let quiet = tokio::time::timeout(Duration::from_millis(100), a.rung()).await;
        assert!(quiet.is_err(), "rang without being set");
        // A deadline in the past rings at once.
        a.set(t0);
        tokio::time::timeout(Duration::from_secs(5), a.rung())
            .await
            .expect("rings");
    }
}
