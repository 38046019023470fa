//! A block of `Name: value` header lines, kept as spans into one shared buffer.
//!
//! Parsing records where each name and value lies; nothing is copied or decoded until a value is
//! read. Values on the wire are percent-encoded (plain events, the outbound `connect` reply), so
//! [`Headers::get`] decodes them; a header block built from JSON holds values that are already
//! decoded. FreeSWITCH writes an empty value as `_undef_`: `get` gives it back as `""`.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::tag;
use nom::combinator::opt;

/// FreeSWITCH's spelling of an empty value.
pub const UNDEF: &str = "_undef_";
/// The prefix FreeSWITCH puts on array values: `ARRAY::one|:two`.
pub const ARRAY_PREFIX: &str = "ARRAY::";

/// Why a header block could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A line has no `:`, or nothing before it.
    #[error("header line {line} has no `Name: value` form: {text:?}")]
    Malformed {
        /// 1-based line number within the block.
        line: usize,
        /// The line (its first 120 bytes, lossy UTF-8).
        text: String,
    },
    /// A header name is not UTF-8 (values are not checked: they are read as lossy UTF-8).
    #[error("header block is not valid UTF-8 at line {line}")]
    NotUtf8 {
        /// 1-based line number within the block.
        line: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    name: Range<u32>,
    value: Range<u32>,
}

/// An ordered list of headers over a shared buffer. Cloning is cheap (the buffer is shared).
#[derive(Clone, Default)]
pub struct Headers {
    buf: Bytes,
    spans: Vec<Span>,
    /// Whether values are percent-encoded in `buf` (wire form) or stored as they are.
    encoded: bool,
}

/// Two header blocks are equal when they hold the same decoded pairs in the same order, whatever
/// their wire form.
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A header name: everything before the first colon, at least one byte (a vectorised search:
/// this is the hottest loop of event parsing).
fn name(line: &[u8]) -> IResult<&[u8], &[u8]> {
    match memchr::memchr(b':', line) {
        Some(n) if n > 0 => Ok((&line[n..], &line[..n])),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            line,
            nom::error::ErrorKind::TakeTill1,
        ))),
    }
}

/// One header line: `Name: value` (the space after the colon is optional, the value ends at the
/// first `\r`). Runs over a complete line, never over a partial read. `may_hold_cr` is false when
/// the whole block has no `\r`, which spares a search per line.
fn header_line(line: &[u8], may_hold_cr: bool) -> IResult<&[u8], (&[u8], &[u8])> {
    let (rest, name) = name(line)?;
    let (rest, _) = tag(&b":"[..]).parse(rest)?;
    let (rest, _) = opt(tag(&b" "[..])).parse(rest)?;
    let value_len = if may_hold_cr {
        memchr::memchr(b'\r', rest).unwrap_or(rest.len())
    } else {
        rest.len()
    };
    Ok((&rest[value_len..], (name, &rest[..value_len])))
}

impl Headers {
    /// Parses header lines (`\n` or `\r\n` separated) from `buf`, which holds exactly the block
    /// (no blank terminator line; a trailing newline is allowed). Values stay percent-encoded in
    /// the buffer and are decoded on read when `encoded` is true.
    pub fn parse(buf: Bytes, encoded: bool) -> Result<Headers, HeaderError> {
        // FreeSWITCH's header lines average well over 16 bytes: one allocation, no regrowth.
        let mut spans = Vec::with_capacity((buf.len() / 16 + 1).min(1024));
        let base = buf.as_ptr() as usize;
        let may_hold_cr = memchr::memchr(b'\r', &buf).is_some();
        // One pass for the line ends over the whole block (a search per line costs more).
        let mut ends = memchr::memchr_iter(b'\n', &buf).chain(std::iter::once(buf.len()));
        let mut start = 0;
        let mut line_no = 0;
        while start < buf.len() {
            let Some(end) = ends.next() else { break };
            let line = &buf[start..end];
            start = end + 1;
            line_no += 1;
            if line.is_empty() || line == b"\r" {
                continue;
            }
            let (_, (name, value)) =
                header_line(line, may_hold_cr).map_err(|_| HeaderError::Malformed {
                    line: line_no,
                    text: String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned(),
                })?;
            if !name.is_ascii() && std::str::from_utf8(name).is_err() {
                return Err(HeaderError::NotUtf8 { line: line_no });
            }
            let at = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
            spans.push(Span {
                name: at(name)..at(name) + name.len() as u32,
                value: at(value)..at(value) + value.len() as u32,
            });
        }
        Ok(Headers {
            buf,
            spans,
            encoded,
        })
    }

    /// Builds a header block from decoded pairs (for JSON events and for tests).
    pub fn from_pairs<'a, I>(pairs: I) -> Headers
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for (name, value) in pairs {
            let n = buf.len() as u32;
            buf.extend_from_slice(name.as_bytes());
            let v = buf.len() as u32;
            buf.extend_from_slice(value.as_bytes());
            spans.push(Span {
                name: n..v,
                value: v..buf.len() as u32,
            });
        }
        Headers {
            buf: Bytes::from(buf),
            spans,
            encoded: false,
        }
    }

    /// Builds a header block over `buf`, where every span is a `(name, value)` pair of byte
    /// ranges into it and values are stored decoded (the json event parser fills these).
    pub(crate) fn from_spans(buf: Bytes, spans: Vec<(Range<u32>, Range<u32>)>) -> Headers {
        Headers {
            buf,
            spans: spans
                .into_iter()
                .map(|(name, value)| Span { name, value })
                .collect(),
            encoded: false,
        }
    }

    /// Builds a header block over `buf`, where every span is a `(name, value)` pair of byte
    /// ranges into it and values are stored decoded. The spans are copied into a list of their
    /// exact length (the simulator writes every event's spans into one list it reuses).
    #[cfg(feature = "server")]
    pub fn from_span_slice(buf: Bytes, spans: &[(Range<u32>, Range<u32>)]) -> Headers {
        let mut list = Vec::with_capacity(spans.len());
        list.extend(spans.iter().map(|(name, value)| Span {
            name: name.clone(),
            value: value.clone(),
        }));
        Headers {
            buf,
            spans: list,
            encoded: false,
        }
    }

    /// Number of header lines (a repeated name counts each time).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the block holds no header.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn name_bytes(&self, span: &Span) -> &[u8] {
        &self.buf[span.name.start as usize..span.name.end as usize]
    }

    fn name_at(&self, span: &Span) -> &str {
        // Checked to be UTF-8 when parsed, or built from a &str.
        std::str::from_utf8(&self.buf[span.name.start as usize..span.name.end as usize])
            .unwrap_or("")
    }

    fn value_at(&self, span: &Span) -> Cow<'_, str> {
        let raw = &self.buf[span.value.start as usize..span.value.end as usize];
        let value = if self.encoded {
            percent_decode(raw)
        } else {
            String::from_utf8_lossy(raw)
        };
        if value == UNDEF {
            Cow::Borrowed("")
        } else {
            value
        }
    }

    /// The decoded value of the first header named exactly `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.spans
            .iter()
            .find(|s| self.name_bytes(s) == name.as_bytes())
            .map(|s| self.value_at(s))
    }

    /// The value as it was on the wire (still percent-encoded), for callers that must not lose a
    /// literal `%XX`.
    pub fn get_raw(&self, name: &str) -> Option<&[u8]> {
        self.spans
            .iter()
            .find(|s| self.name_bytes(s) == name.as_bytes())
            .map(|s| &self.buf[s.value.start as usize..s.value.end as usize])
    }

    /// A header holding `ARRAY::a|:b` split into its items; a plain value is a one-item list.
    pub fn get_array(&self, name: &str) -> Option<Vec<String>> {
        let value = self.get(name)?;
        Some(match value.strip_prefix(ARRAY_PREFIX) {
            Some(items) => items.split("|:").map(str::to_owned).collect(),
            None => vec![value.into_owned()],
        })
    }

    /// Every header in order, values decoded.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        self.spans
            .iter()
            .map(|s| (self.name_at(s), self.value_at(s)))
    }
}

/// Decodes `%XX` escapes (and nothing else: FreeSWITCH does not turn `+` into a space). A `%`
/// not followed by two hex digits is kept as it is. Borrows when there is nothing to decode.
pub fn percent_decode(raw: &[u8]) -> Cow<'_, str> {
    if memchr::memchr(b'%', raw).is_none() {
        return String::from_utf8_lossy(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Characters FreeSWITCH's `switch_url_encode` escapes besides controls and non-ASCII
/// (`SWITCH_URL_UNSAFE` in switch_utils.h).
#[cfg(feature = "server")]
const URL_UNSAFE: &[u8] = b"\r\n \"#%&+:;<=>?@[\\]^`{|}";

/// Percent-encodes a value the way FreeSWITCH writes plain event headers.
#[cfg(feature = "server")]
pub fn percent_encode(value: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in value.as_bytes() {
        if !(b' '..=b'~').contains(&c) || URL_UNSAFE.contains(&c) {
            out.extend_from_slice(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Headers {
        Headers::parse(Bytes::copy_from_slice(s.as_bytes()), true).expect("parses")
    }

    #[test]
    fn decodes_values_and_keeps_order() {
        let h = parse("Event-Name: CODEC\nFreeSWITCH-IPv6: fd00%3A%3A2\nEmpty: _undef_\n");
        assert_eq!(h.get("Event-Name").as_deref(), Some("CODEC"));
        assert_eq!(h.get("FreeSWITCH-IPv6").as_deref(), Some("fd00::2"));
        assert_eq!(h.get("Empty").as_deref(), Some(""));
        assert_eq!(h.get_raw("FreeSWITCH-IPv6"), Some(&b"fd00%3A%3A2"[..]));
        let names: Vec<_> = h.iter().map(|(n, _)| n.to_owned()).collect();
        assert_eq!(names, ["Event-Name", "FreeSWITCH-IPv6", "Empty"]);
    }

    #[test]
    fn names_compare_exactly() {
        let h = parse("Channel-Read-Codec-Name: L16\nchannel-read-codec-name: PCMU\n");
        assert_eq!(h.get("Channel-Read-Codec-Name").as_deref(), Some("L16"));
        assert_eq!(h.get("channel-read-codec-name").as_deref(), Some("PCMU"));
        assert_eq!(h.get("CHANNEL-READ-CODEC-NAME"), None);
    }

    #[test]
    fn crlf_and_missing_space_and_empty_value() {
        let h = parse("A: 1\r\nB:2\r\nC: \r\n");
        assert_eq!(h.get("A").as_deref(), Some("1"));
        assert_eq!(h.get("B").as_deref(), Some("2"));
        assert_eq!(h.get("C").as_deref(), Some(""));
    }

    #[test]
    fn arrays_split() {
        let h = parse("variable_DP_MATCH: ARRAY::18005550199|:18005550199\nOne: x\n");
        assert_eq!(
            h.get_array("variable_DP_MATCH").expect("test input"),
            ["18005550199", "18005550199"]
        );
        assert_eq!(h.get_array("One").expect("test input"), ["x"]);
    }

    #[test]
    fn malformed_line_is_an_error_with_its_number() {
        let err = Headers::parse(Bytes::from_static(b"A: 1\nno colon here\n"), true)
            .expect_err("test input is refused");
        assert_eq!(
            err,
            HeaderError::Malformed {
                line: 2,
                text: "no colon here".into()
            }
        );
    }

    #[test]
    fn percent_decoding_edges() {
        assert_eq!(percent_decode(b"%2BOK%0A"), "+OK\n");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz%4"), "%zz%4");
        assert_eq!(percent_decode(b"a+b"), "a+b");
    }

    #[test]
    #[cfg(feature = "server")]
    fn encode_then_decode_is_identity() {
        for s in ["Tue, 24 Nov 2026 11:56:28 GMT", "a|b:c%d\n", "héllo", ""] {
            let mut out = Vec::new();
            percent_encode(s, &mut out);
            assert!(!out.contains(&b'\n') && !out.contains(&b' '));
            assert_eq!(percent_decode(&out), s);
        }
        let mut out = Vec::new();
        percent_encode("Tue, 24 Nov 2026 11:56:28 GMT", &mut out);
        assert_eq!(out, b"Tue,%2024%20Nov%202026%2011%3A56%3A28%20GMT");
    }
}
