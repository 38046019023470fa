//! Every real capture decodes whole, to exactly the messages its notes (`captures/NAME.md`, copied
//! from real FreeSWITCH 1.10.12 sessions) list: counts, every reply, the event timeline with byte offsets,
//! event-name counts and hangup causes; concrete values from the notes are asserted by hand; and
//! feeding a capture in pieces gives the same frames as feeding it whole.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use parkway_esl::codec::{EslCodec, Frame};
use parkway_esl::event::{Direction, Event, JobResult};
use parkway_esl::message::Message;
use tokio_util::codec::Decoder;

use crate::common::CAPTURES;

fn data(name: &str, ext: &str) -> Vec<u8> {
    let path = format!("{}/../../captures/{name}.{ext}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes a stream fed whole: every frame, no error, no leftover bytes.
fn frames_of(bytes: &[u8]) -> Vec<Frame> {
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        out.push(frame);
    }
    assert!(codec.decode_eof(&mut buf).expect("clean end").is_none());
    assert!(buf.is_empty(), "leftover bytes");
    assert_eq!(codec.offset(), bytes.len() as u64);
    out
}

/// Decodes a stream fed in pieces cut at `cuts` (ascending offsets), calling `decode` until it
/// needs more bytes after every piece.
fn frames_fed_in_pieces(bytes: &[u8], cuts: impl IntoIterator<Item = usize>) -> Vec<Frame> {
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        buf.extend_from_slice(&bytes[from..cut]);
        from = cut;
        while let Some(frame) = codec.decode(&mut buf).expect("frames") {
            out.push(frame);
        }
    }
    assert!(codec.decode_eof(&mut buf).expect("clean end").is_none());
    assert!(buf.is_empty());
    out
}

struct Decoded {
    messages: Vec<(u64, Message)>,
}

fn decode(name: &str) -> Decoded {
    let messages = frames_of(&data(name, "recv"))
        .into_iter()
        .map(|f| {
            let offset = f.offset;
            let m = Message::from_frame(f).unwrap_or_else(|e| panic!("{name}: {e}"));
            (offset, m)
        })
        .collect();
    Decoded { messages }
}

impl Decoded {
    fn events(&self) -> impl Iterator<Item = &Event> {
        self.messages.iter().filter_map(|(_, m)| match m {
            Message::Event(e) => Some(e),
            _ => None,
        })
    }

    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.events().filter(move |e| e.name() == name)
    }

    /// The only event named `name` on channel `uuid` that matches `pred`.
    fn one(&self, name: &str, pred: impl Fn(&Event) -> bool) -> &Event {
        let found: Vec<&Event> = self
            .events()
            .filter(|e| e.name() == name && pred(e))
            .collect();
        assert_eq!(found.len(), 1, "exactly one {name}");
        found[0]
    }

    fn api_bodies(&self) -> Vec<&Bytes> {
        self.messages
            .iter()
            .filter_map(|(_, m)| match m {
                Message::ApiResponse(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    fn reply_texts(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter_map(|(_, m)| match m {
                Message::CommandReply(r) => Some(r.text()),
                _ => None,
            })
            .collect()
    }
}

fn counts(messages: &[(u64, Message)]) -> (usize, usize, usize) {
    let events = messages
        .iter()
        .filter(|(_, m)| matches!(m, Message::Event(_)))
        .count();
    let replies = messages
        .iter()
        .filter(|(_, m)| matches!(m, Message::CommandReply(_) | Message::ApiResponse(_)))
        .count();
    (events, replies, messages.len() - events - replies)
}

/// What a capture's notes say, read from its `.md`.
#[derive(Default)]
struct Notes {
    /// (messages, events, replies, other) from the Files section.
    counts: (usize, usize, usize, usize),
    event_counts: BTreeMap<String, usize>,
    /// (content type, first line, body ends with newline).
    replies: Vec<(String, String, bool)>,
    /// (offset, event name or `(content/type)`, first 8 characters of Unique-ID).
    timeline: Vec<(u64, String, String)>,
    /// (Unique-ID, hangup cause) for channels that hung up.
    hangups: Vec<(String, String)>,
}

fn cells(row: &str) -> Vec<&str> {
    row.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split(" | ")
        .map(str::trim)
        .collect()
}

fn notes(name: &str) -> Notes {
    let md = String::from_utf8(data(name, "md")).expect("utf-8 notes");
    let mut notes = Notes::default();
    let mut section = "";
    for line in md.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title;
            continue;
        }
        if section == "Files" && line.starts_with(&format!("- `{name}.recv`")) {
            // "…, 126 messages (111 events, 13 replies, 2 other: …)"
            let nums: Vec<usize> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            let n = nums.len();
            // the last four numbers before "other" are messages, events, replies, other
            let tail = &nums[n - 4..];
            notes.counts = (tail[0], tail[1], tail[2], tail[3]);
        }
        let is_row = line.starts_with("| ")
            && !line.starts_with("| t |")
            && !line.starts_with("| event |")
            && !line.starts_with("| Unique-ID |");
        if !is_row {
            continue;
        }
        match section {
            "Event counts" => {
                let c = cells(line);
                notes
                    .event_counts
                    .insert(c[0].to_owned(), c[1].parse().expect("count"));
            }
            "Replies" => {
                // `| t | type | `first line` | yes/no/- |`: the first line may hold " | ".
                let body = line.trim().trim_start_matches("| ").trim_end_matches(" |");
                let (_, rest) = body.split_once(" | ").expect("t");
                let (ct, rest) = rest.split_once(" | ").expect("type");
                let (first, nl) = rest.rsplit_once(" | ").expect("newline column");
                let first = first.strip_prefix('`').and_then(|f| f.strip_suffix('`'));
                notes.replies.push((
                    ct.to_owned(),
                    first.expect("quoted first line").to_owned(),
                    nl == "yes",
                ));
            }
            "Event timeline" => {
                let c = cells(line);
                // Rows of non-events leave the channel columns empty.
                let uuid = if c[2].starts_with('(') { "" } else { c[4] };
                notes.timeline.push((
                    c[1].parse().expect("offset"),
                    c[2].to_owned(),
                    uuid.to_owned(),
                ));
            }
            "Channels" => {
                let c = cells(line);
                let cause = c[c.len() - 1];
                if cause != "-" {
                    notes
                        .hangups
                        .push((c[0].trim_matches('`').to_owned(), cause.to_owned()));
                }
            }
            _ => {}
        }
    }
    notes
}

#[test]
fn every_capture_decodes_to_what_its_notes_list() {
    for name in CAPTURES {
        let d = decode(name);
        let n = notes(name);
        let (events, replies, other) = counts(&d.messages);
        assert_eq!(
            (d.messages.len(), events, replies, other),
            n.counts,
            "{name}: messages, events, replies, other"
        );

        let mut by_name = BTreeMap::new();
        for e in d.events() {
            *by_name.entry(e.name().into_owned()).or_insert(0) += 1;
        }
        assert_eq!(by_name, n.event_counts, "{name}: event counts");

        // Every reply in order: type, first line as the notes print it (the raw Reply-Text; api
        // bodies cut at 90 characters), and whether an api body ends with a newline.
        let got: Vec<(String, String, bool)> = d
            .messages
            .iter()
            .filter_map(|(_, m)| match m {
                Message::CommandReply(r) => {
                    let raw = r.headers.get_raw("Reply-Text").expect("Reply-Text");
                    let text = String::from_utf8_lossy(raw);
                    Some((
                        "command/reply".into(),
                        text.lines().next()?.to_owned(),
                        false,
                    ))
                }
                Message::ApiResponse(b) => {
                    let text = String::from_utf8_lossy(b);
                    let first: String =
                        text.lines().next().unwrap_or("").chars().take(90).collect();
                    Some(("api/response".into(), first, b.ends_with(b"\n")))
                }
                _ => None,
            })
            .collect();
        assert_eq!(got, n.replies, "{name}: replies");

        // The timeline lists every message that is not a reply, with its offset.
        if !n.timeline.is_empty() {
            let got: Vec<(u64, String, String)> = d
                .messages
                .iter()
                .filter(|(_, m)| !matches!(m, Message::CommandReply(_) | Message::ApiResponse(_)))
                .map(|(offset, m)| match m {
                    Message::Event(e) => (
                        *offset,
                        e.name().into_owned(),
                        e.unique_id()
                            .map(|u| u.chars().take(8).collect())
                            .unwrap_or_default(),
                    ),
                    Message::AuthRequest => (*offset, "(auth/request)".into(), String::new()),
                    Message::Disconnect(_) => {
                        (*offset, "(text/disconnect-notice)".into(), String::new())
                    }
                    other => panic!("{name}: unexpected {other:?}"),
                })
                .collect();
            assert_eq!(got, n.timeline, "{name}: timeline");
        }

        // Every channel that hung up: CHANNEL_HANGUP_COMPLETE carries the cause the notes give.
        for (uuid, cause) in &n.hangups {
            let e = d.one("CHANNEL_HANGUP_COMPLETE", |e| {
                e.unique_id().as_deref() == Some(uuid)
            });
            assert_eq!(e.hangup_cause().as_deref(), Some(cause.as_str()), "{name}");
        }
    }
}

#[test]
fn dtmf_digits_sources_and_legs() {
    let d = decode("dtmf_variants");
    let got: Vec<(String, String, String, Option<Direction>)> = d
        .named("DTMF")
        .map(|e| {
            (
                e.dtmf_digit().expect("digit").into_owned(),
                e.dtmf_source().expect("source").into_owned(),
                e.unique_id().expect("uuid")[..8].to_owned(),
                e.call_direction(),
            )
        })
        .collect();
    let want = [
        ("1", "RTP", "91c105eb", Direction::Outbound),
        ("1", "RTP", "c1676e4b", Direction::Outbound),
        ("1", "UNKNOWN", "89d18562", Direction::Outbound),
        ("1", "UNKNOWN", "84b012c5", Direction::Outbound),
        ("9", "UNKNOWN", "4ff11074", Direction::Inbound),
        ("9", "RTP", "541df03a", Direction::Inbound),
        ("5", "UNKNOWN", "2c230d03", Direction::Outbound),
        ("7", "RTP", "541df03a", Direction::Inbound),
    ]
    .map(|(d, s, u, dir)| (d.to_owned(), s.to_owned(), u.to_owned(), Some(dir)));
    assert_eq!(got, want);
    let rtp = d
        .named("DTMF")
        .find(|e| e.unique_id().as_deref() == Some("91c105eb-1e81-4307-afc2-a2c8bf7e56e0"))
        .expect("SIP buyer DTMF");
    assert_eq!(
        rtp.channel_name().as_deref(),
        Some("sofia/parkway/answer_dtmf@127.0.0.1:5080")
    );
    // No channel variables on DTMF: key it by Unique-ID.
    assert!(rtp.variables().is_empty());
    let api: Vec<String> = d
        .api_bodies()
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert_eq!(
        api[0],
        "+OK 2c230d03-0e11-4e6e-b345-25bf22b5409b sent DTMF 9.\n"
    );
}

#[test]
fn background_job_results_from_originate_and_uuid_bridge() {
    let d = decode("originate_uuid_bridge");
    let job = |id: &str| {
        d.one("BACKGROUND_JOB", |e| e.job_uuid().as_deref() == Some(id))
            .clone()
    };
    let busy = job("79fe1aac-bf59-4f14-bf65-7b118a7379fd");
    assert_eq!(busy.body_text().as_deref(), Some("-ERR USER_BUSY\n"));
    assert_eq!(busy.job_result(), Some(JobResult::Err("USER_BUSY".into())));
    assert_eq!(busy.header("Job-Command").as_deref(), Some("originate"));
    assert!(
        busy.header("Job-Command-Arg")
            .expect("arg")
            .starts_with("{origination_uuid=ebcabd9c-6c26-47ad-9371-8e3abf72eb46")
    );
    let ok = job("1a55f8f6-0cdf-4521-b24a-ff3ce2ca78b7");
    assert_eq!(
        ok.body_text().as_deref(),
        Some("+OK 00746fd5-c064-4f0c-b4a0-2d81a8dedc9c\n")
    );
    assert_eq!(
        ok.job_result(),
        Some(JobResult::Ok("00746fd5-c064-4f0c-b4a0-2d81a8dedc9c".into()))
    );
    // CHANNEL_UUID comes first for a leg with origination_uuid; its buyer leg parks (outbound).
    let b2 = "00746fd5-c064-4f0c-b4a0-2d81a8dedc9c";
    let first = d
        .events()
        .find(|e| e.unique_id().as_deref() == Some(b2))
        .expect("b2 events");
    assert_eq!(first.name(), "CHANNEL_UUID");
    let park = d.one("CHANNEL_PARK", |e| e.unique_id().as_deref() == Some(b2));
    assert_eq!(park.call_direction(), Some(Direction::Outbound));
    assert_eq!(park.variable("parkway_buyer").as_deref(), Some("b2"));
    let bridge = d.one("CHANNEL_BRIDGE", |_| true);
    assert_eq!(
        bridge.bridge_a_unique_id().as_deref(),
        Some("b35470be-34d1-4a0f-b099-6d4cc9610cde")
    );
    assert_eq!(bridge.bridge_b_unique_id().as_deref(), Some(b2));
    // `uuid_bridge` answers in an api body with a newline; `uuid_exists` without.
    let api = d.api_bodies();
    assert_eq!(&api[0][..], b"+OK 00746fd5-c064-4f0c-b4a0-2d81a8dedc9c\n");
    assert_eq!(&api[1][..], b"false");
}

/// The bridge's CHANNEL_EXECUTE_COMPLETE on the parked leg, found by its Application-UUID.
fn bridge_complete<'a>(d: &'a Decoded, app_uuid: &str) -> &'a Event {
    let e = d.one("CHANNEL_EXECUTE_COMPLETE", |e| {
        e.application_uuid().as_deref() == Some(app_uuid)
    });
    assert_eq!(e.application().as_deref(), Some("bridge"));
    assert_eq!(e.application_response().as_deref(), Some("_none_"));
    e
}

#[test]
fn simultaneous_group_loser_gets_lose_race() {
    let d = decode("group_simultaneous");
    let loser = d.one("CHANNEL_HANGUP_COMPLETE", |e| {
        e.unique_id().as_deref() == Some("18053323-52cb-446a-8ecc-860bde9efd0f")
    });
    assert_eq!(loser.hangup_cause().as_deref(), Some("LOSE_RACE"));
    assert_eq!(loser.variable("parkway_buyer").as_deref(), Some("b1"));
    let done = bridge_complete(&d, "27ab2de8-ad83-4b8d-b289-a99a51591901");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("SUCCESS")
    );
    assert_eq!(
        done.variable("bridge_hangup_cause").as_deref(),
        Some("NORMAL_CLEARING")
    );
    assert_eq!(
        done.headers()
            .get_array("variable_originate_causes")
            .expect("causes"),
        [
            "18053323-52cb-446a-8ecc-860bde9efd0f;LOSE_RACE",
            "52fb0b18-a7de-4079-92e1-b8bf7ea8f8f0;NONE"
        ]
    );
    // The whisper plays on the winning buyer leg (the bridge's B leg) before the bridge.
    let whisper = d.one("PLAYBACK_START", |e| {
        e.header("Playback-File-Path")
            .is_some_and(|p| p.ends_with("/whisper.wav"))
    });
    assert_eq!(
        whisper.unique_id().as_deref(),
        Some("52fb0b18-a7de-4079-92e1-b8bf7ea8f8f0")
    );
    let bridge = d.one("CHANNEL_BRIDGE", |_| true);
    assert_eq!(
        bridge.bridge_b_unique_id().as_deref(),
        Some("52fb0b18-a7de-4079-92e1-b8bf7ea8f8f0")
    );
    let at = |target: &Event| {
        d.messages
            .iter()
            .find(|(_, m)| matches!(m, Message::Event(e) if std::ptr::eq(e, target)))
            .map(|(o, _)| *o)
    };
    assert!(at(whisper) < at(bridge));
}

#[test]
fn sequential_group_leg_timeout_is_allotted_timeout() {
    let d = decode("group_sequential");
    let cause = |uuid: &str| {
        d.one("CHANNEL_HANGUP_COMPLETE", |e| {
            e.unique_id().as_deref() == Some(uuid)
        })
        .hangup_cause()
        .map(|c| c.into_owned())
    };
    assert_eq!(
        cause("90cc9cef-4c46-4e4c-81ad-8261ea18ff98").as_deref(),
        Some("USER_BUSY")
    );
    assert_eq!(
        cause("c3492f53-df43-498e-abc9-dbbeabe6a6e0").as_deref(),
        Some("ALLOTTED_TIMEOUT")
    );
    let done = bridge_complete(&d, "a32a2fcc-2b2b-4dc0-88b3-f6fd31bcc4c4");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("SUCCESS")
    );
    assert_eq!(
        done.headers()
            .get_array("variable_originate_causes")
            .expect("causes")
            .len(),
        3
    );
    assert_eq!(
        done.variable("bridge_uuid").as_deref(),
        Some("e928227c-15f2-4d7f-bb43-1d7085d50619")
    );
}

#[test]
fn abandoned_caller_cancels_the_buyer() {
    let d = decode("caller_abandon");
    let buyer = d.one("CHANNEL_HANGUP_COMPLETE", |e| {
        e.unique_id().as_deref() == Some("5a5d380a-d2bb-4f75-a498-b91fe5a01b78")
    });
    assert_eq!(buyer.hangup_cause().as_deref(), Some("ORIGINATOR_CANCEL"));
    let done = bridge_complete(&d, "ef2d334b-60b3-4d29-9d01-c7e526ce7e00");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("ORIGINATOR_CANCEL")
    );
    assert_eq!(done.variable("DIALSTATUS").as_deref(), Some("CANCEL"));
    assert_eq!(
        done.variable("originate_failed_cause").as_deref(),
        Some("ORIGINATOR_CANCEL")
    );
    assert_eq!(d.api_bodies(), [&Bytes::from_static(b"+OK\n")]);
}

#[test]
fn all_fail_reports_the_last_cause() {
    let d = decode("all_fail");
    let done = bridge_complete(&d, "347fb5ec-6c6a-4d0f-b1ef-3be59b3dc42d");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("ALLOTTED_TIMEOUT")
    );
    assert_eq!(
        done.variable("DIALSTATUS").as_deref(),
        Some("ALLOTTED_TIMEOUT")
    );
    assert_eq!(
        done.headers()
            .get_array("variable_originate_causes")
            .expect("causes"),
        [
            "9804d1bd-6589-4f36-adc0-81ec69a7ceff;USER_BUSY",
            "88e3060f-7b99-44b1-80d5-8746908e516d;ALLOTTED_TIMEOUT"
        ]
    );
    assert!(
        d.named("CHANNEL_HANGUP_COMPLETE")
            .any(|e| e.hangup_cause().as_deref() == Some("NORMAL_TEMPORARY_FAILURE"))
    );
}

#[test]
fn uuid_bridge_of_an_unanswered_caller_fails_without_a_bridge() {
    let d = decode("uuid_bridge_unanswered");
    assert_eq!(d.named("CHANNEL_BRIDGE").count(), 0);
    let caller = d.one("CHANNEL_HANGUP_COMPLETE", |e| {
        e.unique_id().as_deref() == Some("70759197-c718-4d95-bb66-5ccfa9450e53")
    });
    assert_eq!(
        caller.hangup_cause().as_deref(),
        Some("DESTINATION_OUT_OF_ORDER")
    );
    let job = d.one("BACKGROUND_JOB", |e| {
        e.job_uuid().as_deref() == Some("231dc331-0918-4995-8afe-073ffb9f540e")
    });
    assert_eq!(
        job.job_result(),
        Some(JobResult::Err("DESTINATION_OUT_OF_ORDER".into()))
    );
}

#[test]
fn inbound_plain_replies_api_bodies_and_execute_ids() {
    let d = decode("inbound_plain");
    let api = d.api_bodies();
    // With and without the trailing newline, exactly as sent.
    assert!(api[0].starts_with(
        b"UP 0 years, 0 days, 0 hours, 0 minutes, 3 seconds, 218 milliseconds, 205 microseconds\n"
    ));
    assert!(api[0].ends_with(b"Current Stack Size/Max 240K/8192K\n"));
    assert_eq!(&api[1][..], b"127.0.0.1");
    assert_eq!(&api[2][..], b"pk-dab34f92-dc48");
    assert_eq!(&api[3][..], b"solar");
    assert_eq!(&api[4][..], b"_undef_");
    assert_eq!(
        &api[5][..],
        b"-ERR parkway_no_such_command Command not found!\n"
    );
    let replies = d.reply_texts();
    assert_eq!(
        replies[2],
        "+OK Job-UUID: 7a92e529-07c6-4d23-bdfe-bf72dd1c7639"
    );
    assert_eq!(replies[3], "-ERR command not found");
    assert_eq!(replies.last().map(String::as_str), Some("+OK bye"));
    let bgapi = d
        .messages
        .iter()
        .find_map(|(_, m)| match m {
            Message::CommandReply(r) if r.job_uuid().is_some() => Some(r),
            _ => None,
        })
        .expect("bgapi reply");
    assert_eq!(
        bgapi.job_uuid().as_deref(),
        Some("7a92e529-07c6-4d23-bdfe-bf72dd1c7639")
    );

    let park = d.one("CHANNEL_PARK", |_| true);
    assert_eq!(
        park.unique_id().as_deref(),
        Some("44405c6c-4a87-499c-8d43-55c530c0583b")
    );
    assert_eq!(park.call_direction(), Some(Direction::Inbound));
    assert_eq!(park.answer_state().as_deref(), Some("ringing"));
    assert_eq!(park.caller_id_number().as_deref(), Some("+13055550123"));
    assert_eq!(park.caller_id_name().as_deref(), Some("Maria Lopez"));
    assert_eq!(park.destination_number().as_deref(), Some("18005550199"));
    assert_eq!(park.variable("sip_h_X-Campaign").as_deref(), Some("solar"));
    assert_eq!(
        park.variable("parkway_call_id").as_deref(),
        Some("pk-dab34f92-dc48")
    );

    // sendmsg's Event-UUID comes back as Application-UUID on EXECUTE and EXECUTE_COMPLETE.
    let set_id = "16beb1bb-2239-4aa5-94d1-3c594704c586";
    for name in ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"] {
        let e = d.one(name, |e| e.application_uuid().as_deref() == Some(set_id));
        assert_eq!(e.application().as_deref(), Some("set"));
        assert_eq!(
            e.header("Application-Data").as_deref(),
            Some("hangup_after_bridge=true")
        );
    }
    let done = bridge_complete(&d, "4ec8b30e-6b27-4eb9-8117-9e9fc1387b38");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("SUCCESS")
    );
    assert_eq!(
        done.variable("bridge_uuid").as_deref(),
        Some("2073a403-7f1b-4f0e-a65b-c27f13630d40")
    );
    let bridge = d.one("CHANNEL_BRIDGE", |_| true);
    assert_eq!(
        bridge.bridge_a_unique_id().as_deref(),
        Some("44405c6c-4a87-499c-8d43-55c530c0583b")
    );
    assert_eq!(
        bridge.bridge_b_unique_id().as_deref(),
        Some("2073a403-7f1b-4f0e-a65b-c27f13630d40")
    );
    let job = d.one("BACKGROUND_JOB", |_| true);
    assert_eq!(
        job.job_uuid().as_deref(),
        Some("7a92e529-07c6-4d23-bdfe-bf72dd1c7639")
    );
    assert_eq!(
        job.body_text().as_deref(),
        Some("+OK e21f6ab9-01d2-4b3a-85a2-8b554eeabd6c\n")
    );
}

/// The typed values a router reads from an event, for comparing two captures of one scenario.
fn typed(e: &Event) -> Vec<Option<String>> {
    let s = |v: Option<std::borrow::Cow<'_, str>>| v.map(|v| v.into_owned());
    vec![
        Some(e.name().into_owned()),
        s(e.answer_state()),
        e.call_direction().map(|d| format!("{d:?}")),
        s(e.destination_number()),
        s(e.channel_name()),
        s(e.dtmf_digit()),
        s(e.dtmf_source()),
        s(e.hangup_cause()),
        s(e.application()),
        s(e.variable("sip_h_X-Campaign")),
        s(e.variable("parkway_buyer")),
        s(e.variable("originate_disposition")),
        s(e.variable("bridge_hangup_cause")),
        e.job_result().map(|r| match r {
            JobResult::Ok(_) => "+OK".to_owned(),
            JobResult::Err(c) => c,
        }),
    ]
}

#[test]
fn json_and_plain_forms_of_one_scenario_read_alike() {
    let plain = decode("inbound_plain");
    let json = decode("inbound_json");
    // The events a router acts on, with the typed values it reads (uuids differ between the two
    // runs; everything else is equal). Threads reorder a few events between runs: compare sorted.
    let key_events = |d: &Decoded| {
        let mut v: Vec<Vec<Option<String>>> = d
            .events()
            .filter(|e| {
                [
                    "CHANNEL_PARK",
                    "CHANNEL_ANSWER",
                    "CHANNEL_BRIDGE",
                    "DTMF",
                    "BACKGROUND_JOB",
                    "CHANNEL_HANGUP_COMPLETE",
                    "CHANNEL_EXECUTE_COMPLETE",
                ]
                .contains(&e.name().as_ref())
            })
            .map(typed)
            .collect();
        v.sort();
        v
    };
    // (The caller id FreeSWITCH shows on the caller's phone leg at answer differs between runs.)
    let (p, j) = (key_events(&plain), key_events(&json));
    assert_eq!(p.len(), 23);
    assert_eq!(p, j);

    for d in [&plain, &json] {
        let park = d.one("CHANNEL_PARK", |_| true);
        assert_eq!(park.caller_id_number().as_deref(), Some("+13055550123"));
        assert_eq!(park.caller_id_name().as_deref(), Some("Maria Lopez"));
    }
    // The json BACKGROUND_JOB result comes from `_body`, as the plain one from the inner body.
    let job = json.one("BACKGROUND_JOB", |_| true);
    assert_eq!(
        job.body_text().as_deref(),
        Some("+OK 581fccd6-67dd-4a1d-a09d-1d3da129532f\n")
    );
    assert_eq!(json.reply_texts()[1], "+OK event listener enabled json");
    let done = bridge_complete(&json, "48180cfe-2388-4a23-9d00-cd7ffd9c6deb");
    assert_eq!(
        done.variable("originate_causes").as_deref(),
        Some("e241d0ed-cfa9-4bf0-88ba-9cf0cc94eaaa;NONE")
    );
}

#[test]
fn events_survive_re_encoding_in_the_other_form() {
    for name in ["inbound_plain", "inbound_json", "dtmf_variants"] {
        let d = decode(name);
        for e in d.events() {
            let mut plain = BytesMut::new();
            e.encode_plain(&mut plain);
            let back = Event::parse_plain(plain.freeze()).expect("plain again");
            assert_eq!(typed(&back), typed(e), "{name}");
            let mut json = BytesMut::new();
            back.encode_json(&mut json);
            let again = Event::parse_json(&json.freeze()).expect("json again");
            assert_eq!(again, back, "{name}: {}", e.name());
        }
    }
}

#[test]
fn outbound_connect_reply_and_disconnect_notices() {
    for (name, uuid, linger_time, channel) in [
        (
            "outbound_plain",
            "9f4354e5-33d2-49c3-9db9-d2da1cf35e1b",
            -1,
            "loopback/socket_8084-b",
        ),
        (
            "outbound_json",
            "f41cee00-c713-4be2-9e90-95a0b2770570",
            3,
            "loopback/socket_8085-b",
        ),
    ] {
        let d = decode(name);
        let Some((0, Message::CommandReply(connect))) = d.messages.first() else {
            panic!("{name}: connect reply first")
        };
        assert_eq!(
            connect.headers.get("Reply-Text").as_deref(),
            Some("+OK\n"),
            "{name}"
        );
        assert_eq!(
            connect.headers.get_raw("Reply-Text"),
            Some(&b"%2BOK%0A"[..])
        );
        assert!(connect.is_ok());
        assert_eq!(connect.headers.get("Unique-ID").as_deref(), Some(uuid));
        assert_eq!(
            connect.headers.get("Channel-Name").as_deref(),
            Some(channel)
        );
        assert_eq!(
            connect.headers.get("Caller-Caller-ID-Number").as_deref(),
            Some("+13055550123")
        );
        let notices: Vec<_> = d
            .messages
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Disconnect(n) => Some(n),
                _ => None,
            })
            .collect();
        let [linger, last] = &notices[..] else {
            panic!("{name}: two notices")
        };
        assert!(linger.linger, "{name}");
        assert_eq!(linger.linger_time, Some(linger_time), "{name}");
        assert_eq!(
            linger.headers.get("Controlled-Session-UUID").as_deref(),
            Some(uuid)
        );
        assert_eq!(linger.headers.get("Channel-Name").as_deref(), Some(channel));
        assert!(linger.body.is_none() || linger.body.as_deref() == Some(&b""[..]));
        assert!(!last.linger);
        assert_eq!(last.linger_time, None);
        assert_eq!(
            last.headers.get("Content-Disposition").as_deref(),
            Some("disconnect")
        );
        assert_eq!(
            last.body.as_deref(),
            Some(&b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"[..])
        );
        assert_eq!(d.named("CHANNEL_PARK").count(), 1);
        assert!(d.events().all(|e| e.unique_id().as_deref() == Some(uuid)));
    }
}

#[test]
fn show_channels_bodies_are_json_with_their_row_counts() {
    let d = decode("show_channels");
    let rows: Vec<(u64, usize)> = d
        .api_bodies()
        .iter()
        .filter(|b| b.starts_with(b"{"))
        .map(|b| {
            let v: serde_json::Value = serde_json::from_slice(b).expect("json body");
            let count = v["row_count"].as_u64().expect("row_count");
            let listed = v.get("rows").and_then(|r| r.as_array()).map_or(0, Vec::len);
            (count, listed)
        })
        .collect();
    assert_eq!(rows, [(0, 0), (0, 0), (8, 8), (7, 7), (0, 0), (0, 0)]);
    let api = d.api_bodies();
    assert_eq!(&api[0][..], b"{\"row_count\": 0}\n");
    assert!(!api[2].ends_with(b"\n"));
    assert_eq!(
        &api[6][..],
        b"+OK hangup all channels with cause NORMAL_CLEARING\n"
    );
    let v: serde_json::Value = serde_json::from_slice(api[3]).expect("calls");
    assert_eq!(
        v["rows"][6]["b_uuid"],
        "24f740e2-668e-4816-b6e5-2abd27d3b78c"
    );
}

#[test]
fn auth_fail_noauth_and_sip_leg() {
    let d = decode("auth_fail");
    assert!(matches!(d.messages[0].1, Message::AuthRequest));
    assert_eq!(d.reply_texts(), ["-ERR invalid"]);
    assert!(matches!(&d.messages[2].1, Message::Disconnect(n) if !n.linger));

    let d = decode("noauth_command");
    assert_eq!(
        d.reply_texts(),
        [
            "-ERR command not found",
            "-ERR command not found",
            "-ERR command not found",
            "+OK accepted",
            "+OK bye"
        ]
    );

    let d = decode("sip_leg");
    let park = d.one("CHANNEL_PARK", |_| true);
    assert_eq!(park.variable("sip_h_X-Campaign").as_deref(), Some("solar"));
    assert!(
        park.channel_name()
            .expect("name")
            .starts_with("sofia/parkway/")
    );
    let dtmf: Vec<_> = d
        .named("DTMF")
        .map(|e| {
            (
                e.unique_id().map(|u| u[..8].to_owned()),
                e.dtmf_source().map(|s| s.into_owned()),
            )
        })
        .collect();
    assert_eq!(
        dtmf,
        [
            (Some("c9af0bbc".into()), Some("RTP".into())),
            (Some("be4d01c4".into()), Some("RTP".into()))
        ]
    );
}

#[test]
fn burst_has_its_hundred_jobs() {
    let d = decode("burst");
    let (mut kills, mut originates) = (0, 0);
    for job in d.named("BACKGROUND_JOB") {
        match (job.header("Job-Command").as_deref(), job.job_result()) {
            (Some("uuid_kill"), Some(JobResult::Ok(_))) => kills += 1,
            (Some("originate"), Some(JobResult::Err(c))) if c == "NORMAL_CLEARING" => {
                originates += 1
            }
            other => panic!("unexpected job {other:?}"),
        }
    }
    assert_eq!((kills, originates), (50, 50));
    // Event-Sequence is not monotonic in delivery order: the notes count 184 inversions.
    let seqs: Vec<u64> = d.events().filter_map(Event::sequence).collect();
    assert_eq!(seqs.len(), 2000);
    let mut highest = 0;
    let mut late = 0;
    for s in seqs {
        if s < highest {
            late += 1;
        }
        highest = highest.max(s);
    }
    assert_eq!(late, 184);
}

/// A tiny deterministic generator for split points (no extra dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

#[test]
fn split_at_every_offset_of_a_window_gives_the_same_frames() {
    for name in CAPTURES {
        let bytes = data(name, "recv");
        let whole = frames_of(&bytes);
        // Small captures: every offset. Large ones: every offset in a window of whole frames
        // that holds a frame with an inner body (BACKGROUND_JOB) when there is one, decoded as
        // a stream of its own (offsets shifted back).
        let (start, end) = if bytes.len() <= 32 * 1024 {
            (0, bytes.len())
        } else {
            let at = whole
                .iter()
                .position(|f| {
                    f.body
                        .as_ref()
                        .is_some_and(|b| b.windows(14).any(|w| w == b"BACKGROUND_JOB"))
                })
                .unwrap_or(1);
            let first = at.saturating_sub(1);
            let last = (at + 2).min(whole.len() - 1);
            let end = whole
                .get(last + 1)
                .map_or(bytes.len(), |f| f.offset as usize);
            (whole[first].offset as usize, end)
        };
        let window = &bytes[start..end];
        let expected: Vec<Frame> = whole
            .iter()
            .filter(|f| (f.offset as usize) >= start && (f.offset as usize) < end)
            .map(|f| Frame {
                offset: f.offset - start as u64,
                ..f.clone()
            })
            .collect();
        assert!(!expected.is_empty());
        for cut in 0..=window.len() {
            assert_eq!(
                frames_fed_in_pieces(window, [cut]),
                expected,
                "{name}: split at {}",
                start + cut
            );
        }
    }
}

#[test]
fn random_splits_and_small_chunks_give_the_same_frames() {
    let mut rng = Lcg(0x5eed);
    for name in CAPTURES {
        let bytes = data(name, "recv");
        let whole = frames_of(&bytes);
        let mut cuts: Vec<usize> = (0..300).map(|_| rng.below(bytes.len())).collect();
        cuts.sort_unstable();
        assert_eq!(frames_fed_in_pieces(&bytes, cuts), whole, "{name}: random");
        for chunk in 1..=7 {
            let cuts = (chunk..bytes.len()).step_by(chunk);
            assert_eq!(
                frames_fed_in_pieces(&bytes, cuts),
                whole,
                "{name}: {chunk}-byte chunks"
            );
        }
    }
}

#[test]
fn event_bodies_share_the_input_allocation() {
    // Zero copies: a plain event's inner body and its headers are views into the frame's bytes.
    let bytes = data("originate_uuid_bridge", "recv");
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let base = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let mut jobs = 0;
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        let body = frame.body.clone();
        if let Ok(Message::Event(e)) = Message::from_frame(frame) {
            if let (Some(inner), Some(body)) = (e.body(), body) {
                let p = inner.as_ptr() as usize;
                assert!(
                    base.contains(&p),
                    "inner body is a view into the read buffer"
                );
                assert!(body.as_ptr() as usize <= p);
                jobs += 1;
            }
        }
    }
    assert_eq!(jobs, 3);
}
