//! Properties of the event-socket decoder: what is written decodes back to the same thing, how a
//! stream is cut into reads does not matter, and no input panics it or makes it hold more than
//! its limits.

use bytes::{Bytes, BytesMut};
use parkway_esl::codec::{EslCodec, Frame, Framer, write_frame};
use parkway_esl::event::Event;
use parkway_esl::headers::{Headers, UNDEF, percent_encode};
use parkway_esl::message::Message;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

/// Header names as FreeSWITCH writes them (no colon, no line breaks, no spaces).
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_-]{0,24}".prop_filter("reserved", |n| {
        !n.eq_ignore_ascii_case("Content-Length") && n != "Event-Name"
    })
}

/// Values meant to break a decoder: line breaks, `%` and escapes, colons, `_undef_`-like text,
/// non-ASCII, empty, very long.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(UNDEF.to_owned()),
        Just("_undef".to_owned()),
        Just("100%".to_owned()),
        Just("%2BOK%0A".to_owned()),
        Just("ARRAY::a|:b".to_owned()),
        Just("Content-Length: 12\n\n".to_owned()),
        "[a-z%:\\n\\r _|]{0,20}",
        "\\PC{0,30}",
        any::<String>(),
        "[a-zA-Z0-9 ]{2000,6000}",
    ]
}

/// What reading a written value gives back: FreeSWITCH's `_undef_` reads as empty.
fn read_back(v: &str) -> &str {
    if v == UNDEF { "" } else { v }
}

fn encoded(v: &str) -> String {
    let mut out = Vec::new();
    percent_encode(v, &mut out);
    String::from_utf8(out).expect("percent-encoding is ASCII")
}

#[derive(Debug, Clone)]
struct FrameSpec {
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    (
        prop::collection::vec((name(), hostile_value()), 1..8),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
    )
        .prop_map(|(headers, body)| FrameSpec { headers, body })
}

/// Writes frames the way FreeSWITCH does (values percent-encoded); returns the bytes.
fn write(specs: &[FrameSpec]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for spec in specs {
        let enc: Vec<(String, String)> = spec
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), encoded(v)))
            .collect();
        let pairs: Vec<(&str, &str)> = enc.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        write_frame(&mut out, &pairs, spec.body.as_deref());
    }
    out.to_vec()
}

fn decode_whole(bytes: &[u8]) -> Vec<Frame> {
    decode_cut(bytes, &[])
}

/// Feeds `bytes` in pieces cut at `cuts` (any order, any duplicates).
fn decode_cut(bytes: &[u8], cuts: &[usize]) -> Vec<Frame> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts {
        buf.extend_from_slice(&bytes[from..cut]);
        from = cut;
        while let Some(f) = codec.decode(&mut buf).expect("well-formed stream") {
            out.push(f);
        }
    }
    assert!(codec.decode_eof(&mut buf).expect("clean end").is_none());
    out
}

fn event_spec() -> impl Strategy<Value = (String, Vec<(String, String)>, Option<String>)> {
    (
        "[A-Z][A-Z_]{0,20}",
        prop::collection::btree_map(name(), hostile_value(), 0..12),
        prop::option::of(any::<String>()),
    )
        .prop_map(|(n, h, b)| (n, h.into_iter().collect(), b))
}

fn build_event(name: &str, headers: &[(String, String)], body: Option<&str>) -> Event {
    let pairs = std::iter::once(("Event-Name", name))
        .chain(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    Event::new(
        Headers::from_pairs(pairs),
        body.map(|b| Bytes::copy_from_slice(b.as_bytes())),
    )
}

fn pairs_without_content_length(e: &Event) -> Vec<(String, String)> {
    e.headers()
        .iter()
        .filter(|(n, _)| *n != "Content-Length")
        .map(|(n, v)| (n.to_owned(), v.into_owned()))
        .collect()
}

/// Feeds arbitrary bytes in arbitrary chunks to a framer with small limits, reading every
/// frame as a message; asserts the framer never keeps more than its limits allow and always
/// makes progress.
fn feed_hostile(bytes: &[u8], cuts: &[usize], max_head: usize, max_body: usize) {
    let mut framer = Framer::new(max_head, max_body);
    let mut buf = BytesMut::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut from = 0;
    let mut steps = 0usize;
    for cut in cuts {
        buf.extend_from_slice(&bytes[from..cut]);
        from = cut;
        loop {
            steps += 1;
            assert!(steps < 4 * bytes.len() + 1000, "no progress");
            match framer.next_frame(&mut buf) {
                Ok(Some(raw)) => {
                    assert!(raw.head.len() <= max_head);
                    assert!(raw.body.as_ref().is_none_or(|b| b.len() <= max_body));
                    if let Ok(frame) = Frame::from_raw(raw) {
                        if let Ok(Message::Event(e)) = Message::from_frame(frame) {
                            let _ = (e.name(), e.unique_id(), e.body_text(), e.variables());
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => assert!(e.offset().is_some()),
            }
        }
        assert!(
            buf.len() <= max_head + max_body,
            "kept {} bytes (limits {max_head} + {max_body})",
            buf.len()
        );
    }
    loop {
        steps += 1;
        assert!(steps < 4 * bytes.len() + 1000, "no progress at the end");
        match framer.finish(&mut buf) {
            Ok(Some(_)) | Err(_) => continue,
            Ok(None) => break,
        }
    }
    assert!(buf.is_empty());
    assert_eq!(framer.offset(), bytes.len() as u64);
}

/// ESL-looking noise: pieces of real syntax glued together at random.
fn eslish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"Content-Length: ".to_vec()),
        Just(b"content-length:".to_vec()),
        Just(b"Content-Type: text/event-plain\n".to_vec()),
        Just(b"Content-Type: text/event-json\n".to_vec()),
        Just(b"Content-Type: api/response\n".to_vec()),
        Just(b"Event-Name: X\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"{\"Event-Name\":\"A\",\"_body\":".to_vec()),
        "[0-9]{1,9}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../captures/{name}.recv", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn frames_round_trip(specs in prop::collection::vec(frame_spec(), 1..6)) {
        let frames = decode_whole(&write(&specs));
        prop_assert_eq!(frames.len(), specs.len());
        for (frame, spec) in frames.iter().zip(&specs) {
            for (n, v) in &spec.headers {
                // The first header of a name wins on read.
                let first = spec.headers.iter().find(|(m, _)| m == n).map(|(_, v)| v);
                if first == Some(v) {
                    let got = frame.headers.get(n).map(|g| g.into_owned());
                    prop_assert_eq!(got.as_deref(), Some(read_back(v)));
                }
            }
            // `Content-Length: 0` announces no body.
            match &spec.body {
                Some(b) if !b.is_empty() => prop_assert_eq!(frame.body.as_deref(), Some(&b[..])),
                _ => prop_assert_eq!(frame.body.as_deref(), None),
            }
        }
    }

    #[test]
    fn cutting_the_stream_anywhere_gives_the_same_frames(
        specs in prop::collection::vec(frame_spec(), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        crlf in any::<bool>(),
    ) {
        let mut bytes = write(&specs);
        if crlf {
            // FreeSWITCH writes `\n`; clients may write `\r\n`: the framing is the same. Bodies
            // are counted bytes, so only rewrite heads: rebuild with CRLF line ends.
            bytes = Vec::new();
            for spec in &specs {
                for (n, v) in &spec.headers {
                    bytes.extend_from_slice(format!("{n}: {}\r\n", encoded(v)).as_bytes());
                }
                if let Some(b) = &spec.body {
                    bytes.extend_from_slice(format!("Content-Length: {}\r\n\r\n", b.len()).as_bytes());
                    bytes.extend_from_slice(b);
                } else {
                    bytes.extend_from_slice(b"\r\n");
                }
            }
        }
        let whole = decode_whole(&bytes);
        prop_assert_eq!(whole.len(), specs.len());
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        prop_assert_eq!(decode_cut(&bytes, &cuts), whole.clone());
        // And a byte at a time.
        let every: Vec<usize> = (1..bytes.len()).collect();
        prop_assert_eq!(decode_cut(&bytes, &every), whole);
    }

    #[test]
    fn events_round_trip_in_both_forms((name, headers, body) in event_spec()) {
        let event = build_event(&name, &headers, body.as_deref());

        let mut plain = BytesMut::new();
        event.encode_plain(&mut plain);
        let plain_bytes = plain.clone().freeze();
        let back = Event::parse_plain(plain.freeze()).expect("plain parses");
        let want: Vec<(String, String)> = pairs_without_content_length(&event)
            .into_iter()
            .map(|(n, v)| { let v = read_back(&v).to_owned(); (n, v) })
            .collect();
        prop_assert_eq!(pairs_without_content_length(&back), want);
        prop_assert_eq!(back.body(), event.body());
        prop_assert_eq!(back.name(), read_back(&name));
        // Writing what was read gives the same bytes.
        let mut again = BytesMut::new();
        back.encode_plain(&mut again);
        prop_assert_eq!(again.freeze(), plain_bytes);

        let mut json = BytesMut::new();
        back.encode_json(&mut json);
        let from_json = Event::parse_json(&json.freeze()).expect("json parses");
        prop_assert_eq!(&from_json, &back);

        // Inside a frame, through the codec, split anywhere.
        let mut wire = BytesMut::new();
        let len = back_len(&back);
        write_frame(&mut wire, &[("Content-Length", &len.to_string()), ("Content-Type", "text/event-plain")], None);
        back.encode_plain(&mut wire);
        let frames = decode_cut(&wire, &[wire.len() / 2]);
        prop_assert_eq!(frames.len(), 1);
        let Ok(Message::Event(decoded)) = Message::from_frame(frames[0].clone()) else {
            return Err(TestCaseError::fail("not an event"));
        };
        prop_assert_eq!(decoded, back);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_overfill(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        feed_hostile(&bytes, &cuts, 64, 256);
    }

    #[test]
    fn esl_looking_noise_never_panics_nor_overfills(
        bytes in eslish(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
        max_head in 8usize..200,
        max_body in 0usize..400,
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        feed_hostile(&bytes, &cuts, max_head, max_body);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mutated_capture_slices_never_panic_nor_overfill(
        which in 0usize..4,
        start in any::<prop::sample::Index>(),
        len in 1usize..12_000,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
    ) {
        let name = ["inbound_plain", "inbound_json", "outbound_plain", "show_channels"][which];
        let all = capture(name);
        let start = start.index(all.len());
        let mut bytes = all[start..(start + len).min(all.len())].to_vec();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        // Real limits and small ones (so that real frames overflow them).
        feed_hostile(&bytes, &cuts, 64 * 1024, 16 * 1024 * 1024);
        feed_hostile(&bytes, &cuts, 512, 2048);
    }
}

/// The byte length of an event written in plain form.
fn back_len(e: &Event) -> usize {
    let mut b = BytesMut::new();
    e.encode_plain(&mut b);
    b.len()
}
