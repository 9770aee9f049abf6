//! The proxy's HTTP/1 client: how every forwarded request reaches its backend, on pooled
//! keep-alive connections ([`crate::upstream`]). The head is written and the response
//! read on the client connection's own task, with no connection task, channel or extra
//! wake-up in between, which hyper's client costs per request (the figure that calls for
//! this is in bench/RESULTS.md, "Figures behind design choices"). What it does beyond
//! writing a head and reading one back:
//!
//! - a request body ([`Upload`]) is written while the response head is awaited (a
//!   backend may answer before it has read the whole body), and, once the head is there,
//!   while the response body is read;
//! - response framing per RFC 9112 6.3: `Content-Length`, chunked (its trailer fields
//!   handed on, but for those no trailer may carry: [`headers::trailer_allowed`]),
//!   close-delimited, and no body for HEAD, 204 and 304; interim 1xx heads are skipped
//!   (at most [`MAX_INTERIM`]); every head that RFC 9112 does not let a proxy forward
//!   as it is is refused ([`H1Error::Malformed`], which the caller answers 502) or
//!   re-framed (`Content-Length` beside `Transfer-Encoding: chunked` is dropped), the
//!   rules of docs/proxy.md, "Malformed responses";
//! - the body bytes that came with the head are framed before the head is handed on
//!   ([`BackendBody::prime`]), so a body broken from its first byte is still a 502; a
//!   body that breaks later, before any byte of it was sent, lets the head out first
//!   (the client always gets a status line) and then closes the connection;
//! - a 101 to a request that asked for an upgrade ends the exchange: the connection is
//!   handed over whole ([`Conn::into_tunnel`]);
//! - a pooled connection is checked for a close by the backend without a system call
//!   ([`Conn::is_open`]), and an exchange that failed before a byte of it was written says
//!   so ([`ExchangeError::Unsent`]), so the request can go to another connection.

use crate::balancer::{Backend, ConnectError};
use crate::headers::{self, ForwardFields};
use crate::limits::Limits;
use crate::metrics::Counters;
use crate::upload::{Upload, UploadError};
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri, Version};
use hyper::body::{Body, Frame, SizeHint};
use std::future::poll_fn;
use std::io::ErrorKind;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;
/// Largest response head accepted (hyper's client allows about as much).
const MAX_HEAD: usize = 64 * 1024;
/// Most response header fields accepted (hyper's client default).
const MAX_HEADERS: usize = 100;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Most interim (1xx) heads skipped before the final one: a backend flooding them would
/// otherwise hold the request until the response timeout.
const MAX_INTERIM: usize = 16;

/// What went wrong on a backend connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum H1Error {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The backend closed the connection before a complete response.
    #[error("connection closed before the response was complete")]
    Closed,
    /// The backend sent something that is not HTTP/1.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

/// Why an exchange failed, and whose fault it was.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    /// Nothing of the request was written: it may go to another connection as it is.
    #[error("{0}")]
    Unsent(H1Error),
    /// The backend broke the exchange once the request was (partly) written.
    #[error("{0}")]
    Backend(H1Error),
    /// The client's request body failed.
    #[error("{0}")]
    Client(crate::body::BoxError),
}

impl From<UploadError> for ExchangeError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Client(e) => ExchangeError::Client(e),
            UploadError::Backend(e) => ExchangeError::Backend(e.into()),
        }
    }
}

/// One keep-alive connection to a backend, with the bytes read but not yet used.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    scratch: Box<[u8]>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("stream", &self.stream)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

/// A response head and how its body is framed.
#[derive(Debug)]
pub(crate) struct Head {
    /// Status, version and headers.
    pub(crate) parts: http::response::Parts,
    /// How the body ends.
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request afterwards.
    pub(crate) keep_alive: bool,
}

/// How a response body ends (RFC 9112, 6.3).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Framing {
    /// No body (HEAD, 204, 304).
    Empty,
    /// `Content-Length`: this many bytes left.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunk),
    /// Until the backend closes the connection.
    Close,
}

/// Where a chunked body decoder stands.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk: this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
}

/// What a response head parse gave.
enum Parsed {
    Need,
    Interim,
    Final(Head),
}

impl Conn {
    /// A new connection to `backend`.
    pub(crate) async fn connect(backend: &Backend, limits: &Limits) -> Result<Conn, ConnectError> {
        let stream = backend.connect(limits).await?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
        })
    }

    /// True when an idle connection is still open: no readiness since the last read
    /// drained the socket means no EOF (no syscall); otherwise one read tells.
    pub(crate) fn is_open(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == ErrorKind::WouldBlock)
            }
        }
    }

    /// Writes a request `head` (see [`encode_head`]) and the body of `upload`, if any,
    /// and reads the response head; an upload the backend answered before reading whole
    /// is left in `upload` (the response body goes on with it). With `upgrade`, a 101
    /// is a final answer.
    pub(crate) async fn exchange(
        &mut self,
        head: &[u8],
        method: &Method,
        upgrade: bool,
        upload: &mut Option<Upload>,
    ) -> Result<Head, ExchangeError> {
        self.buf.clear();
        self.write_head(head).await?;
        // a backend that answers before reading the whole body may close its end: its
        // answer can still be read
        let mut write_failed = None;
        let mut interim = 0;
        loop {
            match self.parse_head(method, upgrade) {
                Ok(Parsed::Final(mut head)) => {
                    head.keep_alive &= write_failed.is_none();
                    return Ok(head);
                }
                Ok(Parsed::Interim) if interim == MAX_INTERIM => {
                    let e = H1Error::Malformed("too many interim (1xx) responses");
                    return Err(ExchangeError::Backend(e));
                }
                Ok(Parsed::Interim) => {
                    interim += 1;
                    continue;
                }
                Ok(Parsed::Need) => {}
                Err(e) => return Err(ExchangeError::Backend(e)),
            }
            if self.buf.len() >= MAX_HEAD {
                let e = H1Error::Malformed("response head too large");
                return Err(ExchangeError::Backend(e));
            }
            let read = poll_fn(|cx| {
                if let Some(up) = upload.as_mut() {
                    match up.poll_send(&mut self.stream, cx) {
                        Poll::Ready(Ok(())) => *upload = None,
                        Poll::Ready(Err(UploadError::Backend(e))) => {
                            *upload = None;
                            write_failed = Some(e);
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                        Poll::Pending => {}
                    }
                }
                self.poll_fill(cx)
                    .map_err(|e| ExchangeError::Backend(e.into()))
            })
            .await;
            match (read, write_failed.take()) {
                (Ok(0), None) => return Err(ExchangeError::Backend(H1Error::Closed)),
                (Ok(0) | Err(_), Some(e)) => return Err(ExchangeError::Backend(e.into())),
                (Ok(_), failed) => write_failed = failed,
                (Err(e), None) => return Err(e),
            }
        }
    }

    /// Writes the request head; a failure before its first byte is [`ExchangeError::Unsent`].
    async fn write_head(&mut self, head: &[u8]) -> Result<(), ExchangeError> {
        let mut sent = 0;
        while sent < head.len() {
            let failed = match self.stream.write(&head[sent..]).await {
                Ok(0) => H1Error::Closed,
                Ok(n) => {
                    sent += n;
                    continue;
                }
                Err(e) => H1Error::Io(e),
            };
            return Err(match sent {
                0 => ExchangeError::Unsent(failed),
                _ => ExchangeError::Backend(failed),
            });
        }
        Ok(())
    }

    /// The socket and the bytes the backend sent after a 101's head: the two ends of a
    /// tunnel.
    pub(crate) fn into_tunnel(self) -> (TcpStream, BytesMut) {
        (self.stream, self.buf)
    }

    /// Reads once into the buffer; 0 at end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        // a short read into ReadBuf lets tokio clear the readiness, which is_open relies on
        let mut read = ReadBuf::new(&mut self.scratch);
        ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read))?;
        self.buf.extend_from_slice(read.filled());
        Poll::Ready(Ok(read.filled().len()))
    }

    fn parse_head(&mut self, method: &Method, upgrade: bool) -> Result<Parsed, H1Error> {
        // uninitialised fields: no 3 KiB of zeroes written per response
        let mut fields = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut resp,
            &self.buf,
            &mut fields,
        );
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(Parsed::Need),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(H1Error::Malformed("too many header fields"))
            }
            Err(_) => return Err(H1Error::Malformed("unparsable response head")),
        };
        // RFC 9110 15: a status is three digits, 100 to 599
        let status = resp
            .code
            .filter(|c| (100..=599).contains(c))
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or(H1Error::Malformed("bad status code"))?;
        let switching = status == StatusCode::SWITCHING_PROTOCOLS;
        if switching && !upgrade {
            return Err(H1Error::Malformed("101 to a request that asked no upgrade"));
        }
        if status.is_informational() && !switching {
            self.buf.advance(len);
            return Ok(Parsed::Interim);
        }
        let mut headers = HeaderMap::with_capacity(resp.headers.len());
        for field in resp.headers.iter() {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| H1Error::Malformed("bad header name"))?;
            let value = HeaderValue::from_bytes(field.value)
                .map_err(|_| H1Error::Malformed("bad header value"))?;
            headers.append(name, value);
        }
        let http11 = resp.version == Some(1);
        self.buf.advance(len);
        let (framing, keep_alive) = match switching {
            // the connection is the tunnel's from here on
            true => (Framing::Empty, false),
            false => {
                let (framing, reusable) = framing(method, status, http11, &mut headers)?;
                let keep_alive =
                    reusable && !matches!(framing, Framing::Close) && keeps_alive(http11, &headers);
                (framing, keep_alive)
            }
        };
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = status;
        parts.version = Version::HTTP_11;
        parts.headers = headers;
        Ok(Parsed::Final(Head {
            parts,
            framing,
            keep_alive,
        }))
    }
}

/// The request head for `method uri` with `headers` and then the `forwarded` fields, as
/// HTTP/1.1 (values in a `HeaderMap` are already valid: no CR, LF or NUL), and where its
/// request line ends.
pub(crate) fn encode_head(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    forwarded: &ForwardFields,
) -> (Vec<u8>, usize) {
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    // most heads fit, and it is still a small allocation for the allocator's fast path
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let line_end = out.len();
    for (name, value) in headers.iter().chain(forwarded.iter()) {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (out, line_end)
}

/// `head` (from [`encode_head`]) with a `Host` field of `host` after its request line,
/// which ends at `line_end`.
pub(crate) fn with_host(head: &[u8], line_end: usize, host: &HeaderValue) -> Vec<u8> {
    let (line, fields) = head.split_at(line_end);
    let mut out = Vec::with_capacity(head.len() + host.len() + 8);
    out.extend_from_slice(line);
    out.extend_from_slice(b"host: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(fields);
    out
}

/// How the body of a response is framed (RFC 9112 6.3), and whether the connection may
/// carry another exchange afterwards as far as the framing goes. The framing headers are
/// left as they are to be forwarded: `Content-Length` beside `Transfer-Encoding` is
/// removed (6.3, 3: the transfer coding wins, and an intermediary must drop the length),
/// repeated equal lengths become one. Refused: a transfer coding other than `chunked`
/// alone (the proxy does not decode others, and forwarding them without their header
/// would change the content), a length that is not digits, different lengths.
fn framing(
    method: &Method,
    status: StatusCode,
    http11: bool,
    headers: &mut HeaderMap,
) -> Result<(Framing, bool), H1Error> {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Framing::Empty, true));
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        let mut codings = headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(|t| t.trim_ascii())
            .filter(|t| !t.is_empty());
        let chunked = codings
            .next()
            .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
            && codings.next().is_none();
        if !chunked {
            return Err(H1Error::Malformed("unsupported transfer coding"));
        }
        // both framings at once may be an attempt at response splitting: forwarded as
        // chunked, and the connection is not used again; an HTTP/1.0 response with a
        // transfer coding is faulty framing as well (6.1)
        let reusable = headers.remove(header::CONTENT_LENGTH).is_none() && http11;
        return Ok((Framing::Chunked(Chunk::Size), reusable));
    }
    let mut length = None;
    let mut repeated = false;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let n = content_length(part.trim_ascii())?;
            if length.is_some_and(|l| l != n) {
                return Err(H1Error::Malformed("conflicting content-length"));
            }
            repeated |= length.is_some();
            length = Some(n);
        }
    }
    if let (true, Some(n)) = (repeated, length) {
        // the same length repeated: sent on as one
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    Ok(match length {
        Some(0) => (Framing::Empty, true),
        Some(n) => (Framing::Length(n), true),
        None => (Framing::Close, false),
    })
}

/// A `Content-Length` value: 1*DIGIT (so no sign, no space, no hex).
fn content_length(text: &[u8]) -> Result<u64, H1Error> {
    let bad = H1Error::Malformed("bad content-length");
    if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    text.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(bad)
}

fn keeps_alive(http11: bool, headers: &HeaderMap) -> bool {
    let has = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    match http11 {
        true => !has("close"),
        false => has("keep-alive"),
    }
}

/// One step of reading a body out of the buffer.
enum Step {
    Data(Bytes),
    Need,
    End,
    /// The end, with the trailer fields of a chunked body.
    Trailers(Box<HeaderMap>),
}

/// What a body holds for its next poll.
#[derive(Debug)]
enum Held {
    Nothing,
    /// Body bytes framed before the head was handed on ([`BackendBody::prime`]).
    Data(Bytes),
    /// The trailer fields of a body that ended before the head was handed on.
    Trailers(Box<HeaderMap>),
    /// An error held back one poll, so that hyper flushes what it has buffered (the
    /// head at least) before it closes the connection on it.
    Error(H1Error),
}

/// A response body read straight from a backend connection, which goes back to its
/// backend's pool once the body is complete (and the request's upload too).
#[derive(Debug)]
pub(crate) struct BackendBody {
    conn: Option<Conn>,
    framing: Framing,
    keep_alive: bool,
    done: bool,
    /// What the next poll gives before reading on.
    held: Held,
    /// The rest of a request body the backend answered before reading whole.
    upload: Option<Upload>,
    counters: Arc<Counters>,
    home: (Arc<Backend>, usize),
    /// The trailer fields of a chunked body read so far (boxed: most bodies have none,
    /// and every response moves this struct).
    trailers: Option<Box<HeaderMap>>,
}

impl BackendBody {
    /// The body framed by `framing`, read from `conn` while the rest of `upload` is written;
    /// `home` is the backend whose pool the connection goes back to and that pool's bound
    /// (a plain number: no shared count touched per request).
    pub(crate) fn new(
        conn: Conn,
        framing: Framing,
        keep_alive: bool,
        upload: Option<Upload>,
        counters: Arc<Counters>,
        home: (Arc<Backend>, usize),
    ) -> Self {
        let mut body = Self {
            conn: Some(conn),
            framing,
            keep_alive,
            done: false,
            held: Held::Nothing,
            upload,
            counters,
            home,
            trailers: None,
        };
        if matches!(body.framing, Framing::Empty) {
            body.finish();
        }
        body
    }

    /// Frames the body bytes that arrived with the head, before the head goes to the
    /// client: an error here can still be answered 502 instead of a response cut short.
    /// Costs nothing more than the first poll would (the same step, done earlier).
    pub(crate) fn prime(&mut self) -> Result<(), H1Error> {
        if self.done || self.conn.as_ref().is_none_or(|c| c.buf.is_empty()) {
            return Ok(());
        }
        match self.step()? {
            Step::Data(data) => {
                Counters::add(&self.counters.bytes_out, data.len() as u64);
                if self.complete() {
                    self.finish();
                }
                self.held = Held::Data(data);
            }
            Step::End => self.finish(),
            Step::Trailers(fields) => {
                self.finish();
                self.held = Held::Trailers(fields);
            }
            Step::Need => {}
        }
        Ok(())
    }

    /// Ends the body on `e`: the first time by waking itself and answering `Pending`
    /// (hyper then flushes the head and any body bytes it holds), the next time with
    /// the error, on which hyper closes the connection.
    fn fail(
        &mut self,
        e: H1Error,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        self.conn = None;
        self.held = Held::Error(e);
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Marks the body complete and pools the connection when it is clean: the response
    /// read to its end, the request written to its end.
    fn finish(&mut self) {
        self.done = true;
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && conn.buf.is_empty() && self.upload.is_none() {
                self.home.0.pool().put(conn, self.home.1);
            }
        }
    }

    /// Writes more of a pending upload, as far as the client and the backend allow,
    /// without reading the response.
    pub(crate) fn poll_upload(&mut self, cx: &mut Context<'_>) {
        let (Some(upload), Some(conn)) = (self.upload.as_mut(), self.conn.as_mut()) else {
            return;
        };
        match upload.poll_send(&mut conn.stream, cx) {
            Poll::Pending => {}
            Poll::Ready(Ok(())) => self.upload = None,
            Poll::Ready(Err(_)) => {
                // the backend got part of the request: its connection is not reused
                self.upload = None;
                self.keep_alive = false;
            }
        }
    }

    fn step(&mut self) -> Result<Step, H1Error> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Step::End);
        };
        let buf = &mut conn.buf;
        loop {
            match &mut self.framing {
                Framing::Empty => return Ok(Step::End),
                Framing::Length(left) => return Ok(take(buf, left).map_or(Step::Need, Step::Data)),
                Framing::Close if buf.is_empty() => return Ok(Step::Need),
                Framing::Close => return Ok(Step::Data(buf.split().freeze())),
                Framing::Chunked(state) => match *state {
                    Chunk::Data(mut left) => {
                        let data = take(buf, &mut left);
                        *state = if left == 0 {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data(left)
                        };
                        return Ok(data.map_or(Step::Need, Step::Data));
                    }
                    Chunk::DataEnd if buf.len() < 2 => return Ok(Step::Need),
                    Chunk::DataEnd if &buf[..2] == b"\r\n" => {
                        buf.advance(2);
                        *state = Chunk::Size;
                    }
                    Chunk::DataEnd => return Err(H1Error::Malformed("chunk without CRLF")),
                    Chunk::Size => {
                        let Some(line) = line(buf)? else {
                            return Ok(Step::Need);
                        };
                        let size = chunk_size(&line)?;
                        *state = if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        };
                    }
                    Chunk::Trailers => match line(buf)? {
                        None => return Ok(Step::Need),
                        Some(l) if l.is_empty() => {
                            self.framing = Framing::Empty;
                            // none left once those no trailer may carry are dropped: no
                            // trailers at all
                            return Ok(match self.trailers.take() {
                                Some(fields) if !fields.is_empty() => Step::Trailers(fields),
                                _ => Step::End,
                            });
                        }
                        Some(l) => trailer_field(&l, self.trailers.get_or_insert_default())?,
                    },
                },
            }
        }
    }

    /// True once no more bytes of the body are due.
    fn complete(&self) -> bool {
        matches!(self.framing, Framing::Empty | Framing::Length(0))
    }
}

/// Up to `left` bytes from the buffer.
fn take(buf: &mut BytesMut, left: &mut u64) -> Option<Bytes> {
    if buf.is_empty() || *left == 0 {
        return None;
    }
    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    *left -= n as u64;
    Some(buf.split_to(n).freeze())
}

/// One line (without CRLF) from the buffer, if a whole one is there.
fn line(buf: &mut BytesMut) -> Result<Option<Bytes>, H1Error> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let mut line = buf.split_to(end + 1).freeze();
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE => Err(H1Error::Malformed("chunk line too long")),
        None => Ok(None),
    }
}

/// Adds the trailer field on `line` to `fields`, unless it is malformed or of a kind no
/// trailer may carry (RFC 9110 6.5.1: a recipient may drop such a field).
fn trailer_field(line: &[u8], fields: &mut HeaderMap) -> Result<(), H1Error> {
    if fields.len() >= MAX_HEADERS {
        return Err(H1Error::Malformed("too many trailer fields"));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Ok(());
    };
    let value = line[colon + 1..].trim_ascii();
    let field = HeaderName::from_bytes(&line[..colon])
        .ok()
        .filter(headers::trailer_allowed)
        .zip(HeaderValue::from_bytes(value).ok());
    if let Some((name, value)) = field {
        fields.append(name, value);
    }
    Ok(())
}

fn chunk_size(line: &[u8]) -> Result<u64, H1Error> {
    let hex = line.split(|&b| b == b';').next().unwrap_or_default();
    let hex = std::str::from_utf8(hex)
        .map_err(|_| H1Error::Malformed("bad chunk size"))?
        .trim_matches([' ', '\t']);
    if hex.is_empty() || hex.len() > 16 {
        return Err(H1Error::Malformed("bad chunk size"));
    }
    u64::from_str_radix(hex, 16).map_err(|_| H1Error::Malformed("bad chunk size"))
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = H1Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        let this = &mut *self;
        match std::mem::replace(&mut this.held, Held::Nothing) {
            Held::Nothing => {}
            Held::Data(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
            Held::Trailers(fields) => return Poll::Ready(Some(Ok(Frame::trailers(*fields)))),
            Held::Error(e) => {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
        }
        this.poll_upload(cx);
        loop {
            match this.step() {
                Err(e) => return this.fail(e, cx),
                Ok(Step::Data(data)) => {
                    Counters::add(&this.counters.bytes_out, data.len() as u64);
                    // hyper stops polling a body that says it has ended
                    if this.complete() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::End) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Step::Trailers(fields)) => {
                    this.finish();
                    return Poll::Ready(Some(Ok(Frame::trailers(*fields))));
                }
                Ok(Step::Need) => {}
            }
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if matches!(this.framing, Framing::Close) => {
                    this.keep_alive = false;
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(0) => return this.fail(H1Error::Closed, cx),
                Ok(_) => {}
                Err(e) => return this.fail(e.into(), cx),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && matches!(self.held, Held::Nothing)
    }

    fn size_hint(&self) -> SizeHint {
        let pending = match &self.held {
            Held::Data(d) => d.len() as u64,
            _ => 0,
        };
        match self.framing {
            // trailers to come: no length, so that the body goes chunked to an HTTP/1
            // client, which has no other way to carry them
            _ if matches!(self.held, Held::Trailers(_)) => SizeHint::default(),
            _ if self.done => SizeHint::with_exact(pending),
            Framing::Empty => SizeHint::with_exact(pending),
            Framing::Length(left) => SizeHint::with_exact(left + pending),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_and_obs_fold_in_a_head_are_refused() {
        // what docs/proxy.md promises 502 for rests on the parser refusing them
        for head in [
            &b"HTTP/1.1 200 OK\r\nx: a\0b\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nx: a\x01b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nx: a\rb\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nx: a\r\n b\r\n\r\n",
        ] {
            let mut fields = [httparse::EMPTY_HEADER; 4];
            let parsed = httparse::Response::new(&mut fields).parse(head);
            assert!(parsed.is_err(), "{:?}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn chunk_lines_parse() {
        let mut buf = BytesMut::from(&b"1a;ext=1\r\nrest"[..]);
        let l = line(&mut buf).unwrap().unwrap();
        assert_eq!(chunk_size(&l).unwrap(), 26);
        assert_eq!(&buf[..], b"rest");
        assert!(chunk_size(b"zz").is_err());
        assert!(chunk_size(b"").is_err());
    }

    fn framed(headers: &[(&str, &str)]) -> (Result<(Framing, bool), H1Error>, HeaderMap) {
        let mut h = HeaderMap::new();
        for (name, value) in headers {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let framed = framing(&Method::GET, StatusCode::OK, true, &mut h);
        (framed, h)
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let cl = |v| framed(&[("content-length", v)]).0;
        assert!(matches!(cl("5"), Ok((Framing::Length(5), true))));
        assert!(matches!(cl("0"), Ok((Framing::Empty, true))));
        for bad in ["-1", "+5", " ", "0x5", "5 5", "99999999999999999999"] {
            assert!(cl(bad).is_err(), "{bad}");
        }
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("5"));
        assert!(matches!(
            framing(&Method::HEAD, StatusCode::OK, true, &mut h),
            Ok((Framing::Empty, true))
        ));
        // the same length twice is one; two lengths are refused
        let (same, h) = framed(&[("content-length", "5, 5"), ("content-length", "5")]);
        assert!(matches!(same, Ok((Framing::Length(5), true))));
        assert_eq!(h.get_all("content-length").iter().count(), 1);
        assert_eq!(h["content-length"], "5");
        assert!(framed(&[("content-length", "5"), ("content-length", "6")])
            .0
            .is_err());
        // chunked wins over a length, which is dropped, and the connection is not reused
        let (both, h) = framed(&[("content-length", "5"), ("transfer-encoding", "chunked")]);
        assert!(matches!(both, Ok((Framing::Chunked(_), false))));
        assert!(!h.contains_key("content-length"));
        let te = |v| framed(&[("transfer-encoding", v)]).0;
        assert!(matches!(te("Chunked"), Ok((Framing::Chunked(_), true))));
        for bad in ["gzip, chunked", "chunked, chunked", "gzip", "identity", ""] {
            assert!(te(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(framed(&[]).0, Ok((Framing::Close, false))));
    }
}
