//! Writing events as FreeSWITCH writes them: the switch's side of the protocol (feature
//! `server`), for a simulated or test switch.

use bytes::{BufMut, BytesMut};

use super::Event;
use crate::headers::{ARRAY_PREFIX, percent_encode};

impl Event {
    /// Writes the event as the body of a `text/event-plain` frame, as FreeSWITCH does: values
    /// percent-encoded, a blank line, and when there is a body its `Content-Length` as the last
    /// header, a blank line and the body.
    pub fn encode_plain(&self, dst: &mut BytesMut) {
        let mut value_buf = Vec::with_capacity(128);
        for (name, value) in self.headers.iter() {
            if name == "Content-Length" {
                continue;
            }
            value_buf.clear();
            percent_encode(
                if value.is_empty() { "_undef_" } else { &value },
                &mut value_buf,
            );
            dst.put_slice(name.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(&value_buf);
            dst.put_u8(b'\n');
        }
        if let Some(body) = &self.body {
            dst.put_slice(format!("Content-Length: {}\n\n", body.len()).as_bytes());
            dst.put_slice(body);
        } else {
            dst.put_u8(b'\n');
        }
    }

    /// Writes the event as the body of a `text/event-json` frame: one line of JSON, arrays as
    /// JSON arrays, the body under `_body`.
    pub fn encode_json(&self, dst: &mut BytesMut) {
        let mut out = Vec::with_capacity(2048);
        out.push(b'{');
        let mut first = true;
        let mut entry = |out: &mut Vec<u8>, name: &str, value: serde_json::Value| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            // Writing strings and arrays of strings into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, name);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, &value);
        };
        for (name, value) in self.headers.iter() {
            if name == "Content-Length" {
                continue;
            }
            let json = match value.strip_prefix(ARRAY_PREFIX) {
                Some(items) => items.split("|:").map(serde_json::Value::from).collect(),
                None => serde_json::Value::from(value.as_ref()),
            };
            entry(&mut out, name, json);
        }
        if let Some(body) = self.body_text() {
            entry(&mut out, "Content-Length", body.len().to_string().into());
            entry(&mut out, "_body", body.as_ref().into());
        }
        out.push(b'}');
        dst.put_slice(&out);
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use crate::event::{BG_JOB, Event};

    #[test]
    fn plain_round_trip() {
        let e = Event::parse_plain(Bytes::from_static(BG_JOB)).expect("test input");
        let mut out = BytesMut::new();
        e.encode_plain(&mut out);
        assert_eq!(&out[..], BG_JOB);
        let mut json = BytesMut::new();
        e.encode_json(&mut json);
        assert_eq!(
            Event::parse_json(&json.freeze()).expect("test input"),
            Event::parse_plain(out.freeze()).expect("test input")
        );
    }
}
