//! The call state machine over every live call: events in, actions out.
//!
//! Pure: `now` is the event's own `Event-Date-Timestamp` (FreeSWITCH's clock, so a simulated
//! switch in virtual time and a real one are read alike), or the time the driver passes for
//! inputs that are not events. Randomness (routing's shuffles, leg and Event-UUIDs) comes from
//! the seed. The ledger (counters), the duplicate history and the calls live here; the driver
//! only carries bytes and renders whispers.
//!
//! A call: CHANNEL_PARK of a real inbound channel (not one of our buyer legs: not a leg uuid,
//! and no `sip_h_X-Parkway-Call` naming a leg we are dialling; buyer legs that park, or loop
//! back into this switch and park, are not calls, while a marker naming no leg of ours is
//! forged and ignored) that matches a router → decide → dial the first step with `bridge` →
//! CHANNEL_BRIDGE (connected) or the bridge's CHANNEL_EXECUTE_COMPLETE without a bridge (the
//! step failed: decide again with fresh usage, without the buyers already tried, while the
//! router's wait budget lasts) → the caller's CHANNEL_HANGUP_COMPLETE and every leg's →
//! conversion, payout, counters, record.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;

use super::app::App;
use super::call::{Call, LegState, Phase, RenderedWhisper, WhisperRequest};
use super::dial::{StepMode, StepPlan};
use super::record::{
    CallRecord, Disposition, DuplicateNote, FallbackReason, FallbackUsed, LegOutcome,
};
use super::switch_event::SwitchEvent;
use crate::billing::{self, Count, DuplicateHistory, Ledger, TalkFacts};
use crate::config::{Config, Fallback, RouterMatch};
use crate::routing::duplicate::DuplicateAction;
use crate::routing::hot::HotView;
use crate::routing::suppression::normalize;
use crate::routing::{CallerFields, Decider, Id, Metric, SplitMix64, Step, Tokens};
use parkway_esl::event::{Direction, Event};
use parkway_esl::fasthash::FxHashMap;

/// How many finished or unrouted parks are remembered (see `Switchboard::done`).
const RECENT_DONE: usize = 4096;

/// How often the duplicate history is pruned (it is scanned whole).
const DUPLICATE_SWEEP: Duration = Duration::minutes(10);

/// A leg FreeSWITCH has not shown this long after its dial is judged on `show channels` like
/// any other (see `known_channels`).
const LEG_SHOWS_WITHIN: Duration = Duration::seconds(5);

/// A step is not started with less wait budget than this (seconds).
const MIN_RING_SECS: i64 = 3;

/// Seconds a step leaves before the caller's park timer: a leg's timer rounding up to a whole
/// second, the bridge reaching FreeSWITCH in the next second, and a second for the fallback's
/// commands (see `next_step`).
const PARK_MARGIN_SECS: i64 = 3;

/// What the driver must do.
#[derive(Debug, Clone)]
pub enum Action {
    /// `sendmsg <call>` executing `app arg` with this Event-UUID.
    Execute {
        call: String,
        app: App,
        arg: String,
        event_uuid: String,
    },
    /// Render these whispers, then hand them to [`Switchboard::whispers_ready`].
    RenderWhispers {
        call: String,
        tokens: Box<Tokens>,
        requests: Vec<WhisperRequest>,
    },
    /// The call is over.
    Record(Box<CallRecord>),
}

/// Running totals (the demo's progress line, metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Inbound parks that matched a router.
    pub calls: u64,
    /// Parks no router matched (left alone).
    pub unrouted: u64,
    /// Parks of our own buyer legs (a destination that loops back into this switch): ignored.
    pub own_legs_parked: u64,
    /// Parks carrying a marker of our buyer legs that names no leg we are dialling (a caller
    /// sending the `X-Parkway-Call` header): routed like any park.
    pub forged_markers: u64,
    /// Parks that happened while the socket was down, found by the reconcile (and routed
    /// like any park).
    pub missed_parks: u64,
    /// Bridges not seen (socket down) and taken from a hangup's bridge variables.
    pub bridges_from_hangup: u64,
    /// Connected callers transferred out of the bridge (talk time runs to their hangup).
    pub transfers: u64,
    /// Calls that dialled at least one buyer.
    pub routed: u64,
    pub connected: u64,
    pub converted: u64,
    pub fallbacks: u64,
    pub abandoned: u64,
    /// Calls whose record is written.
    pub finished: u64,
    /// Minor units paid out over finished calls.
    pub revenue: i64,
    /// Commands FreeSWITCH refused.
    pub command_failures: u64,
}

/// Every live call, the counters and the duplicate history.
pub struct Switchboard {
    config: Arc<Config>,
    /// Routing's view of the config's buyers, built once.
    view: Arc<HotView>,
    ledger: Ledger,
    duplicates: DuplicateHistory,
    calls: FxHashMap<String, Call>,
    /// Leg uuid → the caller's uuid.
    legs: FxHashMap<String, String>,
    /// The last [`RECENT_DONE`] parks finished or left alone (unrouted), oldest first: a
    /// reconcile's `show channels`, taken a moment earlier, may still list them as parked.
    done: (VecDeque<String>, HashSet<String>),
    rng: SplitMix64,
    ids: SplitMix64,
    /// Whether whispers can be rendered (the driver has a whisperer).
    whispers: bool,
    /// The channel variables a call keeps as tokens and in its record (the ones the config's
    /// filters, router matches and whisper templates read).
    record_tokens: BTreeSet<String>,
    totals: Totals,
    /// When the duplicate history is next pruned (switch time).
    next_duplicate_sweep: Option<DateTime<Utc>>,
    /// What the store must keep, when the switchboard is [`Switchboard::persistent`] (the
    /// ledger journals its facts itself).
    journal: Option<Vec<crate::store::Entry>>,
    /// Calls the store had finished shortly before the start (see `recover`).
    finished_before_start: std::collections::HashSet<Arc<str>>,
    /// The last event's timestamp (FreeSWITCH's clock) and the driver's time when it came: how
    /// the driver's times for inputs that are not events are read on FreeSWITCH's clock.
    clock: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Switchboard {
    pub fn new(config: Arc<Config>, seed: u64, whispers: bool) -> Switchboard {
        // The channel variables routing and whispers read: a call keeps only these (a park
        // carries ~150 variables; 10,000 calls up would hold them all otherwise).
        let mut record_tokens = BTreeSet::new();
        for b in &config.buyers {
            record_tokens.extend(b.filters.iter().map(|f| f.token.to_string()));
        }
        for r in &config.routers {
            if let RouterMatch::Variable { name, .. } = &r.matcher {
                record_tokens.insert(name.clone());
            }
        }
        let templates = config
            .buyers
            .iter()
            .filter_map(|b| b.whisper.as_deref())
            .chain(config.whisper.router_templates.values().map(String::as_str));
        for t in templates {
            if let Ok(t) = crate::whisper::Template::parse(t) {
                record_tokens.extend(t.tokens().map(str::to_owned));
            }
        }
        Switchboard {
            ledger: Ledger::new(&config),
            view: Arc::new(HotView::new(&config.buyers)),
            config,
            duplicates: DuplicateHistory::default(),
            calls: FxHashMap::default(),
            legs: FxHashMap::default(),
            done: Default::default(),
            rng: SplitMix64::new(seed),
            ids: SplitMix64::new(parkway_esl::splitmix::mix(seed ^ 0x5eed)),
            whispers,
            record_tokens,
            totals: Totals::default(),
            next_duplicate_sweep: None,
            journal: None,
            finished_before_start: Default::default(),
            clock: None,
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Calls not finished yet.
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// Uuids of the live calls' callers and legs (for reconciling).
    ///
    /// A leg counts once FreeSWITCH has shown it, once its bridge is known never to have left
    /// parkway, or once it was dialled [`LEG_SHOWS_WITHIN`] before the last event: a leg still
    /// on its way when `show channels` runs is missing from it without being gone, and must not
    /// be judged on that snapshot even if it shows up before the snapshot is read; one that
    /// never showed for that long was lost (or its events were).
    pub fn known_channels(&self) -> Vec<String> {
        let last_event = self.clock.map(|(t, _)| t);
        let mut known: Vec<String> = self.calls.keys().cloned().collect();
        for call in self.calls.values() {
            for (a, leg) in call.record.attempts.iter().zip(&call.legs) {
                let overdue = last_event.is_some_and(|t| t - a.dialled_at > LEG_SHOWS_WITHIN);
                if leg.created || overdue || a.hangup_cause.as_deref() == Some("NOT_SENT") {
                    known.push(a.leg_uuid.clone());
                }
            }
        }
        known
    }

    /// `driver_now` (the driver's clock) on FreeSWITCH's clock: the last event's timestamp plus
    /// the time passed since it came, never before it. Every time a call records or counts is
    /// on FreeSWITCH's clock (a simulated switch's virtual time included); mixing in the
    /// driver's clock would make talk time the clocks' difference.
    fn switch_time(&self, driver_now: DateTime<Utc>) -> DateTime<Utc> {
        match self.clock {
            Some((event, seen)) => (event + (driver_now - seen)).max(event),
            None => driver_now,
        }
    }

    /// Draws leg uuids and Event-UUIDs from `seed` from now on (by default they follow the
    /// routing seed; the daemon seeds them apart, from the OS unless asked to repeat a run).
    pub fn seed_ids(&mut self, seed: u64) {
        self.ids = SplitMix64::new(seed);
    }

    fn new_uuid(&mut self) -> String {
        self.ids.uuid_v4()
    }

    /// Handles one event; `fallback_now` is used when it carries no timestamp.
    pub fn on_event(&mut self, ev: &Event, fallback_now: DateTime<Utc>) -> Vec<Action> {
        let now = match event_time(ev) {
            Some(t) => {
                self.clock = Some((t, fallback_now));
                t
            }
            None => self.switch_time(fallback_now),
        };
        let mut out = Vec::new();
        let Some(uuid) = ev.unique_id() else {
            return out;
        };
        let Some(kind) = SwitchEvent::of(ev) else {
            return out;
        };
        // Any event of a buyer leg shows FreeSWITCH made it: its attempt counts (once), even
        // when it comes after the bridge that dialled it was over.
        if let Some(caller) = self.legs.get(uuid.as_ref())
            && let Some(call) = self.calls.get_mut(caller)
            && let Some(i) = call.leg_index(&uuid)
        {
            call.legs[i].created = true;
            count_attempt(&mut self.ledger, &self.config, call, i, now);
        }
        match kind {
            SwitchEvent::ChannelPark => self.on_park(ev, &uuid, now, &mut out),
            SwitchEvent::ChannelCreate => self.on_leg_created(&uuid, now),
            SwitchEvent::ChannelAnswer => {
                if let Some((call, leg)) = self.leg_mut(&uuid) {
                    let a = &mut call.record.attempts[leg];
                    a.answered_at.get_or_insert(now);
                }
            }
            SwitchEvent::ChannelBridge => self.on_bridge(ev, now),
            SwitchEvent::Dtmf => {
                if let (Some((call, leg)), Some(d)) = (self.leg_mut(&uuid), ev.dtmf_digit())
                    && let Some(c) = d.chars().next()
                {
                    call.legs[leg].digits.push(c);
                }
            }
            SwitchEvent::ChannelExecuteComplete => {
                self.on_execute_complete(ev, &uuid, now, &mut out)
            }
            SwitchEvent::ChannelHangupComplete => self.on_hangup(ev, &uuid, now, &mut out),
        }
        out
    }

    /// Remembers a park that is done with (finished, or left alone).
    fn remember_done(&mut self, uuid: &str) {
        let (order, set) = &mut self.done;
        if set.insert(uuid.to_owned()) {
            order.push_back(uuid.to_owned());
        }
        while order.len() > RECENT_DONE {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
    }

    /// The call and leg index of an event on a buyer leg (which proves the leg's channel
    /// exists).
    fn leg_mut(&mut self, uuid: &str) -> Option<(&mut Call, usize)> {
        let caller = self.legs.get(uuid)?;
        let call = self.calls.get_mut(caller)?;
        let leg = call.leg_index(uuid)?;
        call.legs[leg].created = true;
        Some((call, leg))
    }
}

/// The caller's hangup cause from an event of the caller's channel that is hanging up (the
/// bridge's CHANNEL_EXECUTE_COMPLETE carries `Hangup-Cause` then, and the call may be finished
/// before the caller's own CHANNEL_HANGUP_COMPLETE comes; caller_abandon.md).
fn caller_cause(record: &mut CallRecord, ev: &Event) {
    if record.caller_hangup_cause.is_none() {
        record.caller_hangup_cause = ev.hangup_cause().map(|c| c.into_owned());
    }
}

/// Counts a leg as dialled and up (once per leg: repeats are no-ops in the ledger, and a buyer
/// dialled again in the same call is another attempt).
fn count_up(ledger: &mut Ledger, config: &Config, call: &mut Call, leg: usize, now: DateTime<Utc>) {
    leg_up(ledger, config, call, leg, now, true);
}

/// Brings a leg up when its step is planned, before its bridge is sent: the attempt is held
/// (routing sees it at once), and counted only once FreeSWITCH shows the leg (an event of its
/// own, a `show channels` row, a CDR): an attempt is a leg FreeSWITCH made, as its CDRs count.
fn hold_up(ledger: &mut Ledger, config: &Config, call: &mut Call, leg: usize, now: DateTime<Utc>) {
    leg_up(ledger, config, call, leg, now, false);
}

fn leg_up(
    ledger: &mut Ledger,
    config: &Config,
    call: &mut Call,
    leg: usize,
    now: DateTime<Utc>,
    dialled: bool,
) {
    if dialled {
        count_attempt(ledger, config, call, leg, now);
    }
    let state: &mut LegState = &mut call.legs[leg];
    let (uuid, buyer) = (call.record.attempts[leg].leg_uuid.as_str(), state.buyer);
    if !dialled && !state.attempt_held && !state.attempt_counted {
        ledger.hold(config, &call.uuid, buyer, Metric::Attempts, now);
        state.attempt_held = true;
    }
    if !state.live && ledger.count_leg(config, &call.uuid, uuid, buyer, Count::LegUp, now) {
        state.live = true;
        // A ringing leg may still connect: hold the connection so concurrent calls cannot pass
        // the buyer's connection caps meanwhile (released if the leg ends unbridged).
        ledger.hold(config, &call.uuid, state.buyer, Metric::Connections, now);
        // And the payout it may bring, so calls in flight cannot pass a revenue cap together.
        let expected = billing::expected_payout(config.buyers[state.buyer].payout.as_ref());
        ledger.hold_amount(
            config,
            &call.uuid,
            state.buyer,
            Metric::Revenue,
            expected,
            now,
        );
    }
}

/// Counts leg `leg`'s attempt: FreeSWITCH made the leg (once per leg: the count replaces its
/// hold).
fn count_attempt(
    ledger: &mut Ledger,
    config: &Config,
    call: &mut Call,
    leg: usize,
    now: DateTime<Utc>,
) {
    let state: &mut LegState = &mut call.legs[leg];
    if state.attempt_counted {
        return;
    }
    ledger.count_leg(
        config,
        &call.uuid,
        &state.attempt_key,
        state.buyer,
        Count::Attempt,
        now,
    );
    state.attempt_counted = true;
    state.attempt_held = false;
}

/// `Event-Date-Timestamp` (microseconds since the epoch).
pub fn event_time(ev: &Event) -> Option<DateTime<Utc>> {
    let us: i64 = ev.header("Event-Date-Timestamp")?.parse().ok()?;
    Utc.timestamp_micros(us).single()
}

mod finish;
mod legs;
mod missed;
mod recover;
mod route;

pub use missed::MissedPark;
pub use recover::{Recovered, StrayLeg};
#[cfg(test)]
mod tests;
