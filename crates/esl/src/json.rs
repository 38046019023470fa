//! The json form of an event (`text/event-json`): one flat JSON object whose values are strings,
//! arrays of strings (FreeSWITCH's multi-valued headers) or, rarely, bare numbers, with the event's
//! body under `_body`.
//!
//! A general JSON library would build a `String` per key and a tree per value and then copy them
//! again; this scanner writes every decoded key and value once into a single buffer and records
//! spans, so a json event costs one allocation for its headers. Arrays become FreeSWITCH's plain
//! form `ARRAY::a|:b`, so both forms read alike. Nested objects never occur in events and are
//! refused.

use std::ops::Range;

use bytes::Bytes;

use super::headers::{ARRAY_PREFIX, Headers};

/// Why a json event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("json event, byte {at}: {problem}")]
pub struct JsonError {
    /// Byte offset in the event body (the frame's body) where reading stopped.
    pub at: usize,
    /// What was wrong there (`unterminated string`, `nested object`, …).
    pub problem: &'static str,
}

/// Walks the input once. Keys and values without escapes are recorded as spans into the input
/// (no copy); the few that must change (escaped strings, arrays) are written to `extra`, whose
/// spans are offset by the input's length, as if `extra` followed the input.
struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
    extra: Vec<u8>,
}

type Pair = (Range<u32>, Range<u32>);

impl Scanner<'_> {
    fn fail<T>(&self, problem: &'static str) -> Result<T, JsonError> {
        Err(JsonError {
            at: self.pos,
            problem,
        })
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.input.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, problem: &'static str) -> Result<(), JsonError> {
        self.skip_ws();
        if self.input.get(self.pos) != Some(&byte) {
            return self.fail(problem);
        }
        self.pos += 1;
        Ok(())
    }

    /// Where the next byte written to `extra` will be, in the joined address space.
    fn extra_mark(&self) -> u32 {
        (self.input.len() + self.extra.len()) as u32
    }

    fn span(start: usize, end: usize) -> Range<u32> {
        start as u32..end as u32
    }

    /// A string (the opening quote already consumed): a span of the input when it holds no
    /// escape, else decoded onto the end of `extra`.
    fn string(&mut self) -> Result<Range<u32>, JsonError> {
        let start = self.pos;
        let Some(i) = memchr::memchr2(b'"', b'\\', &self.input[start..]) else {
            return self.fail("unterminated string");
        };
        if self.input[start + i] == b'"' {
            self.pos = start + i + 1;
            return Ok(Self::span(start, start + i));
        }
        let from = self.extra_mark();
        self.extra.extend_from_slice(&self.input[start..start + i]);
        self.pos = start + i;
        self.decode_rest()?;
        Ok(from..self.extra_mark())
    }

    /// Decodes the rest of a string from an escape (at `pos`) to its closing quote onto `extra`.
    fn decode_rest(&mut self) -> Result<(), JsonError> {
        loop {
            let rest = &self.input[self.pos..];
            let Some(i) = memchr::memchr2(b'"', b'\\', rest) else {
                return self.fail("unterminated string");
            };
            self.extra.extend_from_slice(&rest[..i]);
            self.pos += i + 1;
            if rest[i] == b'"' {
                return Ok(());
            }
            let Some(&escape) = self.input.get(self.pos) else {
                return self.fail("unterminated escape");
            };
            self.pos += 1;
            let byte = match escape {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let c = self.unicode_escape()?;
                    let mut utf8 = [0; 4];
                    self.extra
                        .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    continue;
                }
                _ => return self.fail("unknown escape"),
            };
            self.extra.push(byte);
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(digits) = self.input.get(self.pos..self.pos + 4) else {
            return self.fail("short \\u escape");
        };
        let text = std::str::from_utf8(digits).ok();
        let Some(value) = text.and_then(|t| u32::from_str_radix(t, 16).ok()) else {
            return self.fail("bad \\u escape");
        };
        self.pos += 4;
        Ok(value)
    }

    /// A `\uXXXX` escape, joining a surrogate pair; a lone surrogate reads as U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.input[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = save;
        }
        Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// A bare number, `true` or `false` (its text), or `null` (empty).
    fn literal(&mut self) -> Result<Range<u32>, JsonError> {
        let start = self.pos;
        while let Some(c) = self.input.get(self.pos) {
            if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.pos += 1;
        }
        let text = &self.input[start..self.pos];
        let number = text
            .iter()
            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(c));
        match text {
            b"null" => Ok(Self::span(start, start)),
            b"true" | b"false" => Ok(Self::span(start, self.pos)),
            _ if number && !text.is_empty() => Ok(Self::span(start, self.pos)),
            _ => self.fail("expected a string, array, number, true, false or null"),
        }
    }

    /// An array of scalars, written to `extra` as `ARRAY::a|:b`.
    fn array(&mut self) -> Result<Range<u32>, JsonError> {
        let from = self.extra_mark();
        self.extra.extend_from_slice(ARRAY_PREFIX.as_bytes());
        self.skip_ws();
        if self.input.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(from..self.extra_mark());
        }
        let mut first = true;
        loop {
            if !first {
                self.extra.extend_from_slice(b"|:");
            }
            first = false;
            self.skip_ws();
            let item = match self.input.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    self.string()?
                }
                Some(b'[' | b'{') => return self.fail("nested value in an array"),
                _ => self.literal()?,
            };
            // An item decoded into `extra` is already in place; one from the input is copied.
            if (item.end as usize) <= self.input.len() {
                let text = &self.input[item.start as usize..item.end as usize];
                self.extra.extend_from_slice(text);
            }
            self.skip_ws();
            match self.input.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(from..self.extra_mark());
                }
                _ => return self.fail("expected `,` or `]`"),
            }
        }
    }

    fn value(&mut self) -> Result<Range<u32>, JsonError> {
        self.skip_ws();
        match self.input.get(self.pos) {
            Some(b'"') => {
                self.pos += 1;
                self.string()
            }
            Some(b'[') => {
                self.pos += 1;
                self.array()
            }
            Some(b'{') => self.fail("nested object"),
            _ => self.literal(),
        }
    }

    fn text(&self, range: &Range<u32>) -> &[u8] {
        let (start, end) = (range.start as usize, range.end as usize);
        match start.checked_sub(self.input.len()) {
            Some(at) => &self.extra[at..at + (end - start)],
            None => &self.input[start..end],
        }
    }
}

/// Parses a json event into its headers and its body (`_body`). When no value needed decoding
/// (no escapes, no arrays), the headers are spans of `input` itself: nothing is copied.
pub fn parse_event(input: &Bytes) -> Result<(Headers, Option<Bytes>), JsonError> {
    if u32::try_from(input.len()).is_err() {
        return Err(JsonError {
            at: 0,
            problem: "event too large",
        });
    }
    let mut s = Scanner {
        input,
        pos: 0,
        extra: Vec::new(),
    };
    let mut pairs: Vec<Pair> = Vec::with_capacity(input.len() / 40 + 1);
    let mut body: Option<Range<u32>> = None;
    s.expect(b'{', "expected `{`")?;
    s.skip_ws();
    if s.input.get(s.pos) == Some(&b'}') {
        s.pos += 1;
    } else {
        loop {
            s.expect(b'"', "expected a key")?;
            let key = s.string()?;
            s.expect(b':', "expected `:`")?;
            let value = s.value()?;
            if s.text(&key) == b"_body" {
                body = Some(value);
            } else {
                pairs.push((key, value));
            }
            s.skip_ws();
            match s.input.get(s.pos) {
                Some(b',') => s.pos += 1,
                Some(b'}') => {
                    s.pos += 1;
                    break;
                }
                _ => return s.fail("expected `,` or `}`"),
            }
        }
    }
    s.skip_ws();
    if s.pos != input.len() {
        return s.fail("trailing bytes after the object");
    }
    if u32::try_from(input.len() + s.extra.len()).is_err() {
        return s.fail("event too large");
    }
    let buf = if s.extra.is_empty() {
        input.clone()
    } else {
        let mut joined = Vec::with_capacity(input.len() + s.extra.len());
        joined.extend_from_slice(input);
        joined.extend_from_slice(&s.extra);
        Bytes::from(joined)
    };
    let body = body.map(|r| buf.slice(r.start as usize..r.end as usize));
    Ok((Headers::from_spans(buf, pairs), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(json: &str) -> Vec<(String, String)> {
        let (h, _) = parse_event(&Bytes::copy_from_slice(json.as_bytes())).expect("parses");
        h.iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn strings_arrays_literals_and_escapes() {
        let got = pairs(
            r#" { "A":"x\"y\\z\/\n\t", "B" : ["1", "2" ,3], "C":42, "D":null, "E":true, "F":"\u00e9\ud83d\ude00", "G":[] } "#,
        );
        let want = [
            ("A", "x\"y\\z/\n\t"),
            ("B", "ARRAY::1|:2|:3"),
            ("C", "42"),
            ("D", ""),
            ("E", "true"),
            ("F", "é😀"),
            ("G", "ARRAY::"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn body_is_split_off() {
        let (h, body) = parse_event(&Bytes::from_static(
            br#"{"Event-Name":"BACKGROUND_JOB","_body":"+OK abc\n"}"#,
        ))
        .expect("parses");
        assert_eq!(body.as_deref(), Some(&b"+OK abc\n"[..]));
        assert_eq!(h.len(), 1);
        assert_eq!(h.get("_body"), None);
    }

    #[test]
    fn malformed_input_says_where() {
        let cases: [(&str, usize); 8] = [
            ("", 0),
            ("[1]", 0),
            (r#"{"a":"b""#, 8),
            (r#"{"a":"b"} x"#, 10),
            (r#"{"a":{"b":1}}"#, 5),
            (r#"{"a":"\q"}"#, 8),
            (r#"{"a":"\u12"}"#, 8),
            (r#"{"a":nope}"#, 9),
        ];
        for (input, at) in cases {
            let err = parse_event(&Bytes::copy_from_slice(input.as_bytes())).expect_err(input);
            assert_eq!(err.at, at, "{input}: {err}");
        }
    }

    #[test]
    fn lone_surrogate_is_replaced_not_fatal() {
        assert_eq!(pairs(r#"{"a":"\ud800x"}"#)[0].1, "\u{fffd}x");
    }

    /// Every json event of the real captures reads the same as through serde_json.
    #[test]
    fn agrees_with_serde_json_on_the_captures() {
        use crate::codec::EslCodec;
        use tokio_util::codec::Decoder;
        let mut checked = 0;
        for name in ["inbound_json", "outbound_json"] {
            let path = format!("{}/../../captures/{name}.recv", env!("CARGO_MANIFEST_DIR"));
            let bytes = std::fs::read(&path).expect("capture");
            let mut buf = bytes::BytesMut::from(&bytes[..]);
            let mut codec = EslCodec::new();
            while let Some(frame) = codec.decode(&mut buf).expect("frames") {
                if frame.content_type().as_deref() != Some("text/event-json") {
                    continue;
                }
                let body = frame.body.expect("json body");
                let (headers, job) = parse_event(&body).expect("parses");
                let reference: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&body).expect("serde parses");
                let text = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(items) => {
                        let items: Vec<String> = items
                            .iter()
                            .map(|i| i.as_str().map(str::to_owned).unwrap_or(i.to_string()))
                            .collect();
                        format!("{ARRAY_PREFIX}{}", items.join("|:"))
                    }
                    other => other.to_string(),
                };
                // FreeSWITCH repeats a few headers (Hangup-Cause, Channel-Write-Codec-*): both
                // are kept, as in the plain form, so compare distinct names.
                let distinct: std::collections::BTreeSet<&str> =
                    headers.iter().map(|(k, _)| k).collect();
                assert_eq!(distinct.len() + job.is_some() as usize, reference.len());
                for (key, value) in &reference {
                    let ours = match key.as_str() {
                        "_body" => {
                            String::from_utf8_lossy(job.as_deref().expect("body")).into_owned()
                        }
                        _ => headers
                            .get_raw(key)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .expect(key),
                    };
                    assert_eq!(ours, text(value), "{name}: {key}");
                }
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked}");
    }
}
