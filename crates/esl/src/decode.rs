//! A raw event-socket byte stream (what FreeSWITCH sent) in, one JSON object per message out:
//! what the `parkway esl decode` command runs.
//!
//! The input is read in chunks, never whole. A malformed frame is reported with its byte offset
//! and decoding goes on at the next frame the framing can find, so one bad frame does not hide the
//! rest of a capture.

use std::io::{self, Read, Write};

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::codec::{CodecError, EslCodec, Frame};
use super::headers::Headers;
use super::message::Message;

/// How much is read from the input at a time.
const CHUNK: usize = 64 * 1024;

/// Why decoding stopped before the end of the input.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The input could not be read (interrupted reads are retried).
    #[error("reading the input: {0}")]
    Read(#[source] io::Error),
    /// The JSON output or the diagnostics could not be written.
    #[error("writing the output: {0}")]
    Write(#[source] io::Error),
}

/// What a run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages printed.
    pub messages: u64,
    /// Malformed frames or messages reported.
    pub malformed: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Decodes `input` to completion: one JSON line per message on `out`, one line per malformed
/// frame (with its byte offset) on `diag`.
pub fn decode_stream(
    mut input: impl Read,
    out: &mut impl Write,
    diag: &mut impl Write,
) -> Result<Summary, DecodeError> {
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::with_capacity(CHUNK);
    let mut chunk = vec![0u8; CHUNK];
    let mut summary = Summary::default();
    let mut line = Vec::with_capacity(4096);
    loop {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DecodeError::Read(e)),
        };
        summary.bytes += n as u64;
        let eof = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let step = if eof {
                codec.decode_eof(&mut buf)
            } else {
                codec.decode(&mut buf)
            };
            match step {
                Ok(Some(frame)) => {
                    line.clear();
                    match write_message(&mut line, frame) {
                        Ok(()) => {
                            line.push(b'\n');
                            out.write_all(&line).map_err(DecodeError::Write)?;
                            summary.messages += 1;
                        }
                        Err(e) => {
                            summary.malformed += 1;
                            writeln!(diag, "malformed message: {e}").map_err(DecodeError::Write)?;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    summary.malformed += 1;
                    report(diag, &e)?;
                }
            }
        }
        if eof {
            break;
        }
    }
    out.flush().map_err(DecodeError::Write)?;
    Ok(summary)
}

fn report(diag: &mut impl Write, e: &CodecError) -> Result<(), DecodeError> {
    // Codec errors name their byte offset in their text ("at byte N: …").
    writeln!(diag, "malformed input {e}").map_err(DecodeError::Write)
}

/// Writes one message as a JSON object (without the newline).
fn write_message(out: &mut Vec<u8>, frame: Frame) -> Result<(), super::message::MessageError> {
    let offset = frame.offset;
    let outer = frame.headers.clone();
    let body = frame.body.clone();
    let message = Message::from_frame(frame)?;
    out.extend_from_slice(format!("{{\"offset\":{offset},\"kind\":").as_bytes());
    json_str(out, message.kind());
    out.extend_from_slice(b",\"headers\":");
    json_headers(out, &outer);
    match &message {
        Message::Event(event) => {
            out.extend_from_slice(b",\"event\":{\"name\":");
            json_str(out, &event.name());
            out.extend_from_slice(b",\"headers\":");
            json_headers(out, event.headers());
            out.extend_from_slice(b",\"body\":");
            json_opt_text(out, event.body().map(|b| &b[..]));
            out.push(b'}');
        }
        _ => {
            out.extend_from_slice(b",\"body\":");
            json_opt_text(out, body.as_deref());
        }
    }
    out.push(b'}');
    Ok(())
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    // Serialising a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn json_opt_text(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => json_str(out, &String::from_utf8_lossy(b)),
        None => out.extend_from_slice(b"null"),
    }
}

/// Headers as a JSON object in wire order, values decoded.
fn json_headers(out: &mut Vec<u8>, headers: &Headers) {
    out.push(b'{');
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, name);
        out.push(b':');
        json_str(out, &value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Summary, Vec<serde_json::Value>, String) {
        let (mut out, mut diag) = (Vec::new(), Vec::new());
        let summary = decode_stream(input, &mut out, &mut diag).expect("in-memory run");
        let lines = String::from_utf8(out).expect("utf-8");
        let values = lines
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        (summary, values, String::from_utf8(diag).expect("utf-8"))
    }

    /// A frame to write: its headers and optional body.
    type Spec<'a> = (&'a [(&'a str, &'a str)], Option<&'a [u8]>);

    fn wire(frames: &[Spec<'_>]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for (headers, body) in frames {
            let len = body.map(|b| b.len().to_string());
            let mut all = headers.to_vec();
            if let Some(len) = &len {
                all.push(("Content-Length", len));
            }
            crate::codec::write_frame(&mut out, &all, *body);
        }
        out.to_vec()
    }

    #[test]
    fn events_replies_and_api_bodies() {
        let event = b"Event-Name: BACKGROUND_JOB\nJob-UUID: 7a92\nJob-Command-Arg: a%20b\nContent-Length: 15\n\n-ERR USER_BUSY\n";
        let input = wire(&[
            (
                &[
                    ("Content-Type", "command/reply"),
                    ("Reply-Text", "%2BOK%0A"),
                ],
                None,
            ),
            (&[("Content-Type", "api/response")], Some(b"solar")),
            (&[("Content-Type", "text/event-plain")], Some(event)),
        ]);
        let (summary, v, diag) = run(&input);
        assert_eq!(diag, "");
        assert_eq!(summary.messages, 3);
        assert_eq!(summary.malformed, 0);
        assert_eq!(summary.bytes, input.len() as u64);
        assert_eq!(v[0]["kind"], "command_reply");
        assert_eq!(v[0]["headers"]["Reply-Text"], "+OK\n");
        assert_eq!(v[0]["body"], serde_json::Value::Null);
        assert_eq!(v[1]["offset"], 50);
        assert_eq!(v[1]["kind"], "api_response");
        assert_eq!(v[1]["body"], "solar");
        assert_eq!(v[2]["kind"], "event");
        assert_eq!(v[2]["headers"]["Content-Type"], "text/event-plain");
        assert_eq!(v[2]["event"]["name"], "BACKGROUND_JOB");
        assert_eq!(v[2]["event"]["headers"]["Job-Command-Arg"], "a b");
        assert_eq!(v[2]["event"]["body"], "-ERR USER_BUSY\n");
    }

    #[test]
    fn malformed_frames_are_reported_with_offsets_and_the_rest_decodes() {
        let wire = b"Content-Type: a\n\nno colon\n\nContent-Length: x\n\nContent-Type: text/event-plain\nContent-Length: 9\n\nFoo: bar\nContent-Type: b\n\nContent-Length: 50\n\nshort";
        let (summary, v, diag) = run(wire);
        let kinds: Vec<_> = v
            .iter()
            .map(|m| m["headers"]["Content-Type"].clone())
            .collect();
        assert_eq!(kinds, ["a", "b"]);
        assert_eq!(summary.malformed, 4, "{diag}");
        let lines: Vec<_> = diag.lines().collect();
        assert!(lines[0].starts_with("malformed input at byte 17: header line 1"));
        assert!(lines[1].starts_with("malformed input at byte 27: Content-Length"));
        assert_eq!(
            lines[2],
            "malformed message: frame at byte 46 (text/event-plain): event has no Event-Name"
        );
        assert_eq!(
            lines[3],
            "malformed input at byte 122: stream ended inside a frame (25 bytes pending)"
        );
    }
}
