//! Event header blocks in FreeSWITCH's order: the common block (`switch_event_prep`), then
//! event-specific headers that come first (`Old-Unique-ID`, `Bridge-*-Unique-ID`,
//! `Original-Channel-Call-State`, …), the channel block (`switch_channel_event_set_basic_data`),
//! the `Caller-*` profile, the `Other-Leg-*` profile, the `variable_*` block for events that
//! carry variables, and last the headers the event adds at the end (`Application*`, `DTMF-*`,
//! `Playback-*`). Values come from the captures; the engine builds [`Event`]s that the server can
//! write plain or json.

use bytes::Bytes;

use crate::esl::event::Event;
use crate::esl::headers::Headers;

use super::Engine;
use super::channel::{ChanId, Channel, OtherType};
use super::clock::{date_gmt, date_local};

/// Where FreeSWITCH raises an event: `Event-Calling-File`, `-Function`, `-Line-Number`.
#[derive(Debug, Clone, Copy)]
pub struct Origin(pub &'static str, pub &'static str, pub u32);

pub const STATE: Origin = Origin(
    "switch_channel.c",
    "switch_channel_perform_set_running_state",
    2408,
);
pub const CALLSTATE: Origin = Origin(
    "switch_channel.c",
    "switch_channel_perform_set_callstate",
    301,
);
pub const CREATE: Origin = Origin(
    "switch_core_state_machine.c",
    "switch_core_session_run",
    626,
);
pub const ORIGINATE: Origin = Origin(
    "switch_core_state_machine.c",
    "switch_core_session_run",
    632,
);
pub const OUTGOING: Origin = Origin(
    "switch_core_session.c",
    "switch_core_session_outgoing_channel",
    768,
);
pub const UUID: Origin = Origin(
    "switch_core_session.c",
    "switch_core_session_set_uuid",
    2051,
);
pub const EXECUTE: Origin = Origin("switch_core_session.c", "switch_core_session_exec", 2944);
pub const EXECUTE_COMPLETE: Origin =
    Origin("switch_core_session.c", "switch_core_session_exec", 2967);
pub const PARK: Origin = Origin("switch_ivr.c", "switch_ivr_park", 1002);
pub const UNPARK: Origin = Origin("switch_ivr.c", "switch_ivr_park", 1213);
pub const PROGRESS: Origin = Origin(
    "switch_channel.c",
    "switch_channel_perform_mark_ring_ready_value",
    3505,
);
pub const PROGRESS_MEDIA: Origin = Origin(
    "switch_channel.c",
    "switch_channel_perform_mark_pre_answered",
    3560,
);
pub const ANSWER: Origin = Origin(
    "switch_channel.c",
    "switch_channel_perform_mark_answered",
    3846,
);
pub const BRIDGE: Origin = Origin(
    "switch_ivr_bridge.c",
    "switch_ivr_multi_threaded_bridge",
    1689,
);
pub const UNBRIDGE: Origin = Origin(
    "switch_ivr_bridge.c",
    "switch_ivr_multi_threaded_bridge",
    1879,
);
pub const DTMF: Origin = Origin("switch_channel.c", "switch_channel_dequeue_dtmf", 677);
pub const HANGUP: Origin = Origin("switch_channel.c", "switch_channel_perform_hangup", 3445);
pub const HANGUP_COMPLETE: Origin = Origin(
    "switch_core_state_machine.c",
    "switch_core_session_reporting_state",
    943,
);
pub const DESTROY: Origin = Origin(
    "switch_core_session.c",
    "switch_core_session_perform_destroy",
    1584,
);
pub const PLAYBACK_START: Origin = Origin("switch_ivr_play_say.c", "switch_ivr_play_file", 1646);
pub const PLAYBACK_STOP: Origin = Origin("switch_ivr_play_say.c", "switch_ivr_play_file", 2020);
pub const API: Origin = Origin("switch_loadable_module.c", "switch_api_execute", 2954);
pub const BACKGROUND_JOB: Origin = Origin("mod_event_socket.c", "api_exec", 1572);
pub const CHANNEL_DATA: Origin = Origin("mod_event_socket.c", "parse_command", 2021);

/// Headers added by one event: some before the channel block, some after the variables.
#[derive(Debug, Default)]
pub struct Extra {
    pub pre: Vec<(&'static str, String)>,
    pub post: Vec<(&'static str, String)>,
}

impl Extra {
    pub fn pre(mut self, name: &'static str, value: impl Into<String>) -> Extra {
        self.pre.push((name, value.into()));
        self
    }

    pub fn post(mut self, name: &'static str, value: impl Into<String>) -> Extra {
        self.post.push((name, value.into()));
        self
    }
}

/// Whether an event carries the `variable_*` block (FreeSWITCH leaves it off CHANNEL_STATE,
/// CHANNEL_CALLSTATE, CHANNEL_OUTGOING and DTMF).
fn carries_variables(name: &str) -> bool {
    !matches!(
        name,
        "CHANNEL_STATE" | "CHANNEL_CALLSTATE" | "CHANNEL_OUTGOING" | "DTMF"
    )
}

impl Engine {
    fn common(&mut self, name: &str, origin: Origin) -> Vec<(String, String)> {
        self.seq += 1;
        let wall = self.clock.wall_us();
        let id = &self.identity;
        vec![
            ("Event-Name".into(), name.into()),
            ("Core-UUID".into(), self.core_uuid.clone()),
            ("FreeSWITCH-Hostname".into(), id.hostname.clone()),
            ("FreeSWITCH-Switchname".into(), id.switchname.clone()),
            ("FreeSWITCH-IPv4".into(), id.ipv4.clone()),
            ("FreeSWITCH-IPv6".into(), id.ipv6.clone()),
            ("Event-Date-Local".into(), date_local(wall)),
            ("Event-Date-GMT".into(), date_gmt(wall)),
            ("Event-Date-Timestamp".into(), wall.to_string()),
            ("Event-Calling-File".into(), origin.0.into()),
            ("Event-Calling-Function".into(), origin.1.into()),
            ("Event-Calling-Line-Number".into(), origin.2.to_string()),
            ("Event-Sequence".into(), self.seq.to_string()),
        ]
    }

    /// Raises an event that belongs to no channel (API, BACKGROUND_JOB, …).
    pub(super) fn emit_global(
        &mut self,
        name: &str,
        origin: Origin,
        extra: Extra,
        body: Option<String>,
    ) {
        let mut h = self.common(name, origin);
        h.extend(extra.pre.into_iter().map(|(n, v)| (n.to_owned(), v)));
        h.extend(extra.post.into_iter().map(|(n, v)| (n.to_owned(), v)));
        self.push_event(h, body);
    }

    /// Raises a channel event with the channel's full header set.
    pub(super) fn emit(&mut self, name: &str, chan: ChanId, origin: Origin, extra: Extra) {
        if self.channels.get(&chan).is_some_and(|c| c.hidden) {
            return;
        }
        let mut h = self.common(name, origin);
        h.extend(extra.pre.into_iter().map(|(n, v)| (n.to_owned(), v)));
        if let Some(c) = self.channels.get(&chan) {
            channel_block(&mut h, c);
            profile_block(&mut h, c, "Caller-", true);
            if let Some((kind, other)) = c.other
                && let Some(o) = self.channels.get(&other)
            {
                let kind = match kind {
                    OtherType::Originator => "originator",
                    OtherType::Originatee => "originatee",
                };
                h.push(("Other-Type".into(), kind.into()));
                profile_block(&mut h, o, "Other-Leg-", false);
            }
            if carries_variables(name) {
                for (n, v) in c.vars.iter() {
                    h.push((format!("variable_{n}"), v.to_owned()));
                }
            }
        }
        h.extend(extra.post.into_iter().map(|(n, v)| (n.to_owned(), v)));
        self.push_event(h, None);
    }

    /// The channel's data as the outbound `connect` reply carries it (a CHANNEL_DATA event:
    /// the profile under `Channel-`, the channel block, `Caller-*`, the variables). The server
    /// adds `Content-Type`, `Reply-Text`, `Socket-Mode` and `Control`.
    pub fn channel_data(&mut self, uuid: &str) -> Option<Event> {
        let id = self.id_of(uuid)?;
        let mut h = self.common("CHANNEL_DATA", CHANNEL_DATA);
        let c = self.channels.get(&id)?;
        profile_block(&mut h, c, "Channel-", true);
        channel_block(&mut h, c);
        profile_block(&mut h, c, "Caller-", true);
        for (n, v) in c.vars.iter() {
            h.push((format!("variable_{n}"), v.to_owned()));
        }
        let headers = Headers::from_pairs(h.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        Some(Event::new(headers, None))
    }

    fn push_event(&mut self, headers: Vec<(String, String)>, body: Option<String>) {
        let headers = Headers::from_pairs(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        self.events.push(Event::new(headers, body.map(Bytes::from)));
    }
}

fn channel_block(h: &mut Vec<(String, String)>, c: &Channel) {
    let mut push = |n: &str, v: String| h.push((n.to_owned(), v));
    push("Channel-State", c.running_state.name().into());
    push("Channel-Call-State", c.call_state.name().into());
    push("Channel-State-Number", c.state.number().to_string());
    push("Channel-Name", c.name.clone());
    push("Unique-ID", c.uuid.clone());
    push("Call-Direction", c.direction.name().into());
    push("Presence-Call-Direction", c.direction.name().into());
    push("Channel-HIT-Dialplan", c.hit_dialplan.to_string());
    push("Channel-Call-UUID", c.call_uuid.clone());
    push("Answer-State", c.answer_state.name().into());
    if let Some(cause) = c.hangup_cause {
        push("Hangup-Cause", cause.name.into());
    }
    for (dir, _) in [("Read", 0), ("Write", 1)] {
        push(&format!("Channel-{dir}-Codec-Name"), "L16".into());
        push(&format!("Channel-{dir}-Codec-Rate"), "8000".into());
        push(&format!("Channel-{dir}-Codec-Bit-Rate"), "128000".into());
    }
}

/// The caller profile under `Caller-` (with `Profile-Index`) or `Other-Leg-` (without).
fn profile_block(h: &mut Vec<(String, String)>, c: &Channel, prefix: &str, own: bool) {
    let p = &c.profile;
    let mut push = |n: &str, v: String| h.push((format!("{prefix}{n}"), v));
    push("Direction", c.direction.name().into());
    push("Logical-Direction", c.direction.name().into());
    push("Dialplan", "xml".into());
    push("Caller-ID-Name", p.caller_id_name.clone());
    push("Caller-ID-Number", p.caller_id_number.clone());
    push("Orig-Caller-ID-Name", p.caller_id_name.clone());
    push("Orig-Caller-ID-Number", p.caller_id_number.clone());
    push("Callee-ID-Name", p.callee_id_name.clone());
    push("Callee-ID-Number", p.callee_id_number.clone());
    push("ANI", p.caller_id_number.clone());
    push("Destination-Number", p.destination_number.clone());
    push("Unique-ID", c.uuid.clone());
    push("Source", p.source.clone());
    push("Context", p.context.clone());
    push("Channel-Name", c.name.clone());
    if own {
        push("Profile-Index", "1".into());
    }
    push("Profile-Created-Time", p.created.to_string());
    push("Channel-Created-Time", p.created.to_string());
    push("Channel-Answered-Time", p.answered.to_string());
    push("Channel-Progress-Time", p.progress.to_string());
    push("Channel-Progress-Media-Time", p.progress_media.to_string());
    push("Channel-Hangup-Time", p.hangup.to_string());
    push("Channel-Transfer-Time", p.transfer.to_string());
    push("Channel-Resurrect-Time", "0".into());
    push("Channel-Bridged-Time", p.bridged.to_string());
    push("Channel-Last-Hold", "0".into());
    push("Channel-Hold-Accum", "0".into());
    push("Screen-Bit", "true".into());
    push("Privacy-Hide-Name", "false".into());
    push("Privacy-Hide-Number", "false".into());
}
