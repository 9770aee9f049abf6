//! The proxy's HTTP/2 server, frame by frame (h2c on the entrance's listener, the same
//! server as for TLS with ALPN `h2`): a corpus of connection errors, each answered with
//! GOAWAY and its code and then closed; a corpus of malformed requests, each answered
//! with RST_STREAM on its stream while the connection serves the next request; flow
//! control both ways, the stream limit, reset floods, PING, a smaller HPACK table, and
//! what the backend gets (cookies joined, request bodies and their trailers).
//!
//! The client is a raw socket writing frames by hand, as no HTTP/2 library sends what
//! these tests send; responses' header blocks are decoded with `loona-hpack`.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PRIORITY: u8 = 2;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;

const PROTOCOL_ERROR: u32 = 1;
const FLOW_CONTROL_ERROR: u32 = 3;
const STREAM_CLOSED: u32 = 5;
const FRAME_SIZE_ERROR: u32 = 6;
const REFUSED_STREAM: u32 = 7;
const COMPRESSION_ERROR: u32 = 9;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame as read.
#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    /// The increment of a WINDOW_UPDATE.
    fn increment(&self) -> u32 {
        u32::from_be_bytes(self.payload[..4].try_into().expect("an increment")) & 0x7fff_ffff
    }

    /// The error code of a RST_STREAM or GOAWAY.
    fn code(&self) -> u32 {
        let at = if self.kind == GOAWAY { 4 } else { 0 };
        u32::from_be_bytes(self.payload[at..at + 4].try_into().expect("a code"))
    }
}

/// A raw HTTP/2 client.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
    decoder: loona_hpack::Decoder<'static>,
}

impl Raw {
    /// Connects, sends the preface and `settings` (id, value).
    async fn connect(addr: SocketAddr, settings: &[(u16, u32)]) -> Raw {
        let s = TcpStream::connect(addr).await.expect("connect");
        let mut raw = Raw {
            s,
            buf: Vec::new(),
            decoder: loona_hpack::Decoder::new(),
        };
        raw.write(PREFACE).await;
        let mut payload = Vec::new();
        for (id, value) in settings {
            payload.extend_from_slice(&id.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        raw.send(SETTINGS, 0, 0, &payload).await;
        raw
    }

    async fn write(&mut self, bytes: &[u8]) {
        // the server may have closed already: what it sent is read after
        let _ = self.s.write_all(bytes).await;
    }

    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        self.write(&frame(kind, flags, stream, payload)).await;
    }

    /// The next frame; `None` once the server closed. Panics after 5 s.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = usize::from(self.buf[0]) << 16
                    | usize::from(self.buf[1]) << 8
                    | usize::from(self.buf[2]);
                if self.buf.len() >= 9 + len {
                    let stream = u32::from_be_bytes(self.buf[5..9].try_into().unwrap());
                    let f = Frame {
                        kind: self.buf[3],
                        flags: self.buf[4],
                        stream: stream & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    return Some(f);
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut chunk));
            match read.await.expect("the server answers within 5 s") {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next frame that is not SETTINGS, WINDOW_UPDATE or a PING ack: the first 50
    /// frames at most.
    async fn next_answer(&mut self) -> Option<Frame> {
        for _ in 0..50 {
            let f = self.next().await?;
            if f.kind == SETTINGS && f.flags & ACK == 0 {
                self.send(SETTINGS, ACK, 0, &[]).await;
            }
            if !matches!(f.kind, SETTINGS | WINDOW_UPDATE) {
                return Some(f);
            }
        }
        panic!("50 frames without an answer");
    }

    /// The decoded fields of a header block.
    fn fields(&mut self, block: &[u8]) -> Vec<(String, String)> {
        let mut got = Vec::new();
        self.decoder
            .decode_with_cb(block, |n, v| {
                got.push((
                    String::from_utf8_lossy(&n).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .expect("a block the client can decode");
        got
    }

    /// The head of a POST of `path` on `stream` with `fields`; its body is to follow.
    async fn post(&mut self, stream: u32, path: &str, fields: &[(&str, &str)]) {
        let block = block(&request("POST", path, fields));
        self.send(HEADERS, END_HEADERS, stream, &block).await;
    }

    /// A GET of `path` on `stream`, ending it.
    async fn get(&mut self, stream: u32, path: &str) {
        let block = block(&request("GET", path, &[]));
        self.send(HEADERS, END_HEADERS | END_STREAM, stream, &block)
            .await;
    }

    /// The response of `stream`: its fields and its body, with `window` (0: none) sent
    /// back for every DATA frame. Frames of other streams are skipped (200 at most).
    /// Gives `n` bytes back to the proxy on `stream` and on the connection (nothing for
    /// 0: an increment of 0 is a protocol error).
    async fn credit(&mut self, stream: u32, n: u32) {
        if n > 0 {
            self.send(WINDOW_UPDATE, 0, stream, &n.to_be_bytes()).await;
            self.send(WINDOW_UPDATE, 0, 0, &n.to_be_bytes()).await;
        }
    }

    async fn response(&mut self, stream: u32, window: bool) -> (Vec<(String, String)>, Vec<u8>) {
        let mut fields = Vec::new();
        let mut body = Vec::new();
        for _ in 0..200 {
            let f = self.next_answer().await.expect("a response before the end");
            if f.stream != stream {
                continue;
            }
            match f.kind {
                HEADERS => fields = self.fields(&f.payload),
                DATA => {
                    body.extend_from_slice(&f.payload);
                    if window {
                        self.credit(stream, f.payload.len() as u32).await;
                    }
                }
                RST_STREAM => panic!("stream {stream} reset with {}", f.code()),
                _ => {}
            }
            if f.flags & END_STREAM != 0 {
                return (fields, body);
            }
        }
        panic!("no end of stream {stream} in 200 frames");
    }

    /// The frames until the connection closes: the first 50 at most.
    async fn until_closed(&mut self) -> Vec<Frame> {
        self.until_closed_within(50).await
    }

    /// The frames until the connection closes: the first `most` at most.
    async fn until_closed_within(&mut self, most: usize) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = self.next().await {
            frames.push(f);
            assert!(frames.len() < most, "no close after {most} frames");
        }
        frames
    }

    /// The next frame that is not SETTINGS, WINDOW_UPDATE included.
    async fn next_answer_or_update(&mut self) -> Option<Frame> {
        loop {
            let f = self.next().await?;
            if f.kind == SETTINGS && f.flags & ACK == 0 {
                self.send(SETTINGS, ACK, 0, &[]).await;
            }
            if f.kind != SETTINGS {
                return Some(f);
            }
        }
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut out = len[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The fields of a request for `path` on the web entrance, then `extra`.
fn request<'a>(
    method: &'a str,
    path: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        (":method", method),
        (":scheme", "http"),
        (":authority", "localhost"),
        (":path", path),
    ];
    fields.extend_from_slice(extra);
    fields
}

/// A header block of literals without indexing, names and values as they are.
fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0);
        for s in [name, value] {
            assert!(s.len() < 127, "short strings only");
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

fn status(fields: &[(String, String)]) -> &str {
    fields
        .iter()
        .find(|(n, _)| n == ":status")
        .map(|(_, v)| v.as_str())
        .expect("a :status")
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

async fn setup() -> (Proxy, Server) {
    let backend = http_backend("a").await;
    let addr = backend.addr;
    let (proxy, _) = Proxy::start(1, move |http, extra| web_config(http, extra[0], &[addr])).await;
    wait_until(Duration::from_secs(5), "the entrance serves", || async {
        get(&client(), proxy.http, "/entrances/web/").await.status == 200
    })
    .await;
    (proxy, backend)
}

#[tokio::test]
async fn connection_errors_get_their_goaway_code_and_a_close() {
    let (proxy, _backend) = setup().await;
    let get = block(&request("GET", "/entrances/web/", &[]));
    let oversized = vec![0u8; 16_385];
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "a frame over 16384 bytes",
            frame(DATA, 0, 1, &oversized),
            FRAME_SIZE_ERROR,
        ),
        (
            "a connection WINDOW_UPDATE of 0",
            frame(WINDOW_UPDATE, 0, 0, &[0; 4]),
            PROTOCOL_ERROR,
        ),
        (
            "a connection window over 2^31-1",
            frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()),
            FLOW_CONTROL_ERROR,
        ),
        (
            "a PING of 7 bytes",
            frame(PING, 0, 0, &[0; 7]),
            FRAME_SIZE_ERROR,
        ),
        (
            "a PING on a stream",
            frame(PING, 0, 1, &[0; 8]),
            PROTOCOL_ERROR,
        ),
        (
            "SETTINGS of 5 bytes",
            frame(SETTINGS, 0, 0, &[0; 5]),
            FRAME_SIZE_ERROR,
        ),
        (
            "SETTINGS on a stream",
            frame(SETTINGS, 0, 1, &[]),
            PROTOCOL_ERROR,
        ),
        (
            "ENABLE_PUSH of 2",
            frame(SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 2]),
            PROTOCOL_ERROR,
        ),
        (
            "INITIAL_WINDOW_SIZE over 2^31-1",
            frame(SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]),
            FLOW_CONTROL_ERROR,
        ),
        (
            "MAX_FRAME_SIZE under 16384",
            frame(SETTINGS, 0, 0, &[0, 5, 0, 0, 0x10, 0]),
            PROTOCOL_ERROR,
        ),
        (
            "HEADERS on stream 2",
            frame(HEADERS, END_HEADERS | END_STREAM, 2, &get),
            PROTOCOL_ERROR,
        ),
        ("DATA on stream 0", frame(DATA, 0, 0, b"x"), PROTOCOL_ERROR),
        (
            "a PRIORITY of 4 bytes on an idle stream",
            frame(PRIORITY, 0, 9, &[0; 4]),
            FRAME_SIZE_ERROR,
        ),
        (
            "a GOAWAY of 4 bytes",
            frame(GOAWAY, 0, 0, &[0; 4]),
            FRAME_SIZE_ERROR,
        ),
        (
            "DATA on an idle stream",
            frame(DATA, 0, 9, b"x"),
            PROTOCOL_ERROR,
        ),
        (
            "RST_STREAM on an idle stream",
            frame(RST_STREAM, 0, 9, &[0; 4]),
            PROTOCOL_ERROR,
        ),
        (
            "PUSH_PROMISE",
            frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2]),
            PROTOCOL_ERROR,
        ),
        (
            "CONTINUATION alone",
            frame(CONTINUATION, END_HEADERS, 1, &get),
            PROTOCOL_ERROR,
        ),
        (
            "a header block cut by PING",
            [
                frame(HEADERS, END_STREAM, 1, &get),
                frame(PING, 0, 0, &[0; 8]),
            ]
            .concat(),
            PROTOCOL_ERROR,
        ),
        (
            "an HPACK index past the tables",
            frame(HEADERS, END_HEADERS | END_STREAM, 1, &[0xff, 0x80, 0x01]),
            COMPRESSION_ERROR,
        ),
        (
            "padding longer than the frame",
            frame(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, &[200, 0x82]),
            PROTOCOL_ERROR,
        ),
    ];
    for (name, bytes, code) in cases {
        let mut raw = Raw::connect(proxy.http, &[]).await;
        raw.write(&bytes).await;
        let frames = raw.until_closed().await;
        let goaway = frames.iter().find(|f| f.kind == GOAWAY);
        assert_eq!(goaway.map(Frame::code), Some(code), "{name}: {frames:?}");
    }
    // and the listener serves on
    let mut raw = Raw::connect(proxy.http, &[]).await;
    raw.get(1, "/entrances/web/").await;
    let (fields, body) = raw.response(1, false).await;
    assert_eq!((status(&fields), &body[..]), ("200", &b"a"[..]));
}

#[tokio::test]
async fn a_malformed_request_resets_its_stream_and_the_connection_serves_on() {
    let (proxy, _backend) = setup().await;
    let path = "/entrances/web/";
    let get = |extra: &[(&'static str, &'static str)]| block(&request("GET", path, extra));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an upper-case name", get(&[("X-Up", "1")])),
        ("connection", get(&[("connection", "keep-alive")])),
        (
            "transfer-encoding",
            get(&[("transfer-encoding", "chunked")]),
        ),
        ("te other than trailers", get(&[("te", "gzip")])),
        ("a value with a line break", get(&[("x-a", "b\nc")])),
        ("a value with leading space", get(&[("x-a", " b")])),
        (
            "a pseudo-header after a field",
            get(&[("x-a", "b"), (":method", "GET")]),
        ),
        (
            "an unknown pseudo-header",
            get(&[(":protocol", "websocket")]),
        ),
        ("a response pseudo-header", get(&[(":status", "200")])),
        ("a Host unlike :authority", get(&[("host", "elsewhere")])),
        (
            "no :path",
            block(&[(":method", "GET"), (":scheme", "http")]),
        ),
        ("no :method", block(&[(":scheme", "http"), (":path", "/")])),
        (
            "a :path not starting with /",
            block(&[(":method", "GET"), (":scheme", "http"), (":path", "x")]),
        ),
        (
            "content-length on a stream ended",
            get(&[("content-length", "3")]),
        ),
    ];
    let mut raw = Raw::connect(proxy.http, &[]).await;
    let mut id = 1;
    for (name, bytes) in &cases {
        raw.send(HEADERS, END_HEADERS | END_STREAM, id, bytes).await;
        let f = raw.next_answer().await.expect("an answer");
        assert_eq!(
            (f.kind, f.stream, f.code()),
            (RST_STREAM, id, PROTOCOL_ERROR),
            "{name}: {f:?}"
        );
        raw.get(id + 2, path).await;
        let (fields, _) = raw.response(id + 2, false).await;
        assert_eq!(status(&fields), "200", "after {name}");
        id += 4;
    }
    // a body longer than its content-length
    raw.post(id, "/entrances/web/upload", &[("content-length", "2")])
        .await;
    raw.send(DATA, END_STREAM, id, b"abc").await;
    let f = raw.next_answer().await.expect("an answer");
    assert_eq!(
        (f.kind, f.stream, f.code()),
        (RST_STREAM, id, PROTOCOL_ERROR)
    );
    // DATA on a stream the client ended (its answer held by the backend)
    raw.get(id + 2, "/entrances/web/slow").await;
    raw.send(DATA, 0, id + 2, b"late").await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let f = raw.next_answer().await.expect("an answer");
        if f.stream == id + 2 && f.kind == RST_STREAM {
            codes.push(f.code());
            break;
        }
    }
    assert_eq!(codes, [STREAM_CLOSED]);
    // a PRIORITY of a wrong size on a stream it knows resets that stream; a PING is
    // answered with its data
    raw.send(PRIORITY, 0, id, &[0; 4]).await;
    let f = raw.next_answer().await.expect("an answer");
    assert_eq!(
        (f.kind, f.stream, f.code()),
        (RST_STREAM, id, FRAME_SIZE_ERROR)
    );
    raw.send(PING, 0, 0, b"12345678").await;
    let f = raw.next_answer().await.expect("an answer");
    assert_eq!(
        (f.kind, f.flags, &f.payload[..]),
        (PING, ACK, &b"12345678"[..])
    );
}

#[tokio::test]
async fn a_response_waits_for_the_clients_window_and_goes_on_whole() {
    let (proxy, _backend) = setup().await;
    // a stream window of 1000 bytes: 200,000 bytes come only as the client opens it
    let mut raw = Raw::connect(proxy.http, &[(4, 1000)]).await;
    raw.get(1, "/entrances/web/download?200000").await;
    let mut body = Vec::new();
    let mut fields = Vec::new();
    for _ in 0..2000 {
        let f = raw.next_answer().await.expect("frames until the end");
        match f.kind {
            HEADERS => fields = raw.fields(&f.payload),
            DATA => {
                assert!(
                    f.payload.len() <= 1000,
                    "within the window: {}",
                    f.payload.len()
                );
                body.extend_from_slice(&f.payload);
                raw.credit(1, f.payload.len() as u32).await;
            }
            other => panic!("unexpected frame {other}"),
        }
        if f.flags & END_STREAM != 0 {
            break;
        }
    }
    assert_eq!(status(&fields), "200");
    assert_eq!(body.len(), 200_000);
    assert!(body.iter().all(|&b| b == b'x'));
    // the connection's window (65,535 by default) bounds it too: a larger stream
    // window alone gets 65,535 bytes, then the rest once the connection's opens
    let mut raw = Raw::connect(proxy.http, &[(4, 1 << 20)]).await;
    raw.get(1, "/entrances/web/download?100000").await;
    let mut got = 0;
    while got < 65_535 {
        let f = raw.next_answer().await.expect("frames");
        if f.kind == DATA {
            got += f.payload.len();
        }
    }
    assert_eq!(got, 65_535, "no more than the connection's window");
    raw.send(WINDOW_UPDATE, 0, 0, &100_000u32.to_be_bytes())
        .await;
    let (_, rest) = raw.response(1, false).await;
    assert_eq!(got + rest.len(), 100_000);
}

#[tokio::test]
async fn request_bodies_reach_the_backend_with_their_trailers_and_cookies_are_joined() {
    let (proxy, _backend) = setup().await;
    let mut raw = Raw::connect(proxy.http, &[]).await;
    // 1 MiB in 16 KiB frames: more than the stream's first window, so the server has to
    // open it again as the backend reads
    raw.post(
        1,
        "/entrances/web/upload",
        &[
            ("content-length", "1048576"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
        ],
    )
    .await;
    let mut window: i64 = 65_535;
    let mut sent = 0;
    let piece = vec![b'u'; 16 * 1024];
    let (mut fields, mut body) = (Vec::new(), Vec::new());
    for _ in 0..1000 {
        while window >= piece.len() as i64 && sent < 1 << 20 {
            sent += piece.len();
            window -= piece.len() as i64;
            let end = if sent == 1 << 20 { END_STREAM } else { 0 };
            raw.send(DATA, end, 1, &piece).await;
        }
        let f = raw.next().await.expect("frames until the response's end");
        match f.kind {
            WINDOW_UPDATE if f.stream == 1 => {
                window += i64::from(u32::from_be_bytes(f.payload[..4].try_into().unwrap()));
            }
            HEADERS => fields = raw.fields(&f.payload),
            DATA => body.extend_from_slice(&f.payload),
            RST_STREAM | GOAWAY => panic!("{f:?}"),
            _ => {}
        }
        if f.stream == 1 && f.flags & END_STREAM != 0 {
            break;
        }
    }
    assert_eq!(sent, 1 << 20, "all sent as the window opened");
    assert_eq!(status(&fields), "200");
    assert_eq!(body, b"1048576", "the backend got it all");
    assert_eq!(field(&fields, "x-seen-cookie"), Some("a=1; b=2"));
    // `expect: 100-continue`: a 100 first, then the answer once the body came
    raw.post(
        3,
        "/entrances/web/upload",
        &[("expect", "100-continue"), ("content-length", "4")],
    )
    .await;
    let f = raw.next_answer().await.expect("an interim answer");
    assert_eq!((f.kind, f.stream, f.flags & END_STREAM), (HEADERS, 3, 0));
    assert_eq!(status(&raw.fields(&f.payload)), "100");
    raw.send(DATA, END_STREAM, 3, b"body").await;
    let (fields, body) = raw.response(3, false).await;
    assert_eq!((status(&fields), &body[..]), ("200", &b"4"[..]));
    // a body of unknown length, then trailers: chunked to the backend, trailers kept
    raw.post(5, "/entrances/web/upload", &[("te", "trailers")])
        .await;
    raw.send(DATA, 0, 5, b"hello").await;
    raw.send(
        HEADERS,
        END_HEADERS | END_STREAM,
        5,
        &block(&[("x-sum", "5")]),
    )
    .await;
    let (fields, body) = raw.response(5, false).await;
    assert_eq!(status(&fields), "200");
    assert_eq!(body, b"5");
    assert_eq!(field(&fields, "x-seen-transfer-encoding"), Some("chunked"));
    assert_eq!(field(&fields, "x-trailer-x-sum"), Some("5"));
}

#[tokio::test]
async fn streams_past_the_limit_are_refused_and_a_reset_flood_ends_the_connection() {
    let (proxy, _backend) = setup().await;
    // 256 streams held by the backend (/slow), then one more
    let mut raw = Raw::connect(proxy.http, &[]).await;
    for i in 0..257u32 {
        raw.get(1 + 2 * i, "/entrances/web/slow").await;
    }
    let f = raw.next_answer().await.expect("an answer");
    assert_eq!(
        (f.kind, f.stream, f.code()),
        (RST_STREAM, 1 + 2 * 256, REFUSED_STREAM)
    );
    drop(raw);

    // streams opened and reset at once, never answered: the connection is closed
    let mut raw = Raw::connect(proxy.http, &[]).await;
    let mut frames = Vec::new();
    for i in 0..200u32 {
        let id = 1 + 2 * i;
        frames.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            id,
            &block(&request("GET", "/entrances/web/slow", &[])),
        ));
        frames.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    raw.write(&frames).await;
    let closed = raw.until_closed().await;
    let goaway = closed.iter().find(|f| f.kind == GOAWAY);
    assert_eq!(
        goaway.map(Frame::code),
        Some(ENHANCE_YOUR_CALM),
        "{closed:?}"
    );

    // the same with resets the client makes the server send (a PRIORITY of a wrong
    // size on each stream it opens)
    let mut raw = Raw::connect(proxy.http, &[]).await;
    let mut frames = Vec::new();
    for i in 0..200u32 {
        let id = 1 + 2 * i;
        let slow = block(&request("GET", "/entrances/web/slow", &[]));
        frames.extend(frame(HEADERS, END_HEADERS | END_STREAM, id, &slow));
        frames.extend(frame(PRIORITY, 0, id, &[0; 4]));
    }
    raw.write(&frames).await;
    let closed = raw.until_closed_within(600).await;
    let goaway = closed.iter().find(|f| f.kind == GOAWAY);
    assert_eq!(goaway.map(Frame::code), Some(ENHANCE_YOUR_CALM));
}

#[tokio::test]
async fn a_body_in_tiny_frames_for_a_backend_that_does_not_read_is_reset() {
    // the backend reads a request head and nothing more: once its socket is full, the
    // frames wait in the proxy, which holds no more than 8,192 pieces a connection
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let gated = gated_backend(release.clone()).await;
    let addr = gated.addr;
    let limits = lcc_proxy::Limits {
        response_timeout: Duration::from_secs(30),
        ..test_limits()
    };
    let (proxy, _) =
        Proxy::start_with(limits, 1, move |http, g| web_config(http, g[0], &[addr])).await;
    let mut raw = Raw::connect(proxy.http, &[]).await;
    raw.post(1, "/entrances/web/upload", &[]).await;
    let one = frame(DATA, 0, 1, &[b'p'; 20]);
    // the windows the proxy gives (docs/proxy.md): 256 KiB a stream, 1 MiB in all
    let (mut window, mut conn_window): (i64, i64) = (256 * 1024, 65_535);
    let mut sent = 0u64;
    // at most 64 MiB: far more than loopback's socket buffers hold
    while sent < 64 << 20 {
        let mut batch = Vec::new();
        while window >= 20 && conn_window >= 20 {
            batch.extend_from_slice(&one);
            window -= 20;
            conn_window -= 20;
            sent += 20;
        }
        raw.write(&batch).await;
        let f = raw.next_answer_or_update().await.expect("frames");
        match (f.kind, f.stream) {
            (WINDOW_UPDATE, 0) => conn_window += i64::from(f.increment()),
            (WINDOW_UPDATE, 1) => window += i64::from(f.increment()),
            (RST_STREAM, 1) => {
                assert_eq!(f.code(), ENHANCE_YOUR_CALM);
                release.notify_waiters();
                return;
            }
            _ => panic!("{f:?}"),
        }
    }
    panic!("no reset after {sent} bytes");
}

#[tokio::test]
async fn a_request_body_goes_on_while_its_response_waits_for_the_window() {
    let (proxy, _backend) = setup().await;
    // the response is held by a 1,000-byte window the client opens only once it has
    // sent its whole body, which is more than a stream's window: the proxy must take it
    // meanwhile
    let mut raw = Raw::connect(proxy.http, &[(4, 1000)]).await;
    raw.post(
        1,
        "/entrances/web/drain?100000",
        &[("content-length", "600000")],
    )
    .await;
    let (mut window, mut conn_window): (i64, i64) = (256 * 1024, 65_535);
    let (mut sent, mut body, mut fields) = (0usize, Vec::new(), Vec::new());
    let (mut ended, mut owed) = (false, 0u32);
    for _ in 0..5000 {
        while sent < 600_000 && window >= 10_000 && conn_window >= 10_000 {
            sent += 10_000;
            let end = if sent == 600_000 { END_STREAM } else { 0 };
            raw.send(DATA, end, 1, &[b'r'; 10_000]).await;
            window -= 10_000;
            conn_window -= 10_000;
        }
        let f = raw
            .next_answer_or_update()
            .await
            .expect("frames until the end");
        match (f.kind, f.stream) {
            (WINDOW_UPDATE, 0) => conn_window += i64::from(f.increment()),
            (WINDOW_UPDATE, 1) => window += i64::from(f.increment()),
            (HEADERS, 1) => fields = raw.fields(&f.payload),
            (DATA, 1) => {
                body.extend_from_slice(&f.payload);
                owed += f.payload.len() as u32;
                ended = f.flags & END_STREAM != 0;
            }
            (RST_STREAM, 1) => assert_eq!(f.code(), 0, "NO_ERROR"),
            other => panic!("unexpected frame {other:?}"),
        }
        if sent == 600_000 && owed > 0 {
            // the whole body is sent: now the response may come
            raw.credit(1, owed).await;
            owed = 0;
        }
        if ended {
            break;
        }
    }
    assert_eq!(sent, 600_000, "the body went on while the response waited");
    assert_eq!(status(&fields), "200");
    assert_eq!(body.len(), 100_000);
}

#[tokio::test]
async fn a_smaller_hpack_table_is_acknowledged_in_the_next_block() {
    let (proxy, _backend) = setup().await;
    // SETTINGS_HEADER_TABLE_SIZE 0: the next response block starts with a size update
    let mut raw = Raw::connect(proxy.http, &[(1, 0)]).await;
    raw.get(1, "/entrances/web/").await;
    let f = loop {
        let f = raw.next_answer().await.expect("an answer");
        if f.kind == HEADERS {
            break f;
        }
    };
    assert_eq!(f.payload[0], 0x20, "a dynamic table size update to 0");
    raw.decoder.set_max_table_size(0);
    assert_eq!(status(&raw.fields(&f.payload)), "200");
    raw.get(3, "/entrances/web/").await;
    let (fields, _) = raw.response(3, false).await;
    assert_eq!(status(&fields), "200", "no second update");
}

#[tokio::test]
async fn the_proxys_own_answers_and_head_go_over_http2() {
    let (proxy, _backend) = setup().await;
    let mut raw = Raw::connect(proxy.http, &[]).await;
    raw.get(1, "/entrances/nope/").await;
    let (fields, _) = raw.response(1, false).await;
    assert_eq!(status(&fields), "404");
    let head = block(&request("HEAD", "/entrances/web/download?1000", &[]));
    raw.send(HEADERS, END_HEADERS | END_STREAM, 3, &head).await;
    let (fields, body) = raw.response(3, false).await;
    assert_eq!(status(&fields), "200");
    assert!(body.is_empty(), "no body for HEAD: {body:?}");
    let connect = block(&[(":method", "CONNECT"), (":authority", "example.com:443")]);
    raw.send(HEADERS, END_HEADERS, 5, &connect).await;
    let (fields, _) = raw.response(5, false).await;
    assert_eq!(status(&fields), "501");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_closing_sends_goaway_and_finishes_the_streams_in_flight() {
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let gated = gated_backend(release.clone()).await;
    let limits = lcc_proxy::Limits {
        response_timeout: Duration::from_secs(30),
        ..test_limits()
    };
    let (proxy, extra) =
        Proxy::start_with(limits, 1, |http, g| web_config(http, g[0], &[gated.addr])).await;
    let mut raw = Raw::connect(proxy.http, &[]).await;
    raw.get(1, "/entrances/web/").await;
    wait_until(Duration::from_secs(5), "request in flight", || async {
        proxy
            .metric("lcc_proxy_requests_total{kind=\"entrance\",name=\"web\"}")
            .await
            == 1
    })
    .await;
    // the entrance listener moves: connections of the old one are asked to finish
    proxy.write_by_rename(&format!("version: 1\nhttp: {{listen: \"{}\"}}\n", extra[0]));
    let f = raw.next_answer().await.expect("a GOAWAY");
    assert_eq!(f.kind, GOAWAY, "{f:?}");
    assert_eq!(
        &f.payload[..8],
        &[0, 0, 0, 1, 0, 0, 0, 0],
        "last stream 1, NO_ERROR"
    );
    release.notify_one();
    let (fields, body) = raw.response(1, false).await;
    assert_eq!((status(&fields), &body[..]), ("200", &b"held"[..]));
    assert!(raw.until_closed().await.is_empty(), "closed once finished");
}

#[tokio::test]
async fn a_response_held_by_the_window_loses_nothing_while_its_request_body_comes() {
    let (proxy, _backend) = setup().await;
    // a stream window of 1,000 bytes: the backend's 64 KiB pieces wait in the proxy,
    // while the request's body, coming meanwhile, wakes the exchange
    let mut raw = Raw::connect(proxy.http, &[(4, 1000)]).await;
    raw.post(
        1,
        "/entrances/web/download?100000",
        &[("content-length", "100000")],
    )
    .await;
    let (mut fields, mut body, mut sent) = (Vec::new(), Vec::new(), 0usize);
    for _ in 0..2000 {
        let f = raw.next_answer().await.expect("frames until the end");
        match (f.kind, f.stream) {
            (HEADERS, 1) => fields = raw.fields(&f.payload),
            (DATA, 1) => {
                body.extend_from_slice(&f.payload);
                if sent < 100_000 {
                    let n = 1000.min(100_000 - sent);
                    sent += n;
                    let end = if sent == 100_000 { END_STREAM } else { 0 };
                    raw.send(DATA, end, 1, &vec![b'r'; n]).await;
                }
                raw.credit(1, f.payload.len() as u32).await;
            }
            // the request's side, reset once the response is whole
            (RST_STREAM, 1) => assert_eq!(f.code(), 0, "NO_ERROR"),
            other => panic!("unexpected frame {other:?}"),
        }
        if f.stream == 1 && f.flags & END_STREAM != 0 {
            break;
        }
    }
    assert_eq!(status(&fields), "200");
    assert_eq!(body.len(), 100_000, "every byte, in order");
    assert!(body.iter().all(|&b| b == b'x'));
}

#[tokio::test]
async fn a_header_block_that_expands_past_the_limit_is_answered_431() {
    let (proxy, _backend) = setup().await;
    let mut raw = Raw::connect(proxy.http, &[]).await;
    // a 4,000-byte field put in the decoder's table, then named 2,000 times by one byte
    // each: 6 KB of HPACK for 8 MB of fields
    let mut head = block(&request("GET", "/entrances/web/", &[]));
    head.extend_from_slice(&[0x40, 1, b'a', 0x7f, 0xa1, 0x1e]);
    head.extend_from_slice(&[b'v'; 4000]);
    head.extend_from_slice(&[0xbe; 2000]);
    raw.send(HEADERS, END_HEADERS | END_STREAM, 1, &head).await;
    let (fields, _) = raw.response(1, false).await;
    assert_eq!(status(&fields), "431");
    // the decoder's table stayed in step: the next request is read right
    raw.get(3, "/entrances/web/").await;
    let (fields, body) = raw.response(3, false).await;
    assert_eq!((status(&fields), &body[..]), ("200", &b"a"[..]));
}
