//! Reading a capture: its events, api replies, commands and their times.

use bytes::Bytes;
use bytes::BytesMut;
use parkway_esl::codec::EslCodec;
use parkway_esl::command::Command;
use parkway_esl::event::Event;
use parkway_esl::message::Message;
use std::path::Path;
use std::path::PathBuf;
use tokio_util::codec::Decoder;

/// Events left out of comparisons: those the simulator never emits, and BACKGROUND_JOB (the
/// engine answers `bgapi` itself).
pub(crate) fn not_modelled(name: &str) -> bool {
    name == "BACKGROUND_JOB" || parkway_sim::NOT_EMITTED.contains(&name)
}

pub(crate) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../captures")
        .join(name)
}

pub(crate) fn real_events(name: &str) -> Vec<Event> {
    let bytes = std::fs::read(data(&format!("{name}.recv"))).expect("capture");
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        if let Message::Event(e) = Message::from_frame(frame).expect("message") {
            out.push(e);
        }
    }
    out
}

/// The times of the commands, from the `.md` steps (`- t=  0.007 sent …`).
pub(crate) fn send_times(name: &str) -> Vec<f64> {
    let md = std::fs::read_to_string(data(&format!("{name}.md"))).expect("md");
    md.lines()
        .filter(|l| l.starts_with("- t=") && l.contains(" sent "))
        .filter_map(|l| l[4..].trim_start().split(' ').next()?.parse().ok())
        .collect()
}

pub(crate) fn commands(name: &str) -> Vec<Command> {
    let sent = std::fs::read_to_string(data(&format!("{name}.sent"))).expect("sent");
    sent.split("\n\n")
        .filter(|c| !c.trim().is_empty())
        .map(|c| Command::parse(c.as_bytes(), None::<Bytes>).expect("command"))
        .collect()
}

/// The api/response bodies of a capture.
pub(crate) fn api_bodies(name: &str) -> Vec<String> {
    let bytes = std::fs::read(data(&format!("{name}.recv"))).expect("capture");
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        if let Message::ApiResponse(body) = Message::from_frame(frame).expect("message") {
            out.push(String::from_utf8_lossy(&body).into_owned());
        }
    }
    out
}
