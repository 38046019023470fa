//! Frames as FreeSWITCH 1.10.12 writes them (header order as in the captures).

use bytes::{Bytes, BytesMut};

use crate::engine::OutboundRequest;
use parkway_esl::codec::write_frame;
use parkway_esl::command::EventFormat;
use parkway_esl::event::Event;
use parkway_esl::headers::Headers;

/// The body of FreeSWITCH's final disconnect notice.
pub const GOODBYE: &[u8] = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";
/// The body of a rude rejection (ACL refused the address).
pub const ACCESS_DENIED: &[u8] = b"Access Denied, go away.\n";

pub fn auth_request() -> Bytes {
    Bytes::from_static(b"Content-Type: auth/request\n\n")
}

/// `command/reply` with `Reply-Text` and extra headers after it (`Job-UUID` for bgapi).
pub fn reply(text: &str, extra: &[(&str, &str)]) -> Bytes {
    let mut out = BytesMut::with_capacity(64 + text.len());
    let mut headers = vec![("Content-Type", "command/reply"), ("Reply-Text", text)];
    headers.extend_from_slice(extra);
    write_frame(&mut out, &headers, None);
    out.freeze()
}

/// `api/response`: `Content-Type` first, then `Content-Length`.
pub fn api_response(body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(64 + body.len());
    let len = body.len().to_string();
    write_frame(
        &mut out,
        &[("Content-Type", "api/response"), ("Content-Length", &len)],
        Some(body),
    );
    out.freeze()
}

/// An event frame: `Content-Length` first, then `Content-Type`, then the encoded event.
pub fn event(event: &Event, format: EventFormat) -> Bytes {
    let mut body = BytesMut::with_capacity(2048);
    let content_type = match format {
        EventFormat::Json => {
            event.encode_json(&mut body);
            "text/event-json"
        }
        _ => {
            event.encode_plain(&mut body);
            "text/event-plain"
        }
    };
    let mut out = BytesMut::with_capacity(body.len() + 64);
    let len = body.len().to_string();
    write_frame(
        &mut out,
        &[("Content-Length", &len), ("Content-Type", content_type)],
        Some(&body),
    );
    out.freeze()
}

/// The final notice on an inbound socket (`exit`, failed auth).
pub fn goodbye() -> Bytes {
    let mut out = BytesMut::new();
    let len = GOODBYE.len().to_string();
    write_frame(
        &mut out,
        &[
            ("Content-Type", "text/disconnect-notice"),
            ("Content-Length", &len),
        ],
        Some(GOODBYE),
    );
    out.freeze()
}

/// The notices of an outbound socket whose channel hung up: `linger` (socket stays open for
/// `linger_time` seconds, -1 = until the client leaves) or the final `disconnect`.
pub fn channel_notice(uuid: &str, channel_name: &str, linger: Option<i64>) -> Bytes {
    let mut out = BytesMut::new();
    match linger {
        Some(secs) => {
            let secs = secs.to_string();
            write_frame(
                &mut out,
                &[
                    ("Content-Type", "text/disconnect-notice"),
                    ("Controlled-Session-UUID", uuid),
                    ("Content-Disposition", "linger"),
                    ("Channel-Name", channel_name),
                    ("Linger-Time", &secs),
                    ("Content-Length", "0"),
                ],
                None,
            );
        }
        None => {
            let len = GOODBYE.len().to_string();
            write_frame(
                &mut out,
                &[
                    ("Content-Type", "text/disconnect-notice"),
                    ("Controlled-Session-UUID", uuid),
                    ("Content-Disposition", "disconnect"),
                    ("Content-Length", &len),
                ],
                Some(GOODBYE),
            );
        }
    }
    out.freeze()
}

pub fn rude_rejection() -> Bytes {
    let mut out = BytesMut::new();
    let len = ACCESS_DENIED.len().to_string();
    write_frame(
        &mut out,
        &[
            ("Content-Type", "text/rude-rejection"),
            ("Content-Length", &len),
        ],
        Some(ACCESS_DENIED),
    );
    out.freeze()
}

/// The start of a frame that never ends (announces 100 bytes, carries 7).
pub fn cut_frame() -> Bytes {
    Bytes::from_static(b"Content-Type: api/response\nContent-Length: 100\n\npartial")
}

/// The headers every FreeSWITCH event starts with, then `pairs`, then an optional body.
pub fn build_event(name: &str, sequence: u64, pairs: &[(&str, &str)], body: Option<&str>) -> Event {
    let sequence = sequence.to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("Event-Name", name),
        ("Core-UUID", "5e1a1e57-0000-4000-8000-000000000001"),
        ("FreeSWITCH-Hostname", "sim"),
        ("FreeSWITCH-Switchname", "sim"),
        ("FreeSWITCH-IPv4", "127.0.0.1"),
        ("Event-Sequence", &sequence),
    ];
    all.extend_from_slice(pairs);
    let mut event_body = None;
    if let Some(b) = body {
        event_body = Some(Bytes::copy_from_slice(b.as_bytes()));
    }
    Event::new(Headers::from_pairs(all), event_body)
}

/// A BACKGROUND_JOB event carrying a job's output, as `api_exec` in mod_event_socket.c fires it.
pub fn background_job(sequence: u64, job_uuid: &str, cmd: &str, arg: &str, output: &str) -> Event {
    let mut pairs = vec![("Job-UUID", job_uuid), ("Job-Command", cmd)];
    if !arg.is_empty() {
        pairs.push(("Job-Command-Arg", arg));
    }
    build_event("BACKGROUND_JOB", sequence, &pairs, Some(output))
}

/// The reply to an outbound socket's `connect`: the channel data, then `Content-Type`,
/// `Reply-Text: +OK` and the socket mode, as `outbound_plain.recv` shows.
pub fn connect_reply(data: &Event, request: &OutboundRequest) -> Bytes {
    let mut pairs: Vec<(String, String)> = data
        .headers()
        .iter()
        .map(|(n, v)| (n.to_owned(), v.into_owned()))
        .collect();
    let mode = if request.async_mode {
        "async"
    } else {
        "static"
    };
    let control = if request.full {
        "full"
    } else {
        "single-channel"
    };
    for (n, v) in [
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", mode),
        ("Control", control),
    ] {
        pairs.push((n.into(), v.into()));
    }
    let headers = Headers::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let mut out = BytesMut::with_capacity(4096);
    Event::new(headers, None).encode_plain(&mut out);
    out.freeze()
}
