//! Timeouts and size bounds of the proxy; the binary uses the defaults, tests shrink them.

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
    /// Time a backend has to send the response head once the request is sent; then 504.
    pub response_timeout: Duration,
    /// Time a TCP gateway session may pass with no byte in either direction.
    pub tcp_idle_timeout: Duration,
    /// Time a removed listener's open connections get to finish before they are cut.
    pub drain_timeout: Duration,
    /// How long a backend that refused a connection is tried last.
    pub backend_cooldown: Duration,
    /// Most backends tried for one request or connection.
    pub max_tries: usize,
    /// Most idle pooled connections kept per backend.
    pub max_idle_per_backend: usize,
    /// How long an idle pooled backend connection is kept.
    pub pool_idle_timeout: Duration,
    /// Interval of the config file poll that backs up file-system events.
    pub poll_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(15),
            max_head_bytes: 64 * 1024,
            connect_timeout: Duration::from_secs(3),
            response_timeout: Duration::from_secs(60),
            tcp_idle_timeout: Duration::from_secs(3600),
            drain_timeout: Duration::from_secs(10),
            backend_cooldown: Duration::from_secs(1),
            max_tries: 8,
            max_idle_per_backend: 512,
            pool_idle_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }
}
