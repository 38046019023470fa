//! Framing of the event socket: a header block ended by a blank line, then `Content-Length` bytes
//! of body when that header is present.
//!
//! The decoder is a two-state machine (in the head / in the body). While in the head it looks for
//! the blank line starting where the previous look stopped, so a frame that arrives a byte at a
//! time is scanned once. `Content-Length` is checked against the body limit before a single body
//! byte is buffered. "Need more bytes" is `Ok(None)`, never an error.
//!
//! A malformed frame is reported with the byte offset where it starts, and the decoder is left at
//! the next frame boundary wherever the framing allows, so a caller that keeps calling `decode`
//! after an error (the `parkway esl decode` command does) gets the rest of the stream.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::headers::{HeaderError, Headers};

/// Longest header block accepted (FreeSWITCH's own heads are a few hundred bytes).
pub const MAX_HEAD: usize = 64 * 1024;
/// Longest body accepted: FreeSWITCH caps its own bodies at 16 MiB.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Why the byte stream could not be framed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The header block is longer than the head limit. It is thrown away up to its blank line,
    /// and its body too when a `Content-Length` was seen in it.
    #[error("at byte {offset}: header block longer than {limit} bytes")]
    HeadTooLarge {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// The head limit in bytes ([`MAX_HEAD`] unless set with [`Framer::new`]).
        limit: usize,
    },
    /// `Content-Length` announced more than the body limit. Refused before any body byte is
    /// buffered; the body is skipped as it arrives.
    #[error("at byte {offset}: body of {len} bytes is over the {limit}-byte limit")]
    BodyTooLarge {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// The announced `Content-Length`.
        len: usize,
        /// The body limit in bytes ([`MAX_BODY`] unless set with [`Framer::new`]).
        limit: usize,
    },
    /// The `Content-Length` value is not a decimal byte count. The head is consumed and framing
    /// resumes right after it.
    #[error("at byte {offset}: Content-Length {value:?} is not a byte count")]
    BadContentLength {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// The value as sent (lossy UTF-8).
        value: String,
    },
    /// The head was framed but a header line could not be read ([`Frame::from_raw`]).
    #[error("at byte {offset}: {source}")]
    BadHeader {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// Which line, and why.
        source: HeaderError,
    },
    /// The stream ended with an unfinished frame (from [`Framer::finish`] / `decode_eof`).
    #[error("at byte {offset}: stream ended inside a frame ({pending} bytes pending)")]
    Truncated {
        /// Stream offset of the unfinished frame's first byte.
        offset: u64,
        /// Bytes of it that had arrived.
        pending: usize,
    },
    /// Reading the stream failed (`FramedRead` reports I/O errors as the codec's error type).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl CodecError {
    /// Where in the stream the offending frame starts (None for I/O errors).
    pub fn offset(&self) -> Option<u64> {
        match self {
            CodecError::HeadTooLarge { offset, .. }
            | CodecError::BodyTooLarge { offset, .. }
            | CodecError::BadContentLength { offset, .. }
            | CodecError::BadHeader { offset, .. }
            | CodecError::Truncated { offset, .. } => Some(*offset),
            CodecError::Io(_) => None,
        }
    }
}

/// A framed message: its header block (not parsed) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// Byte offset of the frame's first byte in the stream.
    pub offset: u64,
    /// The header lines, without the blank line that ends them.
    pub head: Bytes,
    /// The `Content-Length` bytes that followed, if the head announced any.
    pub body: Option<Bytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for the blank line; bytes before `scanned` hold no terminator.
    Head { scanned: usize },
    /// Head taken; waiting for `len` body bytes.
    Body { len: usize },
    /// Throwing away an oversized head up to its blank line, then its body: `body` is the
    /// `Content-Length` seen so far; `line_start` says the buffer starts at a line's start.
    SkipHead { line_start: bool, body: usize },
    /// Throwing away `left` bytes of an oversized body.
    SkipBody { left: usize },
}

/// Splits a byte stream into [`RawFrame`]s. Shared by both sides of the socket: [`EslCodec`] (what
/// FreeSWITCH sends) and the command codec of the simulated switch (what clients send).
#[derive(Debug, Clone)]
pub struct Framer {
    state: State,
    /// Total bytes consumed from the stream so far (the offset of `buf[0]`).
    consumed: u64,
    /// Offset where the frame being assembled started.
    frame_start: u64,
    head: Bytes,
    max_head: usize,
    max_body: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(MAX_HEAD, MAX_BODY)
    }
}

/// Finds the end of a header block in `buf[from..]`: returns (head length, terminator length),
/// both counted from `buf[0]`. A head ends at `\n\n` or `\n\r\n`, whichever comes first. Also
/// splits a plain event's own header block from its body ([`crate::event`]).
pub(crate) fn find_blank_line(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static LF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\n"));
    static CRLF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\r\n"));
    let buf = buf.get(from..)?;
    let lf = LF.find(buf);
    let before = lf.map_or(buf.len(), |i| (i + 2).min(buf.len()));
    match CRLF.find(&buf[..before]) {
        Some(i) => Some((from + i + 1, 2)),
        None => lf.map(|i| (from + i + 1, 1)),
    }
}

/// The `Content-Length` announced by a head, looked up case-insensitively (clients write it
/// either way; FreeSWITCH matches it so too).
fn content_length(head: &[u8]) -> Option<&[u8]> {
    const NAME: &[u8] = b"content-length:";
    head.split(|&c| c == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME))
            .then(|| line[NAME.len()..].trim_ascii())
    })
}

/// The `Content-Length` among the whole lines of `bytes` (the first counts only if it starts at
/// a line's start); a value that does not parse counts as none.
fn skipped_content_length(bytes: &[u8], line_start: bool) -> Option<usize> {
    let lines = if line_start {
        bytes
    } else {
        &bytes[memchr::memchr(b'\n', bytes)? + 1..]
    };
    std::str::from_utf8(content_length(lines)?)
        .ok()?
        .parse()
        .ok()
}

/// Most room reserved ahead of a body's bytes.
const RESERVE_AHEAD: usize = 64 * 1024;

/// Longest unfinished line of an oversized head kept back for the next scan (never more than the
/// head limit), so that a `Content-Length` split between reads is still seen whole.
const KEEP_LINE: usize = 64;

impl Framer {
    /// A framer with its own limits: heads longer than `max_head` and bodies longer than
    /// `max_body` bytes are refused and skipped. `Default` uses [`MAX_HEAD`] and [`MAX_BODY`].
    pub fn new(max_head: usize, max_body: usize) -> Framer {
        Framer {
            state: State::Head { scanned: 0 },
            consumed: 0,
            frame_start: 0,
            head: Bytes::new(),
            max_head,
            max_body,
        }
    }

    /// Offset in the stream of the next byte to be decoded.
    pub fn offset(&self) -> u64 {
        self.consumed
    }

    fn advance(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.consumed += n as u64;
    }

    fn take(&mut self, buf: &mut BytesMut, n: usize) -> Bytes {
        self.consumed += n as u64;
        buf.split_to(n).freeze()
    }

    /// Throws away what can go of an oversized head with no terminator in `buf` yet, noting its
    /// `Content-Length`. Kept back: the last line's `\n` and the unfinished line after it when
    /// short (else only the last two bytes, where a terminator can start).
    fn skip_head_part(&mut self, buf: &mut BytesMut, line_start: bool, body: usize) {
        let (cut, next_line_start) = match memchr::memrchr(b'\n', buf) {
            Some(nl) if buf.len() - nl <= KEEP_LINE.min(self.max_head) => (nl, true),
            _ => (buf.len().saturating_sub(2), false),
        };
        let body = skipped_content_length(&buf[..cut], line_start).unwrap_or(body);
        self.advance(buf, cut);
        self.state = State::SkipHead {
            line_start: next_line_start,
            body,
        };
    }

    /// Where the framer goes once an oversized head is gone: its body is skipped too.
    fn after_skipped_head(body: usize) -> State {
        if body > 0 {
            State::SkipBody { left: body }
        } else {
            State::Head { scanned: 0 }
        }
    }

    /// Returns the next complete frame, `Ok(None)` when more bytes are needed, or an error for a
    /// malformed frame (after which the framer is ready for the next frame where it can be found).
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, CodecError> {
        loop {
            match self.state {
                State::Head { scanned } => {
                    // Blank lines between frames carry nothing.
                    let blank = buf
                        .iter()
                        .take_while(|&&c| c == b'\n' || c == b'\r')
                        .count();
                    if blank > 0 && scanned == 0 {
                        self.advance(buf, blank);
                        continue;
                    }
                    let Some((head_len, term)) = find_blank_line(buf, scanned) else {
                        if buf.len() > self.max_head {
                            let offset = self.consumed;
                            self.skip_head_part(buf, true, 0);
                            return Err(CodecError::HeadTooLarge {
                                offset,
                                limit: self.max_head,
                            });
                        }
                        // A terminator can still start at the last two bytes (`\n\r` waiting
                        // for its `\n`): scan them again next time.
                        self.state = State::Head {
                            scanned: buf.len().saturating_sub(2),
                        };
                        return Ok(None);
                    };
                    self.frame_start = self.consumed;
                    if head_len > self.max_head {
                        let body = skipped_content_length(&buf[..head_len], true).unwrap_or(0);
                        self.advance(buf, head_len + term);
                        self.state = Self::after_skipped_head(body);
                        return Err(CodecError::HeadTooLarge {
                            offset: self.frame_start,
                            limit: self.max_head,
                        });
                    }
                    let head = self.take(buf, head_len);
                    self.advance(buf, term);
                    self.state = State::Head { scanned: 0 };
                    let len = match content_length(&head) {
                        None => 0,
                        Some(v) => match std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()) {
                            Some(len) => len,
                            None => {
                                return Err(CodecError::BadContentLength {
                                    offset: self.frame_start,
                                    value: String::from_utf8_lossy(v).into_owned(),
                                });
                            }
                        },
                    };
                    if len > self.max_body {
                        self.state = State::SkipBody { left: len };
                        return Err(CodecError::BodyTooLarge {
                            offset: self.frame_start,
                            len,
                            limit: self.max_body,
                        });
                    }
                    if len == 0 {
                        return Ok(Some(RawFrame {
                            offset: self.frame_start,
                            head,
                            body: None,
                        }));
                    }
                    self.head = head;
                    self.state = State::Body { len };
                }
                State::Body { len } => {
                    if buf.len() < len {
                        // A peer's word is not memory: at most RESERVE_AHEAD at a time, the
                        // buffer grows as the bytes really come (the outbound listener accepts
                        // unauthenticated peers, and a header of 40 bytes can announce 16 MiB).
                        buf.reserve((len - buf.len()).min(RESERVE_AHEAD));
                        return Ok(None);
                    }
                    let body = self.take(buf, len);
                    self.state = State::Head { scanned: 0 };
                    return Ok(Some(RawFrame {
                        offset: self.frame_start,
                        head: std::mem::take(&mut self.head),
                        body: Some(body),
                    }));
                }
                State::SkipHead { line_start, body } => match find_blank_line(buf, 0) {
                    Some((head_len, term)) => {
                        let body =
                            skipped_content_length(&buf[..head_len], line_start).unwrap_or(body);
                        self.advance(buf, head_len + term);
                        self.state = Self::after_skipped_head(body);
                    }
                    None => {
                        self.skip_head_part(buf, line_start, body);
                        return Ok(None);
                    }
                },
                State::SkipBody { left } => {
                    let n = left.min(buf.len());
                    self.advance(buf, n);
                    if n < left {
                        self.state = State::SkipBody { left: left - n };
                        return Ok(None);
                    }
                    self.state = State::Head { scanned: 0 };
                }
            }
        }
    }

    /// At the end of the stream: leftover bytes of an unfinished frame are an error.
    pub fn finish(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, CodecError> {
        if let Some(frame) = self.next_frame(buf)? {
            return Ok(Some(frame));
        }
        let unfinished = match self.state {
            State::Head { .. } => buf.iter().any(|&c| c != b'\n' && c != b'\r'),
            State::Body { .. } => true,
            State::SkipHead { .. } | State::SkipBody { .. } => false,
        };
        let offset = match self.state {
            State::Body { .. } => self.frame_start,
            _ => self.consumed,
        };
        let pending = (self.consumed - offset) as usize + buf.len();
        let n = buf.len();
        self.advance(buf, n);
        self.head = Bytes::new();
        self.state = State::Head { scanned: 0 };
        if unfinished {
            return Err(CodecError::Truncated { offset, pending });
        }
        Ok(None)
    }
}

/// A frame from FreeSWITCH with its header block parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Byte offset of the frame's first byte in the stream.
    pub offset: u64,
    /// The outer headers (`Content-Type`, `Reply-Text`, `Content-Length`, …), values
    /// percent-decoded on read.
    pub headers: Headers,
    /// The `Content-Length` bytes that followed the head, if any.
    pub body: Option<Bytes>,
}

impl Frame {
    /// Parses the head of a raw frame. Outer header values are percent-decoded on read (FreeSWITCH
    /// encodes them in the outbound `connect` reply).
    pub fn from_raw(raw: RawFrame) -> Result<Frame, CodecError> {
        let headers = Headers::parse(raw.head, true).map_err(|source| CodecError::BadHeader {
            offset: raw.offset,
            source,
        })?;
        Ok(Frame {
            offset: raw.offset,
            headers,
            body: raw.body,
        })
    }

    /// The `Content-Type` header (`auth/request`, `command/reply`, `api/response`,
    /// `text/event-plain`, …), which says what the frame is ([`Message::from_frame`]).
    ///
    /// [`Message::from_frame`]: crate::message::Message::from_frame
    pub fn content_type(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.headers.get("Content-Type")
    }
}

/// Writes a frame the way FreeSWITCH does: the header lines as given (already encoded), a
/// `Content-Length` line when there is a body (unless the headers hold one), a blank line, the
/// body.
pub fn write_frame(dst: &mut BytesMut, headers: &[(&str, &str)], body: Option<&[u8]>) {
    for (name, value) in headers {
        dst.put_slice(name.as_bytes());
        dst.put_slice(b": ");
        dst.put_slice(value.as_bytes());
        dst.put_u8(b'\n');
    }
    if let Some(body) = body {
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("Content-Length"))
        {
            dst.put_slice(format!("Content-Length: {}\n", body.len()).as_bytes());
        }
    }
    dst.put_u8(b'\n');
    if let Some(body) = body {
        dst.put_slice(body);
    }
}

/// The client side's codec: decodes what FreeSWITCH sends into [`Frame`]s.
#[derive(Debug, Default)]
pub struct EslCodec {
    framer: Framer,
}

impl EslCodec {
    /// A codec with the default limits ([`MAX_HEAD`], [`MAX_BODY`]).
    pub fn new() -> EslCodec {
        EslCodec::default()
    }

    /// Offset in the stream of the next byte to be decoded (bytes consumed so far).
    pub fn offset(&self) -> u64 {
        self.framer.offset()
    }
}

impl Decoder for EslCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        self.framer
            .next_frame(buf)?
            .map(Frame::from_raw)
            .transpose()
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        self.framer.finish(buf)?.map(Frame::from_raw).transpose()
    }
}

/// Raw bytes pass through (commands encode themselves; see `command.rs`).
impl Encoder<Bytes> for EslCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.put_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut EslCodec, bytes: &[u8]) -> Vec<Result<Frame, String>> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => break,
                Err(e) => out.push(Err(e.to_string())),
            }
        }
        match codec.decode_eof(&mut buf) {
            Ok(Some(f)) => out.push(Ok(f)),
            Ok(None) => {}
            Err(e) => out.push(Err(e.to_string())),
        }
        out
    }

    #[test]
    fn head_only_and_body_frames() {
        let wire = b"Content-Type: auth/request\n\nContent-Type: api/response\nContent-Length: 5\n\nsolarContent-Type: command/reply\nReply-Text: +OK accepted\n\n";
        let frames = decode_all(&mut EslCodec::new(), wire);
        assert_eq!(frames.len(), 3);
        let f: Vec<Frame> = frames.into_iter().map(Result::unwrap).collect();
        assert_eq!(f[0].content_type().as_deref(), Some("auth/request"));
        assert_eq!(f[0].body, None);
        assert_eq!(f[1].body.as_deref(), Some(&b"solar"[..]));
        assert_eq!(f[1].offset, 28);
        assert_eq!(
            f[2].headers.get("Reply-Text").as_deref(),
            Some("+OK accepted")
        );
    }

    #[test]
    fn crlf_frames() {
        let wire =
            b"Content-Type: api/response\r\nContent-Length: 3\r\n\r\n+OKContent-Type: x\r\n\r\n";
        let f: Vec<Frame> = decode_all(&mut EslCodec::new(), wire)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].body.as_deref(), Some(&b"+OK"[..]));
        assert_eq!(f[1].content_type().as_deref(), Some("x"));
    }

    #[test]
    fn byte_at_a_time_gives_the_same_frames() {
        let wire = b"Content-Type: api/response\nContent-Length: 5\n\nsolarContent-Type: b\n\n";
        let whole = decode_all(&mut EslCodec::new(), wire);
        let mut codec = EslCodec::new();
        let mut buf = BytesMut::new();
        let mut pieces: Vec<Result<Frame, String>> = Vec::new();
        for &b in wire {
            buf.put_u8(b);
            while let Some(f) = codec.decode(&mut buf).expect("test input") {
                pieces.push(Ok(f));
            }
        }
        assert_eq!(format!("{whole:?}"), format!("{pieces:?}"));
    }

    #[test]
    fn crlf_head_split_between_its_last_two_line_ends() {
        let wire = b"Content-Type: x\r\n\r\nContent-Type: y\r\n\r\n";
        let mut codec = EslCodec::new();
        let mut buf = BytesMut::new();
        let mut types = Vec::new();
        for &b in wire {
            buf.put_u8(b);
            while let Some(f) = codec.decode(&mut buf).expect("test input") {
                types.push(f.content_type().map(|t| t.into_owned()));
            }
        }
        assert_eq!(types, [Some("x".to_owned()), Some("y".to_owned())]);
    }

    #[test]
    fn oversized_body_is_refused_before_buffering_and_skipped() {
        let mut codec = EslCodec {
            framer: Framer::new(1024, 8),
        };
        let wire = b"Content-Length: 9\n\n123456789Content-Type: next\n\n";
        let out = decode_all(&mut codec, wire);
        assert!(
            out[0]
                .as_ref()
                .expect_err("test input is refused")
                .contains("over the 8-byte limit")
        );
        assert_eq!(
            out[1]
                .as_ref()
                .expect("test input")
                .content_type()
                .as_deref(),
            Some("next")
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn oversized_head_is_refused_and_skipped() {
        let mut codec = EslCodec {
            framer: Framer::new(32, 8),
        };
        let mut wire = b"X: ".to_vec();
        wire.extend(std::iter::repeat_n(b'a', 100));
        wire.extend_from_slice(b"\n\nContent-Type: ok\n\n");
        let out = decode_all(&mut codec, &wire);
        assert!(
            out[0]
                .as_ref()
                .expect_err("test input is refused")
                .starts_with("at byte 0: header block longer")
        );
        assert_eq!(
            out[1]
                .as_ref()
                .expect("test input")
                .content_type()
                .as_deref(),
            Some("ok")
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn bad_content_length_and_bad_header_report_offsets_and_go_on() {
        let wire = b"Content-Length: ten\n\nnot a header\n\nContent-Type: ok\n\n";
        let out = decode_all(&mut EslCodec::new(), wire);
        assert_eq!(
            out[0].as_ref().expect_err("test input is refused"),
            "at byte 0: Content-Length \"ten\" is not a byte count"
        );
        assert!(
            out[1]
                .as_ref()
                .expect_err("test input is refused")
                .starts_with("at byte 21: header line 1")
        );
        assert_eq!(
            out[2]
                .as_ref()
                .expect("test input")
                .content_type()
                .as_deref(),
            Some("ok")
        );
    }

    #[test]
    fn written_frames_announce_their_body() {
        let mut wire = BytesMut::new();
        write_frame(
            &mut wire,
            &[("Content-Type", "api/response")],
            Some(b"solar"),
        );
        write_frame(
            &mut wire,
            &[("Content-Length", "3"), ("Content-Type", "x")],
            Some(b"abc"),
        );
        write_frame(&mut wire, &[("Content-Type", "command/reply")], None);
        assert_eq!(
            &wire[..],
            b"Content-Type: api/response\nContent-Length: 5\n\nsolarContent-Length: 3\nContent-Type: x\n\nabcContent-Type: command/reply\n\n"
        );
        let f: Vec<Frame> = decode_all(&mut EslCodec::new(), &wire)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].body.as_deref(), Some(&b"solar"[..]));
    }

    #[test]
    fn truncated_stream_is_an_error_at_eof() {
        let out = decode_all(&mut EslCodec::new(), b"Content-Length: 10\n\nabc");
        assert_eq!(
            out[0].as_ref().expect_err("test input is refused"),
            "at byte 0: stream ended inside a frame (23 bytes pending)"
        );
        let out = decode_all(&mut EslCodec::new(), b"Content-Type: x\n\n\n");
        assert_eq!(out.len(), 1);
        assert!(out[0].is_ok());
    }

    #[test]
    fn an_oversized_heads_body_is_skipped_too() {
        let mut oversized = b"Content-Type: text/event-plain\nContent-Length: 40\nX: ".to_vec();
        oversized.extend(std::iter::repeat_n(b'a', 100));
        oversized.extend_from_slice(b"\n\n");
        // The body looks like a frame of its own: it must not be read as one.
        oversized.extend_from_slice(b"Content-Type: not/me\n\n0123456789abcdefgh");
        assert_eq!(oversized.len(), 53 + 100 + 2 + 40);
        for long_line_first in [false, true] {
            // The Content-Length comes first, or after a long line the skipper cuts mid-way.
            let mut wire = if !long_line_first {
                oversized.clone()
            } else {
                let mut w = b"X: ".to_vec();
                w.extend(std::iter::repeat_n(b'b', 100));
                w.push(b'\n');
                w.extend_from_slice(&oversized);
                w
            };
            wire.extend_from_slice(b"Content-Type: ok\nContent-Length: 2\n\nhi");
            // Whole, and byte by byte (the skipper then sees the head a little at a time).
            for chunked in [false, true] {
                let mut codec = EslCodec {
                    framer: Framer::new(48, 1024),
                };
                let out = if chunked {
                    let mut buf = BytesMut::new();
                    let mut out = Vec::new();
                    for &b in &wire {
                        buf.extend_from_slice(&[b]);
                        loop {
                            match codec.decode(&mut buf) {
                                Ok(Some(f)) => out.push(Ok(f)),
                                Ok(None) => break,
                                Err(e) => out.push(Err(e.to_string())),
                            }
                        }
                    }
                    if let Ok(Some(f)) = codec.decode_eof(&mut buf) {
                        out.push(Ok(f));
                    }
                    out
                } else {
                    decode_all(&mut codec, &wire)
                };
                assert_eq!(
                    out.len(),
                    2,
                    "chunked {chunked}, long {long_line_first}: {out:?}"
                );
                assert!(
                    out[0]
                        .as_ref()
                        .expect_err("test input is refused")
                        .contains("header block longer")
                );
                let frame = out[1].as_ref().expect("test input");
                assert_eq!(frame.content_type().as_deref(), Some("ok"));
                assert_eq!(frame.body.as_deref(), Some(&b"hi"[..]));
            }
        }
    }

    #[test]
    fn an_announced_body_does_not_reserve_its_whole_length_up_front() {
        let mut codec = EslCodec::new();
        let len = MAX_BODY;
        let mut buf = BytesMut::from(format!("Content-Length: {len}\n\n").as_bytes());
        assert!(codec.decode(&mut buf).expect("test input").is_none());
        assert!(
            buf.capacity() <= 2 * RESERVE_AHEAD,
            "reserved {} bytes before any body byte",
            buf.capacity()
        );
        // The bytes still make the frame as they come.
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..len / chunk.len() - 1 {
            buf.extend_from_slice(&chunk);
            assert!(codec.decode(&mut buf).expect("test input").is_none());
        }
        buf.extend_from_slice(&chunk);
        let frame = codec
            .decode(&mut buf)
            .expect("test input")
            .expect("test input");
        assert_eq!(frame.body.map(|b| b.len()), Some(len));
    }
}
