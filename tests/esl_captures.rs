//! Every real capture decodes whole, with the message counts its notes give.

use bytes::BytesMut;
use parkway::esl::codec::EslCodec;
use parkway::esl::message::Message;
use tokio_util::codec::Decoder;

fn decode(name: &str) -> Vec<Message> {
    let path = format!("{}/tests/data/{name}.recv", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        out.push(Message::from_frame(frame).expect("message"));
    }
    assert!(codec.decode_eof(&mut buf).expect("clean end").is_none());
    assert!(buf.is_empty(), "{name}: leftover bytes");
    out
}

fn counts(messages: &[Message]) -> (usize, usize, usize) {
    let events = messages
        .iter()
        .filter(|m| matches!(m, Message::Event(_)))
        .count();
    let replies = messages
        .iter()
        .filter(|m| matches!(m, Message::CommandReply(_) | Message::ApiResponse(_)))
        .count();
    (events, replies, messages.len() - events - replies)
}

#[test]
fn every_capture_decodes_with_its_documented_counts() {
    // (capture, events, replies, other) as each capture's .md lists them.
    let expected = [
        ("inbound_plain", 111, 13, 2),
        ("inbound_json", 111, 13, 2),
        ("auth_fail", 0, 1, 2),
    ];
    for (name, events, replies, other) in expected {
        assert_eq!(counts(&decode(name)), (events, replies, other), "{name}");
    }
}
