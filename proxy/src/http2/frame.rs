//! HTTP/2 frames (RFC 9113, sections 4 and 6): the nine-byte frame header read, and the
//! frames the server sends written into its output buffer.

/// What a client sends first (RFC 9113, 3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The length of a frame header.
pub(crate) const HEAD_LEN: usize = 9;
/// The largest frame payload either side takes until told otherwise (RFC 9113, 6.5.2).
pub(crate) const DEFAULT_MAX_FRAME: usize = 16_384;
/// The window every stream and the connection start with (RFC 9113, 6.9.2).
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;
/// The largest a flow-control window may grow (RFC 9113, 6.9.1).
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Frame flags.
pub(crate) mod flag {
    pub(crate) const END_STREAM: u8 = 0x1;
    pub(crate) const ACK: u8 = 0x1;
    pub(crate) const END_HEADERS: u8 = 0x4;
    pub(crate) const PADDED: u8 = 0x8;
    pub(crate) const PRIORITY: u8 = 0x20;
}

/// Frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Data,
    Headers,
    Priority,
    RstStream,
    Settings,
    PushPromise,
    Ping,
    GoAway,
    WindowUpdate,
    Continuation,
    /// A type this server does not know: ignored (RFC 9113, 4.1).
    Unknown(u8),
}

impl Kind {
    fn from_byte(b: u8) -> Kind {
        match b {
            0 => Kind::Data,
            1 => Kind::Headers,
            2 => Kind::Priority,
            3 => Kind::RstStream,
            4 => Kind::Settings,
            5 => Kind::PushPromise,
            6 => Kind::Ping,
            7 => Kind::GoAway,
            8 => Kind::WindowUpdate,
            9 => Kind::Continuation,
            other => Kind::Unknown(other),
        }
    }

    fn byte(self) -> u8 {
        match self {
            Kind::Data => 0,
            Kind::Headers => 1,
            Kind::Priority => 2,
            Kind::RstStream => 3,
            Kind::Settings => 4,
            Kind::PushPromise => 5,
            Kind::Ping => 6,
            Kind::GoAway => 7,
            Kind::WindowUpdate => 8,
            Kind::Continuation => 9,
            Kind::Unknown(b) => b,
        }
    }
}

/// Error codes (RFC 9113, 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    NoError = 0,
    Protocol = 1,
    Internal = 2,
    FlowControl = 3,
    StreamClosed = 5,
    FrameSize = 6,
    RefusedStream = 7,
    Compression = 9,
    EnhanceYourCalm = 0xb,
}

impl Reason {
    /// The code as sent.
    pub(crate) fn code(self) -> u32 {
        self as u32
    }
}

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) len: usize,
    pub(crate) kind: Kind,
    pub(crate) flags: u8,
    /// The stream, its reserved bit cleared.
    pub(crate) stream: u32,
}

impl Head {
    /// The header at the start of `b`.
    pub(crate) fn parse(b: &[u8; HEAD_LEN]) -> Head {
        Head {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: Kind::from_byte(b[3]),
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        }
    }

    /// Appends the header to `out`.
    pub(crate) fn write(self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len).unwrap_or(u32::MAX).to_be_bytes();
        out.extend_from_slice(&len[1..]);
        out.push(self.kind.byte());
        out.push(self.flags);
        out.extend_from_slice(&self.stream.to_be_bytes());
    }

    /// Whether `f` is set.
    pub(crate) fn has(self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// A frame whose payload is `len` bytes; the payload goes after it.
pub(crate) fn head(out: &mut Vec<u8>, kind: Kind, flags: u8, stream: u32, len: usize) {
    Head {
        len,
        kind,
        flags,
        stream,
    }
    .write(out)
}

/// The payload of a DATA or HEADERS frame without its padding (RFC 9113, 6.1); `None`
/// when the padding is longer than the payload.
pub(crate) fn unpadded(h: Head, payload: &[u8]) -> Option<&[u8]> {
    if !h.has(flag::PADDED) {
        return Some(payload);
    }
    let (&pad, rest) = payload.split_first()?;
    rest.len()
        .checked_sub(usize::from(pad))
        .map(|end| &rest[..end])
}

/// One setting of a SETTINGS frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setting {
    HeaderTableSize(u32),
    EnablePush(u32),
    MaxConcurrentStreams(u32),
    InitialWindowSize(u32),
    MaxFrameSize(u32),
    MaxHeaderListSize(u32),
    /// An identifier this server does not know: ignored (RFC 9113, 6.5.2).
    Unknown,
}

impl Setting {
    fn id_value(self) -> (u16, u32) {
        match self {
            Setting::HeaderTableSize(v) => (1, v),
            Setting::EnablePush(v) => (2, v),
            Setting::MaxConcurrentStreams(v) => (3, v),
            Setting::InitialWindowSize(v) => (4, v),
            Setting::MaxFrameSize(v) => (5, v),
            Setting::MaxHeaderListSize(v) => (6, v),
            Setting::Unknown => (0, 0),
        }
    }

    /// The settings of a SETTINGS payload (a multiple of six bytes, checked before).
    pub(crate) fn parse_all(payload: &[u8]) -> impl Iterator<Item = Setting> + '_ {
        payload.chunks_exact(6).map(|s| {
            let value = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
            match u16::from_be_bytes([s[0], s[1]]) {
                1 => Setting::HeaderTableSize(value),
                2 => Setting::EnablePush(value),
                3 => Setting::MaxConcurrentStreams(value),
                4 => Setting::InitialWindowSize(value),
                5 => Setting::MaxFrameSize(value),
                6 => Setting::MaxHeaderListSize(value),
                _ => Setting::Unknown,
            }
        })
    }
}

/// A SETTINGS frame with `settings`.
pub(crate) fn settings(out: &mut Vec<u8>, settings: &[Setting]) {
    head(out, Kind::Settings, 0, 0, settings.len() * 6);
    for s in settings {
        let (id, value) = s.id_value();
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// The acknowledgement of the client's SETTINGS.
pub(crate) fn settings_ack(out: &mut Vec<u8>) {
    head(out, Kind::Settings, flag::ACK, 0, 0);
}

/// The answer to a PING.
pub(crate) fn ping_ack(out: &mut Vec<u8>, data: &[u8]) {
    head(out, Kind::Ping, flag::ACK, 0, data.len());
    out.extend_from_slice(data);
}

/// A WINDOW_UPDATE of `stream` (0: the connection).
pub(crate) fn window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    head(out, Kind::WindowUpdate, 0, stream, 4);
    out.extend_from_slice(&increment.to_be_bytes());
}

/// A RST_STREAM.
pub(crate) fn rst_stream(out: &mut Vec<u8>, stream: u32, reason: Reason) {
    head(out, Kind::RstStream, 0, stream, 4);
    out.extend_from_slice(&reason.code().to_be_bytes());
}

/// A GOAWAY naming the last stream this server took.
pub(crate) fn goaway(out: &mut Vec<u8>, last: u32, reason: Reason, debug: &str) {
    head(out, Kind::GoAway, 0, 0, 8 + debug.len());
    out.extend_from_slice(&last.to_be_bytes());
    out.extend_from_slice(&reason.code().to_be_bytes());
    out.extend_from_slice(debug.as_bytes());
}

/// A DATA frame carrying `data`.
pub(crate) fn data(out: &mut Vec<u8>, stream: u32, data: &[u8], end: bool) {
    let flags = if end { flag::END_STREAM } else { 0 };
    head(out, Kind::Data, flags, stream, data.len());
    out.extend_from_slice(data);
}

/// A header block as a HEADERS frame and as many CONTINUATION frames as `max_frame`
/// calls for.
pub(crate) fn headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end: bool, max_frame: usize) {
    let mut pieces = block.chunks(max_frame.max(1)).peekable();
    let mut kind = Kind::Headers;
    let mut flags = if end { flag::END_STREAM } else { 0 };
    if pieces.peek().is_none() {
        head(out, kind, flags | flag::END_HEADERS, stream, 0);
        return;
    }
    while let Some(piece) = pieces.next() {
        if pieces.peek().is_none() {
            flags |= flag::END_HEADERS;
        }
        head(out, kind, flags, stream, piece.len());
        out.extend_from_slice(piece);
        kind = Kind::Continuation;
        flags = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written() {
        let cases = [
            (0, Kind::Settings, 0, 0),
            (16_384, Kind::Data, flag::END_STREAM, 1),
            (0xff_ffff, Kind::Unknown(0xfa), 0xff, MAX_WINDOW),
        ];
        for (len, kind, flags, stream) in cases {
            let h = Head {
                len,
                kind,
                flags,
                stream,
            };
            let mut out = Vec::new();
            h.write(&mut out);
            let bytes: [u8; HEAD_LEN] = out.try_into().expect("nine bytes");
            assert_eq!(Head::parse(&bytes), h);
        }
    }

    #[test]
    fn the_reserved_bit_of_a_stream_id_is_ignored() {
        let mut b = [0u8; HEAD_LEN];
        b[5..].copy_from_slice(&(0x8000_0003u32).to_be_bytes());
        assert_eq!(Head::parse(&b).stream, 3);
    }

    #[test]
    fn padding_is_stripped_or_refused_when_too_long() {
        let padded = |flags| Head {
            len: 0,
            kind: Kind::Data,
            flags,
            stream: 1,
        };
        type Case = (u8, &'static [u8], Option<&'static [u8]>);
        let cases: [Case; 5] = [
            (0, b"abc", Some(b"abc")),
            (flag::PADDED, b"\x02abc00", Some(b"abc")),
            (flag::PADDED, b"\x00abc", Some(b"abc")),
            (flag::PADDED, b"\x04abc", None),
            (flag::PADDED, b"", None),
        ];
        for (flags, payload, want) in cases {
            assert_eq!(unpadded(padded(flags), payload), want, "{payload:?}");
        }
    }

    #[test]
    fn a_long_header_block_goes_on_in_continuation_frames() {
        let mut out = Vec::new();
        headers(&mut out, 5, &[7u8; 10], true, 4);
        let mut frames = Vec::new();
        let mut at = 0;
        while at < out.len() {
            let h = Head::parse(out[at..at + HEAD_LEN].try_into().expect("head"));
            frames.push((h.kind, h.flags, h.len));
            at += HEAD_LEN + h.len;
        }
        assert_eq!(
            frames,
            [
                (Kind::Headers, flag::END_STREAM, 4),
                (Kind::Continuation, 0, 4),
                (Kind::Continuation, flag::END_HEADERS, 2),
            ]
        );
    }

    #[test]
    fn settings_read_back_as_written_and_unknown_ones_are_kept_apart() {
        let mut out = Vec::new();
        settings(
            &mut out,
            &[
                Setting::MaxConcurrentStreams(256),
                Setting::InitialWindowSize(1 << 20),
            ],
        );
        let mut payload = out[HEAD_LEN..].to_vec();
        payload.extend_from_slice(&[0, 0x42, 0, 0, 0, 1]);
        let got: Vec<_> = Setting::parse_all(&payload).collect();
        assert_eq!(
            got,
            [
                Setting::MaxConcurrentStreams(256),
                Setting::InitialWindowSize(1 << 20),
                Setting::Unknown
            ]
        );
    }
}
