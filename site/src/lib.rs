//! lcc-site: static sites for Local Cluster: fetch an archive safely and serve it.

mod cache;
mod download;
mod error;
mod extract;
mod fetch;
mod install;
mod names;
mod serve;
mod sha;
mod tree;

pub use cache::Cache;
pub use error::{ExtractError, FetchError, ServeError, Unowned};
pub use extract::{detect, extract, Format};
pub use fetch::{fetch, FetchOptions, Fetched};
pub use lcc_core::archive_source::Source;
pub use serve::{serve, ServeOptions};
