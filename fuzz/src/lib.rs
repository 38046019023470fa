//! The check shared by the libFuzzer target and the corpus replay program.
//!
//! Input layout: the first 4 bytes seed the chunking and the framer's limits, the rest is the
//! byte stream (as FreeSWITCH would send it). The stream goes through the default codec (real
//! limits) and through a framer with small limits, cut into chunks of 1..=N bytes. Asserted:
//! no panic; after every "need more bytes" the buffer holds at most head limit + body limit;
//! every call makes progress; at the end nothing is left and every byte was accounted for.

use bytes::BytesMut;
use parkway_esl::codec::{EslCodec, Frame, Framer, MAX_BODY, MAX_HEAD, RawFrame};
use parkway_esl::message::Message;
use tokio_util::codec::Decoder;

/// A small deterministic generator for chunk sizes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn read(frame: Frame) {
    if let Ok(message) = Message::from_frame(frame) {
        let _ = message.kind();
        if let Message::Event(e) = message {
            let _ = (e.name(), e.unique_id(), e.body_text(), e.job_result());
            let _ = (e.variables(), e.sequence(), e.call_direction());
            let mut plain = BytesMut::new();
            e.encode_plain(&mut plain);
            let mut json = BytesMut::new();
            e.encode_json(&mut json);
        }
    }
}

fn read_raw(raw: RawFrame, max_head: usize, max_body: usize) {
    assert!(raw.head.len() <= max_head, "head over its limit");
    assert!(
        raw.body.as_ref().is_none_or(|b| b.len() <= max_body),
        "body over its limit"
    );
    if let Ok(frame) = Frame::from_raw(raw) {
        read(frame);
    }
}

/// Cuts `stream` into chunks of 1..=`max_chunk` bytes.
fn chunks<'a>(stream: &'a [u8], rng: &mut Lcg, max_chunk: u64) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = ((rng.next() % max_chunk) as usize + 1).min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

/// Runs one input (see the module docs).
pub fn check(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let (seed, stream) = data.split_at(4);
    let seed = u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]);
    let mut rng = Lcg(u64::from(seed));
    let max_chunk = [1, 7, 64, 4096][(seed & 3) as usize];
    let step_limit = 4 * stream.len() + 64;

    // 1. The client's codec, real limits.
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::new();
    let mut steps = 0;
    for chunk in chunks(stream, &mut rng, max_chunk) {
        buf.extend_from_slice(chunk);
        loop {
            steps += 1;
            assert!(steps <= step_limit, "codec makes no progress");
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => read(frame),
                Ok(None) => break,
                Err(e) => assert!(e.offset().is_some(), "codec error without an offset"),
            }
        }
        assert!(buf.len() <= MAX_HEAD + MAX_BODY, "codec over-buffers");
    }
    loop {
        steps += 1;
        assert!(steps <= step_limit, "codec makes no progress at the end");
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => read(frame),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    assert!(buf.is_empty(), "codec leaves bytes behind");
    assert_eq!(codec.offset(), stream.len() as u64, "codec lost count");

    // 2. A framer with small limits, so that limits are hit often.
    let max_head = 16 + (rng.next() % 512) as usize;
    let max_body = (rng.next() % 2048) as usize;
    let mut framer = Framer::new(max_head, max_body);
    let mut buf = BytesMut::new();
    let mut steps = 0;
    for chunk in chunks(stream, &mut rng, max_chunk) {
        buf.extend_from_slice(chunk);
        loop {
            steps += 1;
            assert!(steps <= step_limit, "framer makes no progress");
            match framer.next_frame(&mut buf) {
                Ok(Some(raw)) => read_raw(raw, max_head, max_body),
                Ok(None) => break,
                Err(e) => assert!(e.offset().is_some(), "framer error without an offset"),
            }
        }
        assert!(
            buf.len() <= max_head + max_body,
            "framer keeps {} bytes over limits {max_head} + {max_body}",
            buf.len()
        );
    }
    loop {
        steps += 1;
        assert!(steps <= step_limit, "framer makes no progress at the end");
        match framer.finish(&mut buf) {
            Ok(Some(raw)) => read_raw(raw, max_head, max_body),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    assert!(buf.is_empty(), "framer leaves bytes behind");
    assert_eq!(framer.offset(), stream.len() as u64, "framer lost count");
}
