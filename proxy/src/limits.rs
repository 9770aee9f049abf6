//! Timeouts and size bounds of the proxy: the defaults (those of `proxy.conf`'s
//! `timeouts`, see [`Timeouts`]), overridden by the config's `timeouts`; tests shrink them
//! through [`crate::Options::limits`].

use lcc_core::proxy_config::{GatewayTimeouts, Timeouts};
use std::time::Duration;

/// Every timeout and bound the proxy enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time a client has to send a whole request head; also the idle time allowed on a
    /// keep-alive connection between requests (slowloris guard).
    pub header_read_timeout: Duration,
    /// Largest request head (request line plus headers) accepted; larger gets 431.
    pub max_head_bytes: usize,
    /// Time allowed for a TCP connect to a backend.
    pub connect_timeout: Duration,
    /// Time a backend has to send the response head, counted from the start of the
    /// request (upload included); then 504.
    pub response_timeout: Duration,
    /// Time a TCP gateway session may pass with no byte in either direction.
    pub tcp_idle_timeout: Duration,
    /// Time a removed listener's open connections get to finish before they are cut.
    pub drain_timeout: Duration,
    /// How long a backend that refused a connection is tried last.
    pub backend_cooldown: Duration,
    /// Most backends tried for one request or connection.
    pub max_tries: usize,
    /// Most idle pooled connections kept per backend (and worker).
    pub max_idle_per_backend: usize,
    /// How long an idle pooled backend connection is kept.
    pub pool_idle_timeout: Duration,
    /// Interval of the config file poll that backs up file-system events.
    pub poll_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Timeouts::HEADER_READ,
            max_head_bytes: 64 * 1024,
            connect_timeout: Timeouts::CONNECT,
            response_timeout: Timeouts::RESPONSE,
            tcp_idle_timeout: Timeouts::TCP_IDLE,
            drain_timeout: Timeouts::DRAIN,
            backend_cooldown: Duration::from_secs(1),
            max_tries: 8,
            max_idle_per_backend: 512,
            pool_idle_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl Limits {
    /// These limits with the timeouts a config sets in place of their own.
    pub(crate) fn with_timeouts(&self, timeouts: Option<&Timeouts>) -> Limits {
        let mut limits = self.clone();
        let Some(t) = timeouts else {
            return limits;
        };
        set(&mut limits.header_read_timeout, t.header_read_ms);
        set(&mut limits.connect_timeout, t.connect_ms);
        set(&mut limits.response_timeout, t.response_ms);
        set(&mut limits.tcp_idle_timeout, t.tcp_idle_ms);
        set(&mut limits.drain_timeout, t.drain_ms);
        limits
    }

    /// These limits with a gateway's own timeouts in place: `idle_ms` bounds both its
    /// pooled backend connections (HTTP) and its sessions (TCP).
    pub(crate) fn for_gateway(&self, t: &GatewayTimeouts) -> Limits {
        let mut limits = self.clone();
        set(&mut limits.connect_timeout, t.connect_ms);
        set(&mut limits.response_timeout, t.response_ms);
        set(&mut limits.pool_idle_timeout, t.idle_ms);
        set(&mut limits.tcp_idle_timeout, t.idle_ms);
        limits
    }
}

/// `slot` set to `ms` milliseconds, when a value is given.
fn set(slot: &mut Duration, ms: Option<u64>) {
    if let Some(ms) = ms {
        *slot = Duration::from_millis(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_overrides_only_the_timeouts_it_sets() {
        let base = Limits {
            response_timeout: Duration::from_millis(500),
            ..Limits::default()
        };
        let t = Timeouts {
            header_read_ms: Some(250),
            ..Timeouts::default()
        };
        let limits = base.with_timeouts(Some(&t));
        assert_eq!(limits.header_read_timeout, Duration::from_millis(250));
        assert_eq!(limits.response_timeout, Duration::from_millis(500));
        assert_eq!(limits.drain_timeout, Timeouts::DRAIN);
        let same = base.with_timeouts(None);
        assert_eq!(same.header_read_timeout, Timeouts::HEADER_READ);
        let gw = GatewayTimeouts {
            response_ms: Some(100),
            idle_ms: Some(200),
            ..GatewayTimeouts::default()
        };
        let own = limits.for_gateway(&gw);
        assert_eq!(own.response_timeout, Duration::from_millis(100));
        assert_eq!(own.pool_idle_timeout, Duration::from_millis(200));
        assert_eq!(own.tcp_idle_timeout, Duration::from_millis(200));
        assert_eq!(own.connect_timeout, limits.connect_timeout);
        assert_eq!(own.header_read_timeout, Duration::from_millis(250));
    }
}
