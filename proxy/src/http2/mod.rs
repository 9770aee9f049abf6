//! The proxy's HTTP/2 server: connections whose client chose `h2` by ALPN on the https
//! listener, and clients that start HTTP/2 with prior knowledge (h2c) on the http one.
//! Every request is routed and forwarded as for HTTP/1 (an HTTP/1.1 exchange with a
//! backend), and its stream's frames are written by the connection's task.
//!
//! Written for the proxy rather than taken from hyper's server (over the `h2` crate):
//! the `bench/https.sh` HTTP/2 target (100 streams on one connection against haproxy)
//! calls for it. The `h2` crate keeps its streams in a store shared with every stream
//! handle behind a lock and reference counts, queues every frame, and builds a request
//! and a response of its own types around the proxy's; that bookkeeping was most of the
//! proxy's CPU per request, and what the proxy needs of HTTP/2 is narrower: a server,
//! no push, no priorities, request bodies handed to one exchange each. Here a stream is
//! an entry in one map owned by the connection's task, its response head is encoded
//! into a buffer the connection keeps and framed into the output buffer, and its tasks
//! are polled by that task when woken ([`tasks`]). HPACK decoding is the `loona-hpack`
//! crate's. The figures are in
//! bench/RESULTS.md; docs/proxy.md says what the server takes and refuses.

mod conn;
mod frame;
mod hpack;
mod recv;
mod request;
mod tasks;

pub(crate) use conn::Connection;
pub(crate) use frame::PREFACE;
pub(crate) use recv::RecvBody;
