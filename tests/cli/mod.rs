//! The `lcc` command line: validation and compilation of manifests, path handling, the
//! cluster commands around a running daemon, and `lcc up` in the foreground.

mod cert;
mod cluster;
mod compile;
mod ls;
mod paths;
mod plan;
mod receive;
mod up;
mod validate;
