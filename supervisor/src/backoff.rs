//! Restart backoff: exponential from `initial` to `max`, and when a run resets it.

use std::time::Duration;

/// The delay before restart number `failures` (1 = after the first failure).
pub fn delay(failures: u32, initial_ms: u64, max_ms: u64) -> Duration {
    let shift = failures.saturating_sub(1).min(32);
    let ms = initial_ms
        .saturating_mul(1u64 << shift)
        .min(max_ms.max(initial_ms));
    Duration::from_millis(ms)
}

/// How long a run must stay ready before its failure count is forgotten:
/// `backoff.max`, at least 1 s and at most 10 s.
pub fn reset_after(max_ms: u64) -> Duration {
    Duration::from_millis(max_ms.clamp(1_000, 10_000))
}

/// Whether `failures` failures in a row make the instance Failed.
pub fn exhausted(failures: u32, max_retries: u32) -> bool {
    failures >= max_retries.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let d: Vec<u64> = (1..=6)
            .map(|n| delay(n, 100, 500).as_millis() as u64)
            .collect();
        assert_eq!(d, vec![100, 200, 400, 500, 500, 500]);
        assert_eq!(delay(200, 100, 500).as_millis(), 500);
    }

    #[test]
    fn reset_window_is_clamped() {
        assert_eq!(reset_after(100), Duration::from_secs(1));
        assert_eq!(reset_after(60_000), Duration::from_secs(10));
        assert_eq!(reset_after(3_000), Duration::from_secs(3));
    }

    #[test]
    fn exhaustion() {
        assert!(!exhausted(2, 3));
        assert!(exhausted(3, 3));
        assert!(exhausted(1, 0));
    }
}
