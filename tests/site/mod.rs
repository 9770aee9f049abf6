//! Static sites: `lcc fetch` (safe extraction, caching, what it may replace) and
//! `lcc serve-static`.

mod fetch;
mod serve;
