//! Listen addresses the proxy cannot bind yet (another program holds the port): when to
//! try them again. The rest of the config is served meanwhile; these are retried with a
//! backoff that starts at 250 ms and doubles up to 5 s, so a port freed is served within
//! 5 s while a port held for hours costs one bind a few seconds.

use std::time::{Duration, Instant};

/// The first retry's delay.
pub(crate) const FIRST: Duration = Duration::from_millis(250);
/// The longest delay between two retries.
pub(crate) const CAP: Duration = Duration::from_secs(5);

/// The delay before the next retry after `failed` retries in a row that found the
/// addresses still taken (0: the first retry).
pub(crate) fn delay(failed: u32) -> Duration {
    FIRST
        .checked_mul(1u32.checked_shl(failed).unwrap_or(u32::MAX))
        .map_or(CAP, |d| d.min(CAP))
}

/// The retry schedule of the addresses that could not be bound.
#[derive(Debug, Default)]
pub(crate) struct Retry {
    /// Retries so far that still failed.
    failed: u32,
    /// When the next one is due; `None` when every address is bound.
    next: Option<Instant>,
}

impl Retry {
    /// The outcome of an attempt at `now`: `busy` says whether some address is still
    /// taken; `grew` whether one was not taken before (its schedule starts over).
    pub(crate) fn attempted(&mut self, now: Instant, busy: bool, grew: bool) {
        if !busy {
            *self = Retry::default();
            return;
        }
        if grew || self.next.is_none() {
            self.failed = 0;
        } else {
            self.failed = self.failed.saturating_add(1);
        }
        self.next = Some(now + delay(self.failed));
    }

    /// When the next retry is due, if any.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Whether a retry is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> bool {
        self.next.is_some_and(|t| t <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_from_250ms_up_to_5s() {
        let ms = |n| Duration::from_millis(n);
        let cases = [
            (0, ms(250)),
            (1, ms(500)),
            (2, ms(1000)),
            (3, ms(2000)),
            (4, ms(4000)),
            (5, ms(5000)),
            (6, ms(5000)),
            (40, ms(5000)),
            (u32::MAX, ms(5000)),
        ];
        for (failed, want) in cases {
            assert_eq!(delay(failed), want, "after {failed} failed retries");
        }
    }

    #[test]
    fn a_schedule_backs_off_starts_over_for_a_new_address_and_ends_when_all_are_bound() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut r = Retry::default();
        assert_eq!(r.next(), None);
        // (at, still busy, a new address among them) -> next retry
        let steps = [
            (0, true, true, Some(ms(250))),
            (250, true, false, Some(ms(750))),
            (750, true, false, Some(ms(1750))),
            (1750, true, true, Some(ms(2000))),
            (2000, true, false, Some(ms(2500))),
            (2500, false, false, None),
            (3000, true, false, Some(ms(3250))),
        ];
        for (at, busy, grew, want) in steps {
            r.attempted(ms(at), busy, grew);
            assert_eq!(r.next(), want, "at {at} ms");
            if let Some(next) = want {
                assert!(!r.due(ms(at)) && r.due(next));
            }
        }
    }
}
