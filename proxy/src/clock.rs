//! A process-wide monotonic clock in milliseconds: a plain number, so times fit in atomics
//! shared by every worker (a backend's cool-down, a connection's idle start).

use std::sync::OnceLock;
use std::time::Instant;

/// Milliseconds since the first call in this process.
pub(crate) fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}
