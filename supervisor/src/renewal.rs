//! When an ACME certificate is obtained or renewed, and how long a failed attempt waits
//! before the next: pure decisions over times, table-tested; `acme.rs` performs them.
//!
//! A certificate is renewed two thirds into its lifetime (Let's Encrypt's 90 days: at
//! day 60, leaving a month of retries before it expires). A failure is retried after
//! [`FIRST_RETRY`], doubling each time up to [`MAX_RETRY`], so that a CA that is down or
//! a challenge that cannot be reached does not run into the CA's rate limits.

use std::time::{Duration, SystemTime};

/// The wait after the first failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);
/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// The validity of a certificate held on disk for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

/// When a certificate valid over `v` is renewed: two thirds into its lifetime (at
/// `not_before` when the range is empty or reversed).
pub fn renew_at(v: Validity) -> SystemTime {
    let life = v.not_after.duration_since(v.not_before).unwrap_or_default();
    v.not_before + life * 2 / 3
}

/// How long to wait, at `now`, before asking the CA: none without a certificate for the
/// host, else until its renewal time.
pub fn wait(held: Option<Validity>, now: SystemTime) -> Duration {
    match held {
        None => Duration::ZERO,
        Some(v) => renew_at(v).duration_since(now).unwrap_or_default(),
    }
}

/// The wait after `failures` failed attempts in a row (1 for the first failure).
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn renewal_is_two_thirds_into_the_lifetime() {
        let day = 86_400;
        let cases = [
            // (not_before, not_after, renewal)
            (0, 90 * day, 60 * day),
            (1000, 1000 + 15, 1010),
            (1000, 1000, 1000),
            (1000, 10, 1000),
        ];
        for (nb, na, want) in cases {
            let v = Validity {
                not_before: at(nb),
                not_after: at(na),
            };
            assert_eq!(renew_at(v), at(want), "{nb}..{na}");
        }
    }

    #[test]
    fn the_wait_is_none_without_a_certificate_and_until_renewal_with_one() {
        let v = Validity {
            not_before: at(0),
            not_after: at(90),
        };
        let cases = [
            (None, 0, 0),
            (Some(v), 0, 60),
            (Some(v), 59, 1),
            (Some(v), 60, 0),
            (Some(v), 200, 0),
        ];
        for (held, now, want) in cases {
            assert_eq!(wait(held, at(now)), Duration::from_secs(want), "{now}");
        }
    }

    #[test]
    fn failures_back_off_doubling_up_to_an_hour() {
        let cases = [
            (0, 10),
            (1, 10),
            (2, 20),
            (3, 40),
            (6, 320),
            (9, 2560),
            (10, 3600),
            (1000, 3600),
        ];
        for (failures, secs) in cases {
            assert_eq!(backoff(failures), Duration::from_secs(secs), "{failures}");
        }
    }
}
