//! One HTTP/2 connection, served on its own task: frames read and answered, each
//! request routed and forwarded as an HTTP/1.1 one by the proxy's exchange, its response
//! written back within the client's windows. What every wake-up does, in order: read
//! and handle every frame that came; poll the stream tasks that were woken (a backend's
//! answer, a body's next piece); give back the window of request bodies read; write
//! everything that is due in one go.

use super::frame::{self, flag, Head, Kind, Reason, Setting, HEAD_LEN};
use super::hpack;
use super::recv::{Piece, RecvBody, RecvError, Released};
use super::request::{content_length, Fields};
use super::tasks::Tasks;
use crate::body::{BoxError, DownBody, UpBody};
use crate::conn::{self, ConnCtx};
use crate::forward::Handling;
use crate::idle::{Idle, Tracked};
use crate::respond;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use hyper::body::{Body, Frame};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Streams a client may have open at once.
pub(crate) const MAX_STREAMS: usize = 256;
/// The window a request body starts with.
const STREAM_WINDOW: u32 = 256 * 1024;
/// The window all request bodies of a connection share.
const CONN_WINDOW: u32 = 1024 * 1024;
/// The input buffer: the largest frame this server takes, and as much again.
const INPUT: usize = 2 * (HEAD_LEN + frame::DEFAULT_MAX_FRAME);
/// Output held before the connection stops reading and polling its streams.
const HIGH_WATER: usize = 256 * 1024;
/// Rounds of reading, polling and writing in one poll before yielding to other tasks.
const ROUNDS: usize = 16;
/// Exchanges cancelled by a reset (the client's, or this server's for the client's
/// error) before the ratio to the backends' answers is looked at.
const RESETS_ALLOWED: u64 = 100;
/// Pieces of request bodies a connection holds for their exchanges: more means a client
/// sending tiny DATA frames faster than its backends read, each piece costing far more
/// memory than the bytes the windows count. One read holds at most about 3,300 frames.
const MAX_PIECES: u32 = 8192;
/// CONTINUATION frames one header block may take (empty ones included).
const MAX_CONTINUATIONS: usize = 128;

/// A stream's task and the stream it works for.
struct Entry {
    id: u32,
    task: Task,
}

/// The work of one stream, in its slot of [`Tasks`].
// a body is what nearly every stream's slot holds, and slots are reused: boxing it would
// be an allocation per response
#[allow(clippy::large_enum_variant)]
enum Task {
    /// The exchange, until the backend's response head.
    Answer(conn::Answering),
    /// The response body, polled for one piece at a time.
    Body(Tracked<DownBody>),
}

/// What a task yields: handled at once, never stored.
#[allow(clippy::large_enum_variant)]
enum Done {
    Head(Response<Tracked<DownBody>>),
    Piece(Option<Result<Frame<Bytes>, BoxError>>),
}

impl Task {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Done> {
        match self {
            Task::Answer(fut) => fut.as_mut().poll(cx).map(|Ok(resp)| Done::Head(resp)),
            Task::Body(body) => Pin::new(body).poll_frame(cx).map(Done::Piece),
        }
    }
}

/// The request side of a stream.
#[derive(Debug)]
enum Recv {
    /// Its body is coming (its exchange's end dropped: the rest is thrown away).
    Open {
        tx: UnboundedSender<Piece>,
        length: Option<u64>,
        received: u64,
    },
    /// The client ended it.
    Closed,
}

/// The response side of a stream.
#[derive(Debug)]
enum Sending {
    /// The exchange is in its task.
    Waiting,
    /// The body is in its task, polled whenever the windows allow.
    Streaming,
    /// A piece of the body waits for the client's window.
    Blocked { data: Bytes, end: bool },
}

#[derive(Debug)]
struct Stream {
    recv: Recv,
    send: Sending,
    /// Its task's slot.
    slot: usize,
    /// Forwarded to a backend (not answered by the proxy itself).
    forwarded: bool,
    /// What this server may still send on it.
    send_window: i64,
    /// What the client may still send on it.
    recv_window: i64,
}

/// What the connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the client's preface.
    Preface,
    /// Waiting for the client's first SETTINGS.
    Settings,
    Open,
    /// GOAWAY sent (or received): no new stream, the open ones are finished.
    Draining,
    /// A connection error: the GOAWAY is written, then the connection closes.
    Closing,
}

/// A failure that ends the connection.
#[derive(Debug)]
struct ConnError(Reason, &'static str);

/// A header block awaiting its CONTINUATION frames.
#[derive(Debug)]
struct Block {
    stream: u32,
    end_stream: bool,
    refused: Option<Reason>,
    bytes: Vec<u8>,
    /// CONTINUATION frames so far.
    frames: usize,
}

/// The connection.
pub(crate) struct Connection<S> {
    io: S,
    ctx: Arc<ConnCtx>,
    idle: Arc<Idle>,
    input: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    sent: usize,
    scratch: Vec<u8>,
    decoder: loona_hpack::Decoder<'static>,
    /// A smaller table the client asked for, to announce in the next block (RFC 7541, 4.2).
    table_update: Option<usize>,
    streams: HashMap<u32, Stream>,
    tasks: Tasks<Entry>,
    /// Streams waiting for the connection's window.
    blocked: Vec<u32>,
    send_window: i64,
    recv_window: i64,
    initial_window: i64,
    max_frame: usize,
    last_id: u32,
    phase: Phase,
    block: Option<Block>,
    release_tx: UnboundedSender<Released>,
    release_rx: UnboundedReceiver<Released>,
    /// Exchanges cancelled by resets, and answers from backends.
    resets: u64,
    answered: u64,
    /// Request body pieces handed to exchanges and not read yet.
    pieces: u32,
    /// This server sent GOAWAY: streams past it are not taken.
    goaway_sent: bool,
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("phase", &self.phase)
            .field("streams", &self.streams.len())
            .field("last_id", &self.last_id)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Serves `io`, whose client chose HTTP/2.
    pub(crate) fn new(io: S, ctx: Arc<ConnCtx>, idle: Arc<Idle>) -> Self {
        let max_list = ctx.limits.max_head_bytes;
        let (release_tx, release_rx) = unbounded_channel();
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(4096);
        let mut out = Vec::with_capacity(1024);
        frame::settings(
            &mut out,
            &[
                Setting::MaxConcurrentStreams(MAX_STREAMS as u32),
                Setting::InitialWindowSize(STREAM_WINDOW),
                Setting::MaxHeaderListSize(u32::try_from(max_list).unwrap_or(u32::MAX)),
            ],
        );
        frame::window_update(&mut out, 0, CONN_WINDOW - frame::DEFAULT_WINDOW);
        Self {
            io,
            ctx,
            idle,
            input: vec![0; INPUT],
            start: 0,
            end: 0,
            out,
            sent: 0,
            scratch: Vec::with_capacity(512),
            decoder,
            table_update: None,
            streams: HashMap::new(),
            tasks: Tasks::default(),
            blocked: Vec::new(),
            send_window: i64::from(frame::DEFAULT_WINDOW),
            recv_window: i64::from(CONN_WINDOW),
            initial_window: i64::from(frame::DEFAULT_WINDOW),
            max_frame: frame::DEFAULT_MAX_FRAME,
            last_id: 0,
            phase: Phase::Preface,
            block: None,
            release_tx,
            release_rx,
            resets: 0,
            answered: 0,
            pieces: 0,
            goaway_sent: false,
        }
    }

    /// Stops taking streams: a GOAWAY names the last one taken, those finish, then the
    /// connection closes.
    pub(crate) fn finish(&mut self) {
        if !self.goaway_sent && self.phase != Phase::Closing {
            frame::goaway(&mut self.out, self.last_id, Reason::NoError, "");
            self.goaway_sent = true;
            self.phase = Phase::Draining;
        }
    }

    fn fail(&mut self, e: ConnError) {
        if self.phase == Phase::Closing {
            return;
        }
        tracing::debug!("HTTP/2 connection error {:?}: {}", e.0, e.1);
        frame::goaway(&mut self.out, self.last_id, e.0, e.1);
        self.phase = Phase::Closing;
        self.block = None;
        for (_, stream) in self.streams.drain() {
            if let Recv::Open { tx, .. } = stream.recv {
                let _ = tx.send(Piece::Failed(RecvError::Closed));
            }
            self.tasks.remove(stream.slot);
        }
    }

    /// Reads what the socket has and handles every whole frame of it. Ready(false) at
    /// the end of the input.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<bool>> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.input.len() - self.end < HEAD_LEN + frame::DEFAULT_MAX_FRAME {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let mut buf = ReadBuf::new(&mut self.input[self.end..]);
        match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n == 0 {
                    return Poll::Ready(Ok(false));
                }
                self.end += n;
                if let Err(e) = self.frames() {
                    self.fail(e);
                }
                Poll::Ready(Ok(true))
            }
        }
    }

    /// Handles the whole frames in the input buffer.
    fn frames(&mut self) -> Result<(), ConnError> {
        if self.phase == Phase::Preface {
            let have = self.end - self.start;
            let n = have.min(frame::PREFACE.len());
            if self.input[self.start..self.start + n] != frame::PREFACE[..n] {
                return Err(ConnError(Reason::Protocol, "not the HTTP/2 preface"));
            }
            if n < frame::PREFACE.len() {
                return Ok(());
            }
            self.start += n;
            self.phase = Phase::Settings;
        }
        while self.phase != Phase::Closing && self.end - self.start >= HEAD_LEN {
            let head_bytes: &[u8; HEAD_LEN] = self.input[self.start..self.start + HEAD_LEN]
                .try_into()
                .map_err(|_| ConnError(Reason::Internal, "frame head"))?;
            let h = Head::parse(head_bytes);
            if h.len > frame::DEFAULT_MAX_FRAME {
                return Err(ConnError(Reason::FrameSize, "frame larger than allowed"));
            }
            if self.end - self.start < HEAD_LEN + h.len {
                break;
            }
            let at = self.start + HEAD_LEN;
            self.start = at + h.len;
            // the payload is copied out only by the frames that keep it
            let payload = std::mem::take(&mut self.input);
            let result = self.frame(h, &payload[at..at + h.len]);
            self.input = payload;
            result?;
            // streams opened and cancelled at once cost a backend exchange each
            // (CVE-2023-44487, and CVE-2025-8671 for the resets a client provokes)
            if self.resets > RESETS_ALLOWED && self.resets > self.answered {
                return Err(ConnError(Reason::EnhanceYourCalm, "too many streams reset"));
            }
        }
        Ok(())
    }

    fn frame(&mut self, h: Head, payload: &[u8]) -> Result<(), ConnError> {
        if self.phase == Phase::Settings {
            if h.kind != Kind::Settings || h.has(flag::ACK) {
                return Err(ConnError(
                    Reason::Protocol,
                    "the first frame was not SETTINGS",
                ));
            }
            self.phase = Phase::Open;
        }
        if let Some(block) = &self.block {
            if h.kind != Kind::Continuation || h.stream != block.stream {
                return Err(ConnError(Reason::Protocol, "a header block was cut"));
            }
        }
        match h.kind {
            Kind::Data => self.data(h, payload),
            Kind::Headers => self.headers(h, payload),
            Kind::Continuation => self.continuation(h, payload),
            Kind::Priority => {
                if h.stream == 0 {
                    return Err(ConnError(Reason::Protocol, "PRIORITY on stream 0"));
                }
                match (h.len, h.stream > self.last_id) {
                    (5, _) => {}
                    // no RST_STREAM may name an idle stream (RFC 9113, 5.1)
                    (_, true) => {
                        return Err(ConnError(Reason::FrameSize, "PRIORITY of a wrong size"));
                    }
                    (_, false) => self.reset(h.stream, Reason::FrameSize),
                }
                Ok(())
            }
            Kind::RstStream => self.rst_stream(h, payload),
            Kind::Settings => self.settings(h, payload),
            Kind::PushPromise => Err(ConnError(Reason::Protocol, "PUSH_PROMISE from a client")),
            Kind::Ping => {
                if h.stream != 0 {
                    return Err(ConnError(Reason::Protocol, "PING on a stream"));
                }
                if h.len != 8 {
                    return Err(ConnError(Reason::FrameSize, "PING of a wrong size"));
                }
                if !h.has(flag::ACK) {
                    frame::ping_ack(&mut self.out, payload);
                }
                Ok(())
            }
            Kind::GoAway => {
                if h.stream != 0 {
                    return Err(ConnError(Reason::Protocol, "GOAWAY on a stream"));
                }
                if h.len < 8 {
                    return Err(ConnError(Reason::FrameSize, "GOAWAY too short"));
                }
                if self.phase == Phase::Open {
                    self.phase = Phase::Draining;
                }
                Ok(())
            }
            Kind::WindowUpdate => self.window_update(h, payload),
            Kind::Unknown(_) => Ok(()),
        }
    }

    fn settings(&mut self, h: Head, payload: &[u8]) -> Result<(), ConnError> {
        if h.stream != 0 {
            return Err(ConnError(Reason::Protocol, "SETTINGS on a stream"));
        }
        if h.has(flag::ACK) {
            return match h.len {
                0 => Ok(()),
                _ => Err(ConnError(Reason::FrameSize, "SETTINGS ack with a payload")),
            };
        }
        if h.len % 6 != 0 {
            return Err(ConnError(Reason::FrameSize, "SETTINGS of a wrong size"));
        }
        // the last INITIAL_WINDOW_SIZE of the frame is the one in force: applied once
        let mut window = None;
        for setting in Setting::parse_all(payload) {
            match setting {
                Setting::HeaderTableSize(size) => {
                    // the encoder indexes nothing: only a smaller table need be told
                    // the smallest size since the last block is the one to tell (RFC
                    // 7541, 4.2)
                    let size = usize::try_from(size).unwrap_or(usize::MAX);
                    if size < 4096 {
                        self.table_update = Some(self.table_update.map_or(size, |u| u.min(size)));
                    }
                }
                Setting::EnablePush(v) if v > 1 => {
                    return Err(ConnError(Reason::Protocol, "ENABLE_PUSH neither 0 nor 1"));
                }
                Setting::InitialWindowSize(v) => {
                    if v > frame::MAX_WINDOW {
                        return Err(ConnError(
                            Reason::FlowControl,
                            "INITIAL_WINDOW_SIZE too large",
                        ));
                    }
                    window = Some(v);
                }
                Setting::MaxFrameSize(v) => {
                    if !(16_384..=16_777_215).contains(&v) {
                        return Err(ConnError(Reason::Protocol, "MAX_FRAME_SIZE out of range"));
                    }
                    self.max_frame = usize::try_from(v).unwrap_or(frame::DEFAULT_MAX_FRAME);
                }
                _ => {}
            }
        }
        if let Some(v) = window {
            let delta = i64::from(v) - self.initial_window;
            self.initial_window = i64::from(v);
            // a stream waiting for its window is in `blocked` already
            for stream in self.streams.values_mut() {
                stream.send_window += delta;
                if stream.send_window > i64::from(frame::MAX_WINDOW) {
                    return Err(ConnError(Reason::FlowControl, "a stream window overflowed"));
                }
            }
        }
        frame::settings_ack(&mut self.out);
        Ok(())
    }

    fn window_update(&mut self, h: Head, payload: &[u8]) -> Result<(), ConnError> {
        let Ok(bytes) = <[u8; 4]>::try_from(payload) else {
            return Err(ConnError(
                Reason::FrameSize,
                "WINDOW_UPDATE of a wrong size",
            ));
        };
        let increment = i64::from(u32::from_be_bytes(bytes) & frame::MAX_WINDOW);
        if h.stream == 0 {
            if increment == 0 {
                return Err(ConnError(Reason::Protocol, "WINDOW_UPDATE of 0"));
            }
            self.send_window += increment;
            if self.send_window > i64::from(frame::MAX_WINDOW) {
                return Err(ConnError(
                    Reason::FlowControl,
                    "connection window overflowed",
                ));
            }
            return Ok(());
        }
        if h.stream > self.last_id {
            return Err(ConnError(
                Reason::Protocol,
                "WINDOW_UPDATE on an idle stream",
            ));
        }
        let Some(stream) = self.streams.get_mut(&h.stream) else {
            return Ok(());
        };
        if increment == 0 {
            self.reset(h.stream, Reason::Protocol);
            return Ok(());
        }
        stream.send_window += increment;
        if stream.send_window > i64::from(frame::MAX_WINDOW) {
            self.reset(h.stream, Reason::FlowControl);
            return Ok(());
        }
        Ok(())
    }

    fn rst_stream(&mut self, h: Head, payload: &[u8]) -> Result<(), ConnError> {
        if payload.len() != 4 {
            return Err(ConnError(Reason::FrameSize, "RST_STREAM of a wrong size"));
        }
        if h.stream == 0 || h.stream > self.last_id {
            return Err(ConnError(Reason::Protocol, "RST_STREAM on an idle stream"));
        }
        self.forget(h.stream);
        Ok(())
    }

    fn data(&mut self, h: Head, payload: &[u8]) -> Result<(), ConnError> {
        if h.stream == 0 {
            return Err(ConnError(Reason::Protocol, "DATA on stream 0"));
        }
        let len = h.len as i64;
        if len > self.recv_window {
            return Err(ConnError(
                Reason::FlowControl,
                "DATA beyond the connection window",
            ));
        }
        self.recv_window -= len;
        let Some(data) = frame::unpadded(h, payload) else {
            return Err(ConnError(Reason::Protocol, "padding longer than the frame"));
        };
        if h.stream > self.last_id {
            return Err(ConnError(Reason::Protocol, "DATA on an idle stream"));
        }
        let end = h.has(flag::END_STREAM);
        let Some(stream) = self.streams.get_mut(&h.stream) else {
            // a stream closed or reset: frames the client sent before it knew are
            // ignored (RFC 9113, 5.1), their bytes given back to the connection
            self.give_back(0, h.len);
            return Ok(());
        };
        let Recv::Open {
            tx,
            length,
            received,
        } = &mut stream.recv
        else {
            self.give_back(0, h.len);
            self.reset(h.stream, Reason::StreamClosed);
            return Ok(());
        };
        if self.pieces >= MAX_PIECES && !data.is_empty() {
            self.give_back(0, h.len);
            self.reset(h.stream, Reason::EnhanceYourCalm);
            return Ok(());
        }
        if len > stream.recv_window {
            self.give_back(0, h.len);
            self.reset(h.stream, Reason::FlowControl);
            return Ok(());
        }
        stream.recv_window -= len;
        *received += data.len() as u64;
        let too_long = length.is_some_and(|l| *received > l);
        let too_short = end && length.is_some_and(|l| *received != l);
        if too_long || too_short {
            let _ = tx.send(Piece::Failed(RecvError::Length));
            self.give_back(0, h.len);
            self.reset(h.stream, Reason::Protocol);
            return Ok(());
        }
        // padding and an empty frame are given back at once; data when it is read
        let padding = h.len - data.len();
        let delivered = data.is_empty()
            || tx.send(Piece::Data(Bytes::copy_from_slice(data))).is_ok() && {
                self.pieces += 1;
                true
            };
        let back = if delivered { padding } else { h.len };
        if back > 0 {
            self.give_back(h.stream, back);
        }
        if end {
            self.close_recv(h.stream);
        }
        Ok(())
    }

    fn headers(&mut self, h: Head, payload: &[u8]) -> Result<(), ConnError> {
        if h.stream == 0 || h.stream % 2 == 0 {
            return Err(ConnError(
                Reason::Protocol,
                "HEADERS on a stream a client may not open",
            ));
        }
        let Some(mut block) = frame::unpadded(h, payload) else {
            return Err(ConnError(Reason::Protocol, "padding longer than the frame"));
        };
        let mut refused = None;
        if h.has(flag::PRIORITY) {
            if block.len() < 5 {
                return Err(ConnError(
                    Reason::FrameSize,
                    "HEADERS too short for its priority",
                ));
            }
            let dependency =
                u32::from_be_bytes([block[0], block[1], block[2], block[3]]) & frame::MAX_WINDOW;
            if dependency == h.stream {
                refused = Some(Reason::Protocol);
            }
            block = &block[5..];
        }
        let end_stream = h.has(flag::END_STREAM);
        if h.has(flag::END_HEADERS) {
            return self.header_block(h.stream, end_stream, refused, block);
        }
        self.block = Some(Block {
            stream: h.stream,
            end_stream,
            refused,
            bytes: block.to_vec(),
            frames: 0,
        });
        Ok(())
    }

    fn continuation(&mut self, h: Head, payload: &[u8]) -> Result<(), ConnError> {
        let Some(block) = self.block.as_mut() else {
            return Err(ConnError(Reason::Protocol, "CONTINUATION without HEADERS"));
        };
        block.bytes.extend_from_slice(payload);
        block.frames += 1;
        // a flood of CONTINUATION frames, empty or not, is not kept
        if block.bytes.len() > (4 * self.ctx.limits.max_head_bytes).max(64 * 1024)
            || block.frames > MAX_CONTINUATIONS
        {
            return Err(ConnError(Reason::EnhanceYourCalm, "header block too large"));
        }
        if !h.has(flag::END_HEADERS) {
            return Ok(());
        }
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        self.header_block(block.stream, block.end_stream, block.refused, &block.bytes)
    }

    /// A whole header block: a new request, or the trailers of one.
    fn header_block(
        &mut self,
        id: u32,
        end_stream: bool,
        refused: Option<Reason>,
        block: &[u8],
    ) -> Result<(), ConnError> {
        let mut fields = Fields::new(self.ctx.limits.max_head_bytes);
        self.decoder
            .decode_with_cb(block, |n, v| fields.push(&n, &v))
            .map_err(|_| ConnError(Reason::Compression, "header block not decodable"))?;
        if self.streams.contains_key(&id) {
            return self.trailers(id, end_stream, fields);
        }
        if id <= self.last_id {
            // closed, perhaps reset by this server while the client sent this: ignored
            // (RFC 9113, 5.1)
            return Ok(());
        }
        if self.goaway_sent {
            // past the GOAWAY's last stream: not taken, the client sends it elsewhere
            return Ok(());
        }
        self.last_id = id;
        if self.phase != Phase::Open {
            // the client said GOAWAY and opens a stream still
            self.reset(id, Reason::RefusedStream);
            return Ok(());
        }
        if let Some(reason) = refused {
            self.reset(id, reason);
            return Ok(());
        }
        if self.streams.len() >= MAX_STREAMS {
            self.reset(id, Reason::RefusedStream);
            return Ok(());
        }
        let too_large = fields.too_large();
        let req = match fields.request() {
            Ok(req) => req,
            Err(e) => {
                tracing::debug!("HTTP/2 stream {id}: malformed request: {e}");
                self.reset(id, Reason::Protocol);
                return Ok(());
            }
        };
        let length = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(content_length);
        if end_stream && length.is_some_and(|l| l > 0) {
            self.reset(id, Reason::Protocol);
            return Ok(());
        }
        let (recv, body) = match end_stream {
            true => (Recv::Closed, RecvBody::empty()),
            false => {
                let (tx, rx) = unbounded_channel();
                let body = RecvBody::new(id, rx, self.release_tx.clone(), length);
                let recv = Recv::Open {
                    tx,
                    length,
                    received: 0,
                };
                (recv, body)
            }
        };
        let expects = !end_stream
            && req
                .headers()
                .get(http::header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects {
            // the body is taken whatever the answer: the client need not wait for it
            self.head(
                id,
                Some(StatusCode::CONTINUE),
                &http::HeaderMap::new(),
                false,
            );
        }
        let busy = self.idle.begin();
        let req = req.map(|()| UpBody::Right(body));
        let handling = if too_large {
            let why = "request header fields too large";
            respond::text(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, why).into()
        } else if req.method() == Method::CONNECT {
            let why = "CONNECT is not taken over HTTP/2";
            respond::text(StatusCode::NOT_IMPLEMENTED, why).into()
        } else {
            conn::handle(req, &self.ctx)
        };
        let forwarded = matches!(handling, Handling::Forward(_));
        // the proxy's own answers are rare: they take the same way as a backend's
        let task = conn::answering(handling, busy, &self.ctx);
        let slot = self.tasks.insert(Entry {
            id,
            task: Task::Answer(task),
        });
        let stream = Stream {
            recv,
            send: Sending::Waiting,
            slot,
            forwarded,
            send_window: self.initial_window,
            recv_window: i64::from(STREAM_WINDOW),
        };
        self.streams.insert(id, stream);
        Ok(())
    }

    /// The trailers of a request body.
    fn trailers(&mut self, id: u32, end_stream: bool, fields: Fields) -> Result<(), ConnError> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        let Recv::Open {
            tx,
            length,
            received,
            ..
        } = &stream.recv
        else {
            self.reset(id, Reason::StreamClosed);
            return Ok(());
        };
        let trailers = match fields.trailers() {
            Ok(t) if end_stream && length.is_none_or(|l| l == *received) => t,
            _ => {
                let _ = tx.send(Piece::Failed(RecvError::Length));
                self.reset(id, Reason::Protocol);
                return Ok(());
            }
        };
        let _ = tx.send(Piece::Trailers(trailers));
        self.close_recv(id);
        Ok(())
    }

    /// The client ended its side of `id`.
    fn close_recv(&mut self, id: u32) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        // dropping the sender ends the body
        stream.recv = Recv::Closed;
    }

    /// A stream error: the stream is reset and forgotten.
    fn reset(&mut self, id: u32, reason: Reason) {
        frame::rst_stream(&mut self.out, id, reason);
        self.forget(id);
    }

    /// A reset stream (by the client or by this server) is forgotten: its request body
    /// fails, its task is dropped, and a forwarded exchange still waiting counts
    /// towards the reset flood limit.
    fn forget(&mut self, id: u32) {
        if let Some(stream) = self.streams.remove(&id) {
            self.resets += u64::from(stream.forwarded && matches!(stream.send, Sending::Waiting));
            if let Recv::Open { tx, .. } = stream.recv {
                let _ = tx.send(Piece::Failed(RecvError::Reset));
            }
            self.tasks.remove(stream.slot);
        }
    }

    /// Opens `bytes` of the connection's window again, and of `stream`'s if it is not 0
    /// and still receives.
    fn give_back(&mut self, stream: u32, bytes: usize) {
        let Ok(n) = u32::try_from(bytes) else {
            return;
        };
        if n == 0 {
            return;
        }
        self.recv_window += i64::from(n);
        frame::window_update(&mut self.out, 0, n);
        if let Some(s) = self.streams.get_mut(&stream) {
            if matches!(s.recv, Recv::Open { .. }) {
                s.recv_window += i64::from(n);
                frame::window_update(&mut self.out, stream, n);
            }
        }
    }

    /// Writes the head of a response, and polls its body from now on.
    fn respond(&mut self, id: u32, resp: Response<Tracked<DownBody>>) {
        let (parts, body) = resp.into_parts();
        let end = body.is_end_stream();
        self.head(id, Some(parts.status), &parts.headers, end);
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        // the proxy's own answers give no credit against resets: they cost nothing
        self.answered += u64::from(stream.forwarded);
        if end {
            self.end_send(id);
            return;
        }
        stream.send = Sending::Streaming;
        self.tasks.replace(
            stream.slot,
            Entry {
                id,
                task: Task::Body(body),
            },
        );
    }

    /// Writes a header block on `id`: a response head (or an interim one) with its
    /// `status`, trailers without.
    fn head(&mut self, id: u32, status: Option<StatusCode>, headers: &http::HeaderMap, end: bool) {
        self.scratch.clear();
        if let Some(size) = self.table_update.take() {
            hpack::table_size_update(&mut self.scratch, size);
        }
        match status {
            Some(status) => hpack::encode_response(&mut self.scratch, status, headers),
            None => hpack::encode_fields(&mut self.scratch, headers),
        }
        frame::headers(&mut self.out, id, &self.scratch, end, self.max_frame);
    }

    /// This server ended its side of `id`: the stream and its task are done.
    fn end_send(&mut self, id: u32) {
        let Some(stream) = self.streams.remove(&id) else {
            return;
        };
        self.tasks.remove(stream.slot);
        if let Recv::Open { .. } = stream.recv {
            // answered before the request's end: the client need not send the rest
            // (RFC 9113, 8.1)
            frame::rst_stream(&mut self.out, id, Reason::NoError);
        }
    }

    /// Writes what the windows allow of `data`; what is left waits for them.
    fn send_data(&mut self, id: u32, mut data: Bytes, end: bool) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        loop {
            let window = stream.send_window.min(self.send_window).max(0) as usize;
            let n = data.len().min(window).min(self.max_frame);
            if n == 0 && !data.is_empty() {
                stream.send = Sending::Blocked { data, end };
                if !self.blocked.contains(&id) {
                    self.blocked.push(id);
                }
                return;
            }
            let piece = data.split_to(n);
            let last = data.is_empty();
            frame::data(&mut self.out, id, &piece, end && last);
            stream.send_window -= n as i64;
            self.send_window -= n as i64;
            if last {
                break;
            }
        }
        if end {
            self.end_send(id);
        } else {
            stream.send = Sending::Streaming;
            self.tasks.wake(stream.slot);
        }
    }

    /// Sends what waited for windows that have opened since.
    fn unblock(&mut self) {
        if self.blocked.is_empty() || self.send_window <= 0 {
            return;
        }
        for id in std::mem::take(&mut self.blocked) {
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            if !matches!(stream.send, Sending::Blocked { .. }) {
                continue;
            }
            if let Sending::Blocked { data, end } =
                std::mem::replace(&mut stream.send, Sending::Streaming)
            {
                self.send_data(id, data, end);
            }
        }
    }

    /// Polls the tasks that were woken; true if any finished something.
    fn run_tasks(&mut self) -> bool {
        let mut progress = false;
        while self.out.len() - self.sent < HIGH_WATER {
            let Some(slot) = self.tasks.next_due() else {
                break;
            };
            // a body whose last piece waits for the client's window is not asked for
            // the next: the window's opening wakes it
            let waiting = self.tasks.get(slot).is_some_and(|e| {
                self.streams
                    .get(&e.id)
                    .is_some_and(|s| matches!(s.send, Sending::Blocked { .. }))
            });
            if waiting {
                // its request body still goes on to the backend meanwhile
                let _ = self.tasks.poll(slot, |e, cx| match &mut e.task {
                    Task::Body(body) => body.poll_upload(cx),
                    Task::Answer(_) => {}
                });
                continue;
            }
            let Some((id, Poll::Ready(done))) =
                self.tasks.poll(slot, |e, cx| (e.id, e.task.poll(cx)))
            else {
                continue;
            };
            progress = true;
            match done {
                Done::Head(resp) => self.respond(id, resp),
                Done::Piece(None) => self.send_data(id, Bytes::new(), true),
                Done::Piece(Some(Ok(piece))) => match piece.into_data() {
                    Ok(data) => {
                        let end = self
                            .tasks
                            .get(slot)
                            .is_some_and(|e| matches!(&e.task, Task::Body(b) if b.is_end_stream()));
                        self.send_data(id, data, end)
                    }
                    Err(piece) => {
                        let Ok(trailers) = piece.into_trailers() else {
                            continue;
                        };
                        self.head(id, None, &trailers, true);
                        self.end_send(id);
                    }
                },
                Done::Piece(Some(Err(e))) => {
                    tracing::debug!("HTTP/2 stream {id}: response body failed: {e}");
                    self.reset(id, Reason::Internal);
                }
            }
        }
        progress
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Opens the windows of the request bodies read since the last look.
    fn releases(&mut self, cx: &mut Context<'_>) {
        // one WINDOW_UPDATE a stream for all it read since the last look
        let mut read: Vec<Released> = Vec::new();
        while let Poll::Ready(Some(r)) = self.release_rx.poll_recv(cx) {
            match read.iter_mut().find(|seen| seen.stream == r.stream) {
                Some(seen) => {
                    seen.bytes = seen.bytes.saturating_add(r.bytes);
                    seen.pieces = seen.pieces.saturating_add(r.pieces);
                }
                None => read.push(r),
            }
        }
        for r in read {
            self.pieces = self.pieces.saturating_sub(r.pieces);
            self.give_back(r.stream, usize::try_from(r.bytes).unwrap_or(0));
        }
    }

    /// Writes what is due; Ready(Ok) once all of it is written and flushed.
    fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.out.len() {
            let n = match Pin::new(&mut self.io).poll_write(cx, &self.out[self.sent..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()))
                }
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.sent += n;
        }
        self.out.clear();
        self.sent = 0;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Whether the connection is over: nothing left to do, or a failure written out.
    fn finished(&self) -> bool {
        match self.phase {
            Phase::Closing => true,
            Phase::Draining => self.streams.is_empty(),
            _ => false,
        }
    }

    fn round(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<bool>> {
        let full = self.out.len() - self.sent >= HIGH_WATER;
        let mut progress = false;
        let reading = !full && !self.finished();
        // the windows of what was read first: a client may be waiting for them
        self.releases(cx);
        if reading {
            match self.poll_input(cx) {
                Poll::Ready(Ok(true)) => progress = true,
                // the client is gone: so is everything it asked for
                Poll::Ready(Ok(false)) => return Poll::Ready(Ok(false)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        self.unblock();
        progress |= self.run_tasks();
        match self.poll_output(cx) {
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) if self.finished() => return Poll::Ready(Ok(false)),
            // what waited for room in the output may go on
            Poll::Ready(Ok(())) if full || self.tasks.has_due() => progress = true,
            _ => {}
        }
        match progress {
            true => Poll::Ready(Ok(true)),
            false => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Connection<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.tasks.register(cx.waker());
        for _ in 0..ROUNDS {
            match this.round(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) => {
                    // a last try at a clean close (TLS close_notify); nothing waits on it
                    let _ = Pin::new(&mut this.io).poll_shutdown(cx);
                    return Poll::Ready(());
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!("HTTP/2 connection: {e}");
                    return Poll::Ready(());
                }
            }
        }
        // more to do: after the other tasks of this thread
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
