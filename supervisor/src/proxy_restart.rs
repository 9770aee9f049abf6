//! When the lcc-proxy child is started again after it exited: exponential backoff from
//! 200 ms, doubling up to 30 s, so a proxy that cannot run (a config it refuses, a binary
//! that fails) costs a few restarts a minute instead of five a second. A run that lasted
//! [`STEADY`] was a working proxy: its exit starts the schedule over.

use std::time::Duration;

/// The delay after a first exit.
pub const FIRST: Duration = Duration::from_millis(200);
/// The longest delay.
pub const CAP: Duration = Duration::from_secs(30);
/// A run at least this long resets the count of exits in a row.
pub const STEADY: Duration = Duration::from_secs(10);

/// The proxy exited after running for `ran`, having exited `in_a_row` times in a row
/// before: the new count, and how long to wait before starting it again.
pub fn after_exit(in_a_row: u32, ran: Duration) -> (u32, Duration) {
    let in_a_row = if ran >= STEADY {
        1
    } else {
        in_a_row.saturating_add(1)
    };
    let factor = 1u32.checked_shl(in_a_row - 1).unwrap_or(u32::MAX);
    let delay = FIRST.checked_mul(factor).map_or(CAP, |d| d.min(CAP));
    (in_a_row, delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_in_a_row_double_the_delay_up_to_30s_and_a_steady_run_starts_over() {
        let (ms, s) = (Duration::from_millis, Duration::from_secs);
        // (exits before, how long it ran) -> (exits now, delay)
        let cases = [
            ((0, ms(5)), (1, ms(200))),
            ((1, ms(5)), (2, ms(400))),
            ((2, s(1)), (3, ms(800))),
            ((3, ms(5)), (4, ms(1600))),
            ((6, ms(5)), (7, ms(12800))),
            ((7, ms(5)), (8, ms(25600))),
            ((8, ms(5)), (9, s(30))),
            ((40, ms(5)), (41, s(30))),
            ((u32::MAX, ms(5)), (u32::MAX, s(30))),
            ((9, s(9)), (10, s(30))),
            ((9, s(10)), (1, ms(200))),
            ((0, s(3600)), (1, ms(200))),
        ];
        for ((before, ran), want) in cases {
            assert_eq!(after_exit(before, ran), want, "{before} exits, ran {ran:?}");
        }
    }
}
