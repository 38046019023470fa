//! Event header blocks in FreeSWITCH's order: the common block (`switch_event_prep`), then
//! event-specific headers that come first (`Old-Unique-ID`, `Bridge-*-Unique-ID`,
//! `Original-Channel-Call-State`, …), the channel block (`switch_channel_event_set_basic_data`),
//! the `Caller-*` profile, the `Other-Leg-*` profile, the `variable_*` block for events that
//! carry variables, and last the headers the event adds at the end (`Application*`, `DTMF-*`,
//! `Playback-*`). Values come from the captures; the engine builds [`Event`]s that the server can
//! write plain or json.
//!
//! Each event is written into one stretch of a shared buffer ([`Block`]); the `Caller-*`,
//! `Other-Leg-*` and `variable_*` blocks are copied whole: the profile blocks from the channel's
//! cache, rebuilt only when the profile changes (see `block.rs`), the variables from
//! [`Vars`](super::channel::Vars), which keeps them encoded. The date headers are formatted once
//! per second.

use std::borrow::Cow;
use std::sync::OnceLock;

use bytes::Bytes;

use parkway_esl::event::Event;

use super::Engine;
use super::block::Block;
use super::channel::{ChanId, Channel, OtherType};
use super::clock::{SEC, date_gmt, date_local};
use super::profile::{channel_ids, profile_block};

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

/// Headers added by one event: some before the channel block, some after the variables. A
/// value is borrowed when the caller has it as a string (a state or cause name, a command), so
/// most events add their headers without allocating.
#[derive(Debug, Default)]
pub struct Extra<'a> {
    pub pre: Vec<(&'static str, Cow<'a, str>)>,
    pub post: Vec<(&'static str, Cow<'a, str>)>,
}

impl<'a> Extra<'a> {
    pub fn pre(mut self, name: &'static str, value: impl Into<Cow<'a, str>>) -> Extra<'a> {
        self.pre.push((name, value.into()));
        self
    }

    pub fn post(mut self, name: &'static str, value: impl Into<Cow<'a, str>>) -> Extra<'a> {
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

/// What the common block repeats: the date headers of one wall-clock second
/// (`Event-Date-Local`, `Event-Date-GMT`) and the switch's identity headers (`Core-UUID` …
/// `FreeSWITCH-IPv6`, rebuilt when a restart changes the Core-UUID).
#[derive(Debug, Clone, Default)]
pub(crate) struct Dates {
    second: Option<u64>,
    dates: Block,
    identity_of: Option<String>,
    identity: Block,
    /// `Event-Calling-File`, `-Function`, `-Line-Number` of each origin seen (a few dozen).
    origins: Vec<(Origin, Block)>,
}

impl Origin {
    fn same(&self, o: &Origin) -> bool {
        self.2 == o.2 && self.0 == o.0 && self.1 == o.1
    }
}

impl Dates {
    /// The encoded `Event-Calling-*` headers of `origin`.
    fn origin(&mut self, origin: Origin) -> &Block {
        let at = match self.origins.iter().position(|(o, _)| o.same(&origin)) {
            Some(at) => at,
            None => {
                let mut b = Block::default();
                b.push("Event-Calling-File", origin.0);
                b.push("Event-Calling-Function", origin.1);
                b.push_u64("", "Event-Calling-Line-Number", u64::from(origin.2));
                self.origins.push((origin, b));
                self.origins.len() - 1
            }
        };
        &self.origins[at].1
    }
}

impl Engine {
    fn common(&mut self, name: &str, origin: Origin) -> Block {
        self.seq += 1;
        let wall = self.clock.wall_us();
        let second = wall / SEC;
        if self.dates.second != Some(second) {
            self.dates.second = Some(second);
            let b = &mut self.dates.dates;
            b.clear();
            b.push("Event-Date-Local", &date_local(wall));
            b.push("Event-Date-GMT", &date_gmt(wall));
        }
        if self.dates.identity_of.as_deref() != Some(self.core_uuid.as_str()) {
            let id = &self.identity;
            let b = &mut self.dates.identity;
            b.clear();
            b.push("Core-UUID", &self.core_uuid);
            b.push("FreeSWITCH-Hostname", &id.hostname);
            b.push("FreeSWITCH-Switchname", &id.switchname);
            b.push("FreeSWITCH-IPv4", &id.ipv4);
            b.push("FreeSWITCH-IPv6", &id.ipv6);
            self.dates.identity_of = Some(self.core_uuid.clone());
        }
        let arena = std::mem::take(&mut self.arena);
        let spans = std::mem::take(&mut self.spans);
        let mut h = Block::in_arena(arena, spans);
        h.push("Event-Name", name);
        h.append(&self.dates.identity);
        h.append(&self.dates.dates);
        h.push_u64("", "Event-Date-Timestamp", wall);
        h.append(self.dates.origin(origin));
        h.push_u64("", "Event-Sequence", self.seq);
        h
    }

    /// Raises an event that belongs to no channel (API, BACKGROUND_JOB, …).
    pub(super) fn emit_global(
        &mut self,
        name: &str,
        origin: Origin,
        extra: Extra<'_>,
        body: Option<String>,
    ) {
        let mut h = self.common(name, origin);
        for (n, v) in extra.pre.iter().chain(extra.post.iter()) {
            h.push(n, v);
        }
        self.push_event(h, body);
    }

    /// Raises a channel event with the channel's full header set.
    pub(super) fn emit(&mut self, name: &str, chan: ChanId, origin: Origin, extra: Extra<'_>) {
        if self.channels.get(&chan).is_some_and(|c| c.hidden) {
            return;
        }
        let mut h = self.common(name, origin);
        for (n, v) in &extra.pre {
            h.push(n, v);
        }
        let other = self.channels.get_mut(&chan).and_then(|c| {
            let mut blocks = std::mem::take(&mut c.blocks);
            let [ids, names, times] = blocks.caller(&c.leg());
            channel_block(&mut h, c, ids);
            h.append(names);
            h.append(times);
            c.blocks = blocks;
            c.other
        });
        if let Some((kind, other)) = other
            && let Some(o) = self.channels.get_mut(&other)
        {
            let kind = match kind {
                OtherType::Originator => "originator",
                OtherType::Originatee => "originatee",
            };
            h.push("Other-Type", kind);
            let mut blocks = std::mem::take(&mut o.blocks);
            for part in blocks.other_leg(&o.leg()) {
                h.append(part);
            }
            o.blocks = blocks;
        }
        if carries_variables(name)
            && let Some(c) = self.channels.get(&chan)
        {
            h.append_vars(&c.vars);
        }
        for (n, v) in &extra.post {
            h.push(n, v);
        }
        self.push_event(h, None);
    }

    /// The channel's data as the outbound `connect` reply carries it (a CHANNEL_DATA event:
    /// the profile under `Channel-`, the channel block, `Caller-*`, the variables). The server
    /// adds `Content-Type`, `Reply-Text`, `Socket-Mode` and `Control`.
    pub fn channel_data(&mut self, uuid: &str) -> Option<Event> {
        let id = self.id_of(uuid)?;
        let mut h = self.common("CHANNEL_DATA", CHANNEL_DATA);
        let c = self.channels.get(&id)?;
        profile_block(&mut h, &c.leg(), "Channel-", true);
        let mut ids = Block::default();
        channel_ids(&mut ids, &c.leg());
        channel_block(&mut h, c, &ids);
        profile_block(&mut h, &c.leg(), "Caller-", true);
        h.append_vars(&c.vars);
        let (headers, arena, spans) = h.finish_event();
        self.arena = arena;
        self.spans = spans;
        Some(Event::new(headers, None))
    }

    fn push_event(&mut self, headers: Block, body: Option<String>) {
        let (headers, arena, spans) = headers.finish_event();
        self.arena = arena;
        self.spans = spans;
        self.events.push(Event::new(headers, body.map(Bytes::from)));
    }
}

/// The codec headers every channel event ends its channel block with.
fn codecs() -> &'static Block {
    static CODECS: OnceLock<Block> = OnceLock::new();
    CODECS.get_or_init(|| {
        Block::of_pairs(&[
            ("Channel-Read-Codec-Name", "L16"),
            ("Channel-Read-Codec-Rate", "8000"),
            ("Channel-Read-Codec-Bit-Rate", "128000"),
            ("Channel-Write-Codec-Name", "L16"),
            ("Channel-Write-Codec-Rate", "8000"),
            ("Channel-Write-Codec-Bit-Rate", "128000"),
        ])
    })
}

/// The channel block; `ids` is its `Channel-Name` … `Presence-Call-Direction` part.
fn channel_block(h: &mut Block, c: &Channel, ids: &Block) {
    h.push("Channel-State", c.running_state.name());
    h.push("Channel-Call-State", c.call_state.name());
    h.push_u64("", "Channel-State-Number", u64::from(c.state.number()));
    h.append(ids);
    h.push(
        "Channel-HIT-Dialplan",
        if c.hit_dialplan { "true" } else { "false" },
    );
    h.push("Channel-Call-UUID", &c.call_uuid);
    h.push("Answer-State", c.answer_state.name());
    if let Some(cause) = c.hangup_cause {
        h.push("Hangup-Cause", cause.name);
    }
    h.append(codecs());
}
