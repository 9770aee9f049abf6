//! The daemon's HTTP API end to end: a real daemon, its Unix socket and its TCP
//! listener, driven through raw HTTP/1.1; what it reports checked against `lcc ps` and
//! the state files, what it changes seen by the CLI.

mod contract;
mod routes;
mod stream;
mod tcp;
