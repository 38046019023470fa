//! The deterministic core of the simulated FreeSWITCH: channels, applications, dial strings,
//! bridges and the events they raise, with no sockets, no clock reads and no OS randomness.
//!
//! Time is virtual (microseconds since the engine started, moved by [`Engine::advance_to`]) and
//! every id comes from the seed given in [`EngineConfig`], so a scenario replayed with the same
//! seed gives a byte-identical event stream. The server (`src/sim`'s socket side) maps ESL
//! commands onto [`Engine::api`], [`Engine::bgapi`] and [`Engine::sendmsg_execute`], drains
//! [`Engine::take_events`] and writes them plain or json.
//!
//! # What is modelled
//! - Channels with FreeSWITCH's Channel-State (running state and requested state number),
//!   Channel-Call-State and Answer-State, caller profile, ordered variables, the application
//!   stack (a `bridge` sent while parked runs on top of `park`), partner and bridge links.
//! - `loopback/<ext>[/<context>]` endpoints as pairs (`-a` outbound, `-b` inbound running the
//!   context's dialplan), propagating ring, early media, answer, DTMF and hangup like
//!   mod_loopback. Callers in the captures are such pairs (see [`dialplan`]).
//! - `sofia/<profile>/<user>@<host>` legs (also written `sip:…` / `sips:…`): one visible
//!   outbound channel whose far end (the SIP user agent) is a hidden channel running the `sip`
//!   (else `buyers`) extension named by the user part; its DTMF arrives with
//!   `DTMF-Source: RTP` (`DTMF-Duration: 2080`, kept when relayed). A leg to the switch's own
//!   profile address (`…@127.0.0.1:5080`, as in `sip_leg` and `dtmf_variants`) loops back in:
//!   its far end is a visible inbound `sofia/<profile>/<caller number>@127.0.0.1` running
//!   `public` (where `answer_dtmf` and `slow_hangup` transfer to `buyers`; see
//!   `loopback::PairKind::SipSelf`). `sofia/gateway/<gw>/<number>` legs likewise, named
//!   `sofia/<gw>/<number>@<gw>` (see `loopback::PairKind::SipOut`), running the extension
//!   named by the number, else by the number without its leading `+`. A user with no extension
//!   fails the leg with UNALLOCATED_NUMBER (the far end's `404 Not Found`); a loopback
//!   destination with none, with NO_ROUTE_DESTINATION. An [`api::InboundCall`] with `sip` set
//!   arrives as `sofia/<profile>/<caller>@<host>`. No SIP variables (`sip_*` other than the
//!   X-headers given), no CALL_UPDATE / RECV_INFO, no RTP statistics.
//! - Dialplan contexts `public` (`set park_timeout=60:NORMAL_CLEARING`, `park`) and `buyers`
//!   (`busy`, `no_answer`, `answer_dtmf`, `answer_talk`, `slow_hangup`), plus extensions a
//!   scenario adds ([`Dialplan::add`], [`Dialplan::add_behaviour`], [`Behaviour`]). A
//!   behaviour may be drawn per call (weighted [`Behaviour::Mix`], ring and talk times from
//!   [`MsRange`]s) from a stream seeded apart from the ids (see [`behaviour`]).
//! - Applications: `set`, `export`, `unset`, `answer`, `pre_answer`, `ring_ready`, `playback`
//!   (WAV length read with hound, `tone_stream://%(on,off,freq)` and `silence_stream://ms`),
//!   `sleep`, `send_dtmf`, `hangup`, `park`, `transfer`, `bridge`, `socket`; an unknown
//!   application raises no CHANNEL_EXECUTE and hangs the channel up with
//!   DESTINATION_OUT_OF_ORDER (`switch_core_session_execute_application`).
//! - `bridge` / `originate` dial strings (parsed with [`parkway_esl::dialstring`]): `{}` `[]` `<>`
//!   variables, `,` (first answer wins, LOSE_RACE for the rest), `|` (next group on failure),
//!   `:_:`, `leg_timeout` (ALLOTTED_TIMEOUT, also for an answered leg still confirming),
//!   `originate_timeout`, `ignore_early_media`, `group_confirm_key=exec` +
//!   `group_confirm_file`, `group_confirm_cancel_timeout`, `continue_on_fail`,
//!   `hangup_after_bridge`, `park_after_bridge`, and the result variables.
//! - api: see [`api`]; `uuid_bridge` (see `uuid_bridge.rs`); JSON CDRs (see `cdr.rs`).
//! - Outbound event socket: the dialplan `socket` application (and the captures' `socket_<port>`
//!   extensions in `public`) asks the server for a connection ([`Engine::take_outbound_requests`]),
//!   [`Engine::channel_data`] gives the `connect` reply's channel data, and
//!   [`Engine::outbound_closed`] ends the application.
//! - Faults: [`Engine::restart`] (new Core-UUID, channels kept or gone),
//!   [`Engine::schedule_hangup`] (a caller abandoning at a given time).
//!
//! # How it is held to FreeSWITCH
//! `tests/engine/conformance/` replays ten captures' commands at their recorded times and
//! compares, channel by channel (channels sharing a name told apart by the order they appear),
//! every modelled event (name, Answer-State, Channel-State, Hangup-Cause, DTMF digit, source and
//! duration, application, response and Application-UUID pairing, originate_disposition,
//! Call-Direction, Other-Leg and Bridge-A/B), the BACKGROUND_JOB bodies and the `api` replies;
//! for the bridge scenarios also each event's non-variable header names in order (the SIP
//! channels excepted), the set of variables it carries, and the times of answer, bridge, DTMF
//! and hangup (within 150 ms); plus the CDR shape, `show` columns and the outbound connect data.
//! Real thread races are forgiven only where a capture shows them (`Races` there: `LegStart`
//! for the two uuid_bridge captures, `CallerAnswer` for `inbound_json`, `PeerKilled` for
//! `dtmf_variants`).
//!
//! The one input the engine reads itself is a WAV file's header (`playback` of a file, with
//! hound), from [`EngineConfig::sounds_dir`].
//!
//! # What is not modelled
//! Listed in the crate's `README.md`.

pub mod api;
mod apps;
pub mod behaviour;
mod block;
mod bridge;
pub mod cdr;
pub mod channel;
pub mod clock;
pub mod dialplan;
pub mod headers;
mod lifecycle;
mod loopback;
mod originate;
mod origination;
mod profile;
mod show;
mod uuid_bridge;
mod vars;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::path::PathBuf;

use parkway_esl::event::Event;

pub use behaviour::{Behaviour, MsRange};
pub use cdr::Cdr;
pub use channel::{AnswerState, CallDirection, CallState, Cause, ChanId, Channel, ChannelState};
pub use clock::{MS, Micros, SEC};
pub use dialplan::Dialplan;

use channel::Vars;
use clock::Clock;
use parkway_esl::splitmix::SplitMix64;

/// Block caches kept for reuse: enough for the channels a burst of calls ends at once.
pub(crate) const SPARE_BLOCKS: usize = 64;

/// Destroyed channels between two sweeps ([`Engine::sweep_destroyed`]).
const SWEEP_EVERY: usize = 256;

/// Mixed into the seed for the behaviour stream.
const DRAW_STREAM: u64 = 0xB3A7_1D0E_5EED_D4A3;

/// Who the simulated switch says it is (the common block of every event).
#[derive(Debug, Clone)]
pub struct Identity {
    pub hostname: String,
    pub switchname: String,
    pub ipv4: String,
    pub ipv6: String,
}

impl Default for Identity {
    /// The values of the captures.
    fn default() -> Identity {
        Identity {
            hostname: "vm".into(),
            switchname: "vm".into(),
            ipv4: "192.0.2.2".into(),
            ipv6: "fd00::2".into(),
        }
    }
}

/// Everything the engine needs from outside: the seed and the wall-clock instant of virtual 0.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub seed: u64,
    /// Wall-clock microseconds since the Unix epoch at virtual time 0.
    pub epoch_us: u64,
    pub identity: Identity,
    /// Where relative `playback` paths are looked up (the switch's sounds directory).
    pub sounds_dir: PathBuf,
    /// Global variables (`global_getvar`); `domain` defaults to `127.0.0.1` as in the captures.
    pub globals: Vec<(String, String)>,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            seed: 0,
            // 2026-11-24 11:56:25 UTC, just before the captures' first event.
            epoch_us: 1_795_521_385_000_000,
            identity: Identity::default(),
            sounds_dir: PathBuf::from("sounds"),
            globals: vec![("domain".into(), "127.0.0.1".into())],
        }
    }
}

/// Errors of commands given to the engine (the server turns them into `-ERR …` replies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("no such channel")]
    NoSuchChannel,
    #[error("invalid command: {0}")]
    Invalid(String),
}

/// A channel asking for an outbound event-socket connection (dialplan `socket` application):
/// the server connects to `address` and drives the channel (sendmsg without a uuid), then calls
/// [`Engine::outbound_closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub uuid: String,
    pub address: String,
    pub async_mode: bool,
    pub full: bool,
}

/// Deferred work: what FreeSWITCH's session threads would do next, run in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Work {
    /// Let the channel's thread take its next application or queued command.
    Step(ChanId),
    /// Hang a channel up (a peer's hangup reaching it).
    Hangup(ChanId, Cause),
    /// Run the channel's hangup: unwind its applications and report it.
    Finish(ChanId),
    /// A loopback `-a` leg's thread comes up (see `leg_up`).
    LegUp(ChanId),
}

/// Things that happen at a virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A `sleep` or `playback` ends (ignored unless the token still runs).
    AppDone {
        chan: ChanId,
        token: u64,
    },
    ParkTimeout {
        chan: ChanId,
        token: u64,
        cause: Cause,
    },
    LegTimeout {
        orig: u64,
        chan: ChanId,
    },
    OriginateTimeout {
        orig: u64,
        group: usize,
    },
    /// A scripted hangup (a caller abandoning, `uuid_kill` scheduled by a scenario).
    Hangup {
        chan: ChanId,
        cause: Cause,
    },
    /// A scripted keypress on a channel (a caller's phone or user agent pressing digits).
    Dtmf {
        chan: ChanId,
        digits: String,
    },
}

/// The simulated switch.
pub struct Engine {
    pub(crate) identity: Identity,
    pub(crate) core_uuid: String,
    pub(crate) clock: Clock,
    pub(crate) rng: SplitMix64,
    /// Draws of buyer behaviours ([`Behaviour::Mix`], ranges): a stream apart from `rng`, so
    /// draws change no id.
    pub(crate) draws: SplitMix64,
    pub(crate) seq: u64,
    /// The date headers of the current second.
    pub(crate) dates: headers::Dates,
    /// Where events' header bytes are written (see `block.rs`).
    pub(crate) arena: bytes::BytesMut,
    /// Where an event's header spans are written before they are copied out at their exact
    /// length (see `block.rs`); as long as the largest event so far.
    pub(crate) spans: block::Spans,
    /// Block caches of destroyed channels, for new channels to reuse their buffers (at most
    /// [`SPARE_BLOCKS`]; a cache past that is dropped).
    pub(crate) spare_blocks: Vec<profile::BlockCache>,
    pub(crate) sounds_dir: PathBuf,
    pub(crate) globals: Vars,
    pub(crate) dialplan: Dialplan,
    pub(crate) channels: BTreeMap<ChanId, Channel>,
    pub(crate) by_uuid: HashMap<String, ChanId>,
    pub(crate) next_chan: ChanId,
    /// Channels destroyed since the last [`Engine::sweep_destroyed`].
    pub(crate) destroyed_since_sweep: usize,
    pub(crate) sessions: u64,
    pub(crate) work: VecDeque<Work>,
    timers: BinaryHeap<Reverse<(Micros, u64)>>,
    timer_items: HashMap<u64, Timer>,
    pub(crate) next_token: u64,
    pub(crate) origs: BTreeMap<u64, origination::Origination>,
    pub(crate) events: Vec<Event>,
    pub(crate) cdrs: Vec<cdr::Cdr>,
    pub(crate) outbound: Vec<OutboundRequest>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        let mut rng = SplitMix64::new(config.seed);
        let core_uuid = rng.uuid_v4();
        let mut globals = Vars::default();
        for (n, v) in &config.globals {
            globals.set(n, v);
        }
        Engine {
            identity: config.identity,
            core_uuid,
            clock: Clock::new(config.epoch_us),
            rng,
            draws: SplitMix64::new(config.seed ^ DRAW_STREAM),
            seq: 0,
            dates: headers::Dates::default(),
            arena: bytes::BytesMut::new(),
            spans: Vec::new(),
            spare_blocks: Vec::new(),
            sounds_dir: config.sounds_dir,
            globals,
            dialplan: Dialplan::default(),
            channels: BTreeMap::new(),
            by_uuid: HashMap::new(),
            next_chan: 1,
            destroyed_since_sweep: 0,
            sessions: 0,
            work: VecDeque::new(),
            timers: BinaryHeap::new(),
            timer_items: HashMap::new(),
            next_token: 1,
            origs: BTreeMap::new(),
            events: Vec::new(),
            cdrs: Vec::new(),
            outbound: Vec::new(),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Micros {
        self.clock.now
    }

    pub fn core_uuid(&self) -> &str {
        &self.core_uuid
    }

    /// The dialplan, to add extensions before or during a run.
    pub fn dialplan_mut(&mut self) -> &mut Dialplan {
        &mut self.dialplan
    }

    /// When the next timer fires, if any.
    pub fn next_deadline(&self) -> Option<Micros> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Runs every timer due up to `t` (in time order) and leaves the clock at `t`. Time never
    /// goes back: an earlier `t` is a no-op.
    pub fn advance_to(&mut self, t: Micros) {
        while let Some(&Reverse((at, token))) = self.timers.peek() {
            if at > t {
                break;
            }
            self.timers.pop();
            self.clock.now = self.clock.now.max(at);
            if let Some(timer) = self.timer_items.remove(&token) {
                self.fire(timer);
                self.run();
            }
        }
        self.clock.now = self.clock.now.max(t);
    }

    /// Advances by `d`.
    pub fn advance_by(&mut self, d: Micros) {
        self.advance_to(self.clock.now + d);
    }

    /// Runs timers until none is left or `limit` is reached.
    pub fn run_until_idle(&mut self, limit: Micros) {
        while let Some(at) = self.next_deadline() {
            if at > limit {
                break;
            }
            self.advance_to(at);
        }
    }

    /// Events raised since the last call, in the order they were raised.
    pub fn take_events(&mut self) -> Vec<Event> {
        // The next batch likely has as many: its list is allocated once, not grown.
        let n = self.events.len();
        std::mem::replace(&mut self.events, Vec::with_capacity(n))
    }

    /// JSON CDRs of channels that ended since the last call (one per channel, as mod_json_cdr):
    /// `{"file": name, "cdr": document}`.
    pub fn take_cdrs(&mut self) -> Vec<serde_json::Value> {
        self.take_cdr_records().iter().map(Cdr::to_json).collect()
    }

    /// The CDRs of channels that ended since the last call, not yet rendered as JSON.
    pub fn take_cdr_records(&mut self) -> Vec<Cdr> {
        std::mem::take(&mut self.cdrs)
    }

    /// Outbound socket connections asked for since the last call.
    pub fn take_outbound_requests(&mut self) -> Vec<OutboundRequest> {
        std::mem::take(&mut self.outbound)
    }

    /// The outbound session of a channel ended: its `socket` application completes and the
    /// dialplan goes on (with nothing left, the channel hangs up).
    pub fn outbound_closed(&mut self, uuid: &str) -> Result<(), EngineError> {
        let id = self.id_of(uuid).ok_or(EngineError::NoSuchChannel)?;
        let Some(c) = self.chan_mut(id) else {
            return Err(EngineError::NoSuchChannel);
        };
        if let Some(pos) = c
            .stack
            .iter()
            .rposition(|r| r.wait == channel::Wait::Socket)
        {
            let running = c.stack.remove(pos);
            self.complete(id, &running, None);
            self.work.push_back(Work::Step(id));
            self.run();
        }
        Ok(())
    }

    /// A live channel by uuid.
    pub fn channel(&self, uuid: &str) -> Option<&Channel> {
        self.by_uuid
            .get(uuid)
            .and_then(|id| self.channels.get(id))
            .filter(|c| !c.destroyed && !c.hidden)
    }

    /// Live channels in creation order (not the hidden far ends of SIP legs).
    pub fn live_channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values().filter(|c| !c.destroyed && !c.hidden)
    }

    /// Fault: the switch restarts. Every channel is gone without events (a restart loses them)
    /// unless `keep_channels`; a new Core-UUID is drawn either way.
    pub fn restart(&mut self, keep_channels: bool) {
        self.core_uuid = self.rng.uuid_v4();
        if !keep_channels {
            self.channels.clear();
            self.by_uuid.clear();
            self.origs.clear();
            self.timers.clear();
            self.timer_items.clear();
            self.work.clear();
        }
    }

    /// Schedules a hangup of a channel at virtual time `at` (a caller abandoning).
    pub fn schedule_hangup(
        &mut self,
        uuid: &str,
        at: Micros,
        cause: Cause,
    ) -> Result<(), EngineError> {
        let chan = *self.by_uuid.get(uuid).ok_or(EngineError::NoSuchChannel)?;
        self.add_timer(at, Timer::Hangup { chan, cause });
        Ok(())
    }

    /// Schedules digits pressed on a channel at virtual time `at`: the channel writes them, so
    /// they are read (DTMF events) by its partner. For a caller, pass [`api::CallHandles::phone`]
    /// (which may be a SIP user agent that api commands cannot reach).
    pub fn schedule_dtmf(
        &mut self,
        uuid: &str,
        at: Micros,
        digits: &str,
    ) -> Result<(), EngineError> {
        let chan = *self.by_uuid.get(uuid).ok_or(EngineError::NoSuchChannel)?;
        self.add_timer(
            at,
            Timer::Dtmf {
                chan,
                digits: digits.to_owned(),
            },
        );
        Ok(())
    }

    pub(crate) fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Adds a timer at an absolute virtual time; returns its token (for cancelling).
    pub(crate) fn add_timer(&mut self, at: Micros, timer: Timer) -> u64 {
        let token = self.token();
        self.timers.push(Reverse((at, token)));
        self.timer_items.insert(token, timer);
        token
    }

    pub(crate) fn cancel_timer(&mut self, token: u64) {
        self.timer_items.remove(&token);
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::AppDone { chan, token } => self.app_timer_done(chan, token),
            Timer::ParkTimeout { chan, token, cause } => {
                let Some(c) = self.channels.get_mut(&chan) else {
                    return;
                };
                if c.park_timer != Some(token) {
                    return;
                }
                if c.is_parked() {
                    self.hangup(chan, cause);
                } else if c.stack.iter().any(|r| r.wait == channel::Wait::Park) {
                    // A command runs on top of the park (a bridge ringing): FreeSWITCH's park
                    // loop sees the timer when the command returns.
                    c.park_timer = None;
                    c.park_expired = Some(cause);
                }
            }
            Timer::LegTimeout { orig, chan } => self.leg_timeout(orig, chan),
            Timer::OriginateTimeout { orig, group } => self.originate_timeout(orig, group),
            Timer::Hangup { chan, cause } => self.hangup(chan, cause),
            Timer::Dtmf { chan, digits } => {
                for d in digits.chars() {
                    self.write_dtmf(chan, d, 0);
                }
            }
        }
    }

    /// Runs deferred work until there is none.
    pub(crate) fn run(&mut self) {
        let mut budget = 1_000_000u32;
        while let Some(w) = self.work.pop_front() {
            budget -= 1;
            if budget == 0 {
                break;
            }
            match w {
                Work::Step(id) => self.step(id),
                Work::Hangup(id, cause) => self.hangup(id, cause),
                Work::Finish(id) => self.finish(id),
                Work::LegUp(id) => self.leg_up(id),
            }
        }
    }

    /// Forgets destroyed channels that nothing live still points at (as a partner, loopback
    /// peer, bridge, dial or queued work), so the engine's memory and maps stay the size of
    /// what is live however long it runs. Destroyed channels are invisible to every command, so
    /// forgetting them changes no output.
    pub(crate) fn sweep_destroyed(&mut self) {
        self.destroyed_since_sweep = 0;
        let mut keep = std::collections::HashSet::new();
        for c in self.channels.values().filter(|c| !c.destroyed) {
            keep.extend(c.other.map(|(_, o)| o));
            keep.extend(c.loopback_peer);
            keep.extend(c.bridged_to);
        }
        for o in self.origs.values() {
            keep.extend(o.owner);
            keep.extend(o.legs.iter().map(|l| l.chan));
        }
        for w in &self.work {
            let (Work::Step(id) | Work::Hangup(id, _) | Work::Finish(id) | Work::LegUp(id)) = w;
            keep.insert(*id);
        }
        let gone: Vec<ChanId> = self
            .channels
            .iter()
            .filter(|(id, c)| c.destroyed && !keep.contains(*id))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(c) = self.channels.remove(&id)
                && self.by_uuid.get(&c.uuid) == Some(&id)
            {
                self.by_uuid.remove(&c.uuid);
            }
        }
    }

    pub(crate) fn chan(&self, id: ChanId) -> Option<&Channel> {
        self.channels.get(&id)
    }

    pub(crate) fn chan_mut(&mut self, id: ChanId) -> Option<&mut Channel> {
        self.channels.get_mut(&id)
    }

    pub(crate) fn id_of(&self, uuid: &str) -> Option<ChanId> {
        self.by_uuid.get(uuid).copied().filter(|id| {
            self.channels
                .get(id)
                .is_some_and(|c| !c.destroyed && !c.hidden)
        })
    }
}
