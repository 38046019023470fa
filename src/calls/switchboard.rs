//! The call state machine over every live call: events in, actions out.
//!
//! Pure: `now` is the event's own `Event-Date-Timestamp` (FreeSWITCH's clock, so a simulated
//! switch in virtual time and a real one are read alike), or the time the driver passes for
//! inputs that are not events. Randomness (routing's shuffles, leg and Event-UUIDs) comes from
//! the seed. The ledger (counters), the duplicate history and the calls live here; the driver
//! only carries bytes and renders whispers.
//!
//! A call: CHANNEL_PARK of a real inbound channel (no `parkway_call` variable: buyer legs that
//! park are not calls) that matches a router → decide → dial the first step with `bridge` →
//! CHANNEL_BRIDGE (connected) or the bridge's CHANNEL_EXECUTE_COMPLETE without a bridge (the
//! step failed: decide again with fresh usage, without the buyers already tried, while the
//! router's wait budget lasts) → the caller's CHANNEL_HANGUP_COMPLETE and every leg's →
//! conversion, payout, counters, record.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;

use super::call::{Call, LegState, Phase, RenderedWhisper, WhisperRequest};
use super::dial::{StepMode, StepPlan};
use super::record::{
    CallRecord, Disposition, DuplicateNote, FallbackReason, FallbackUsed, LegOutcome,
};
use crate::billing::{self, CountKind, DuplicateHistory, Ledger, TalkFacts};
use crate::config::{Config, Fallback, RouterMatch};
use crate::esl::event::{Direction, Event};
use crate::routing::duplicate::DuplicateAction;
use crate::routing::fasthash::FxHashMap;
use crate::routing::suppression::normalize;
use crate::routing::{
    CallerFields, Id, Metric, RandomSource, SplitMix64, Step, Tokens, decide_with,
};

/// The events the switchboard reads (subscribe to exactly these).
pub const EVENTS: [&str; 7] = [
    "CHANNEL_PARK",
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP_COMPLETE",
    "DTMF",
];

/// A step is not started with less wait budget than this (seconds).
const MIN_RING_SECS: i64 = 3;

/// What the driver must do.
#[derive(Debug, Clone)]
pub enum Action {
    /// `sendmsg <call>` executing `app arg` with this Event-UUID.
    Execute {
        call: String,
        app: &'static str,
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
    ledger: Ledger,
    duplicates: DuplicateHistory,
    calls: FxHashMap<String, Call>,
    /// Leg uuid → the caller's uuid.
    legs: FxHashMap<String, String>,
    rng: SplitMix64,
    ids: SplitMix64,
    /// Whether whispers can be rendered (the driver has a whisperer).
    whispers: bool,
    /// The channel variables a call keeps as tokens and in its record (the ones the config's
    /// filters, router matches and whisper templates read).
    record_tokens: BTreeSet<String>,
    totals: Totals,
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
            config,
            duplicates: DuplicateHistory::default(),
            calls: FxHashMap::default(),
            legs: FxHashMap::default(),
            rng: SplitMix64::new(seed),
            ids: SplitMix64::new(crate::splitmix::mix(seed ^ 0x5eed)),
            whispers,
            record_tokens,
            totals: Totals::default(),
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
    pub fn known_channels(&self) -> Vec<String> {
        self.calls.keys().chain(self.legs.keys()).cloned().collect()
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

    fn new_uuid(&mut self) -> String {
        let hi = self.ids.next_u64();
        let lo = self.ids.next_u64();
        crate::splitmix::uuid_v4(hi, lo)
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
        let name = ev.name();
        match name.as_ref() {
            "CHANNEL_PARK" => self.on_park(ev, &uuid, now, &mut out),
            "CHANNEL_CREATE" => self.on_leg_created(&uuid, now),
            "CHANNEL_ANSWER" => {
                if let Some((call, leg)) = self.leg_mut(&uuid) {
                    let a = &mut call.record.attempts[leg];
                    a.answered_at.get_or_insert(now);
                }
            }
            "CHANNEL_BRIDGE" => self.on_bridge(ev, now),
            "DTMF" => {
                if let (Some((call, leg)), Some(d)) = (self.leg_mut(&uuid), ev.dtmf_digit())
                    && let Some(c) = d.chars().next()
                {
                    call.legs[leg].digits.push(c);
                }
            }
            "CHANNEL_EXECUTE_COMPLETE" => self.on_execute_complete(ev, &uuid, now, &mut out),
            "CHANNEL_HANGUP_COMPLETE" => self.on_hangup(ev, &uuid, now, &mut out),
            _ => {}
        }
        out
    }

    fn leg_mut(&mut self, uuid: &str) -> Option<(&mut Call, usize)> {
        let caller = self.legs.get(uuid)?;
        let call = self.calls.get_mut(caller)?;
        let leg = call.leg_index(uuid)?;
        Some((call, leg))
    }

    fn on_park(&mut self, ev: &Event, uuid: &str, now: DateTime<Utc>, out: &mut Vec<Action>) {
        if self.calls.contains_key(uuid)
            || self.legs.contains_key(uuid)
            || ev.call_direction() != Some(Direction::Inbound)
            || ev.variable("parkway_call").is_some()
        {
            return;
        }
        let caller = CallerFields {
            number: ev.caller_id_number().map(|c| c.into_owned()),
            name: ev.caller_id_name().map(|c| c.into_owned()),
            destination: ev.destination_number().map(|c| c.into_owned()),
        };
        let vars = self
            .record_tokens
            .iter()
            .filter_map(|k| ev.variable(k).map(|v| (k.clone(), v.into_owned())));
        let tokens = Tokens::new(vars, caller.clone());
        let matched = self.config.router_for(&tokens).map(|r| r.id.as_str());
        let Some(router) = matched.and_then(|id| self.config.router_index.get(id).copied()) else {
            self.totals.unrouted += 1;
            tracing::debug!(
                call.uuid = uuid,
                "parked call matches no router; left alone"
            );
            return;
        };
        self.totals.calls += 1;
        let span = tracing::info_span!(
            "call",
            call.uuid = uuid,
            route.router = %self.config.routers[router].id,
            route.buyer = tracing::field::Empty
        );
        let kept: BTreeMap<String, String> = self
            .record_tokens
            .iter()
            .filter_map(|k| tokens.get(k).map(|v| (k.clone(), v.to_owned())))
            .collect();
        let record = CallRecord {
            call: uuid.to_owned(),
            router: self.config.routers[router].id.clone(),
            caller: caller.number.clone(),
            destination: caller.destination.clone(),
            tokens: kept,
            parked_at: now,
            decision: crate::routing::Decision {
                router: self.config.routers[router].id.clone(),
                algorithm: self.config.routers[router].algorithm,
                plan: Vec::new(),
                left_out: Vec::new(),
            },
            attempts: Vec::new(),
            connected: None,
            bridged_at: None,
            talk_secs: 0,
            conversion: None,
            payout: 0,
            duplicate: None,
            fallback: None,
            disposition: Disposition::Abandoned,
            ended_at: None,
            caller_hangup_cause: None,
            notes: Vec::new(),
        };
        let call = Call {
            uuid: uuid.to_owned(),
            router,
            caller: caller.number.as_deref().and_then(normalize),
            tokens,
            parked_at: now,
            span,
            phase: Phase::Over,
            tried: Vec::new(),
            steps: 0,
            legs: Vec::new(),
            record,
            caller_ended: None,
            talk_end: None,
            prepared: false,
        };
        self.calls.insert(uuid.to_owned(), call);
        self.next_step(uuid, now, out);
    }

    /// Decides again (fresh usage, buyers already tried left out) and dials the next step, or
    /// runs the fallback.
    fn next_step(&mut self, uuid: &str, now: DateTime<Utc>, out: &mut Vec<Action>) {
        let config = self.config.clone();
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let _enter = call.span.clone().entered();
        let router = &config.routers[call.router];
        let waited = now - call.parked_at;
        let left = i64::from(router.max_wait_secs) - waited.num_seconds();
        if call.steps > 0 && left < MIN_RING_SECS {
            self.fallback(uuid, FallbackReason::WaitBudgetSpent, out);
            return;
        }
        let decision = decide_with(
            router,
            &config,
            &call.tokens,
            self.ledger.snapshot(),
            now,
            &mut self.rng,
            &self.duplicates,
        );
        let first = call.steps == 0;
        let chosen = decision.plan.iter().find_map(|step| match step {
            Step::Buyer { id, .. } => {
                let b = config.buyer_index.get(id.as_str()).copied()?;
                (!call.tried.contains(&b)).then(|| (StepMode::Single, None, vec![(b, id.clone())]))
            }
            Step::Group {
                id, mode, members, ..
            } => {
                let members: Vec<(usize, Id)> = members
                    .iter()
                    .filter_map(|m| config.buyer_index.get(m.as_str()).map(|b| (*b, m.clone())))
                    .filter(|(b, _)| !call.tried.contains(b))
                    .collect();
                (!members.is_empty()).then(|| ((*mode).into(), Some(id.clone()), members))
            }
        });
        if first {
            call.record.decision = decision;
        }
        let Some((mode, group, members)) = chosen else {
            let reason = if first {
                FallbackReason::NothingEligible
            } else {
                FallbackReason::AllStepsFailed
            };
            self.fallback(uuid, reason, out);
            return;
        };
        call.steps += 1;
        let ring_cap = u32::try_from(left.max(MIN_RING_SECS)).unwrap_or(u32::MAX);
        let mut legs = Vec::with_capacity(members.len());
        let mut requests = Vec::new();
        for (b, _) in &members {
            let buyer = &config.buyers[*b];
            let hi = self.ids.next_u64();
            let lo = self.ids.next_u64();
            legs.push(super::dial::LegPlan {
                buyer: *b,
                uuid: crate::splitmix::uuid_v4(hi, lo),
                ring_secs: buyer.ring_timeout_secs.min(ring_cap).max(1),
                whisper: None,
            });
            if self.whispers
                && let Some(t) = config.whisper_template(call.router, *b)
            {
                requests.push(WhisperRequest {
                    buyer: *b,
                    template: t.to_owned(),
                });
            }
        }
        let step = StepPlan {
            mode,
            legs,
            number: call.steps,
            whisper_secs: 0,
        };
        let ids: Vec<Id> = members.into_iter().map(|(_, id)| id).collect();
        call.add_attempts(&step, group, now, &ids);
        for leg in &step.legs {
            self.legs.insert(leg.uuid.clone(), uuid.to_owned());
        }
        if first {
            self.totals.routed += 1;
        }
        let call = self.calls.get_mut(uuid).expect("present above");
        for leg in Call::first_legs(&step) {
            let idx = call.leg_index(&leg.uuid).unwrap_or(0);
            count_up(&mut self.ledger, &config, call, idx, now);
        }
        if requests.is_empty() {
            self.dial(uuid, step, out);
        } else {
            call.phase = Phase::Rendering(step);
            out.push(Action::RenderWhispers {
                call: uuid.to_owned(),
                tokens: Box::new(call.tokens.clone()),
                requests,
            });
        }
    }

    /// The whispers of the step being prepared are rendered: dial it.
    pub fn whispers_ready(
        &mut self,
        call: &str,
        whispers: Vec<RenderedWhisper>,
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let now = self.switch_time(now);
        let mut out = Vec::new();
        let Some(c) = self.calls.get_mut(call) else {
            return out;
        };
        let Phase::Rendering(mut step) = std::mem::replace(&mut c.phase, Phase::Over) else {
            return out;
        };
        if c.caller_ended.is_some() {
            // The caller left while the whispers were rendered: nothing was dialled.
            for leg in &step.legs {
                if let Some(i) = c.leg_index(&leg.uuid) {
                    let a = &mut c.record.attempts[i];
                    a.ended_at = c.caller_ended;
                    a.outcome = LegOutcome::Cancelled;
                }
            }
            let now = c.caller_ended.unwrap_or(now);
            self.release_legs(call, now);
            self.try_finish(call, now, &mut out);
            return out;
        }
        for leg in &mut step.legs {
            if let Some(w) = whispers.iter().find(|w| w.buyer == leg.buyer) {
                leg.whisper = w.path.clone();
                step.whisper_secs = step.whisper_secs.max(w.secs);
            }
        }
        self.dial(call, step, &mut out);
        out
    }

    fn dial(&mut self, uuid: &str, step: StepPlan, out: &mut Vec<Action>) {
        let config = self.config.clone();
        let event_uuid = self.new_uuid();
        let prep_uuids = (self.new_uuid(), self.new_uuid(), self.new_uuid());
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let router = &config.routers[call.router];
        match step.bridge_arg(&config, uuid, &router.id) {
            Ok(arg) => {
                if !call.prepared {
                    // The caller hangs up when the bridged buyer does, and stays when a step
                    // fails (without continue_on_fail FreeSWITCH hangs the caller up on most
                    // failure causes; all_fail.md).
                    call.prepared = true;
                    // The caller hears ringback while buyers ring (the bridge reads it from
                    // the caller's channel).
                    for (arg, event_uuid) in [
                        ("hangup_after_bridge=true".to_owned(), prep_uuids.0),
                        ("continue_on_fail=true".to_owned(), prep_uuids.1),
                        (format!("ringback={}", super::dial::RINGBACK), prep_uuids.2),
                    ] {
                        out.push(Action::Execute {
                            call: uuid.to_owned(),
                            app: "set",
                            arg,
                            event_uuid,
                        });
                    }
                }
                out.push(Action::Execute {
                    call: uuid.to_owned(),
                    app: "bridge",
                    arg,
                    event_uuid: event_uuid.clone(),
                });
                call.phase = Phase::Dialing { event_uuid };
            }
            Err(e) => {
                // A destination the config check let through but the encoder refuses: the
                // step fails as unreachable and the next one is tried.
                tracing::warn!(parent: &call.span, error = %e, "cannot dial step");
                call.record
                    .notes
                    .push(format!("step {} not dialled: {e}", step.number));
                let now = call.record.parked_at;
                for leg in &step.legs {
                    if let Some(i) = call.leg_index(&leg.uuid) {
                        let a = &mut call.record.attempts[i];
                        a.outcome = LegOutcome::Unreachable;
                        a.ended_at = Some(a.dialled_at);
                    }
                }
                self.release_legs(uuid, now);
                self.next_step(uuid, now, out);
            }
        }
    }

    fn fallback(&mut self, uuid: &str, reason: FallbackReason, out: &mut Vec<Action>) {
        let config = self.config.clone();
        let mut ids = [self.new_uuid(), self.new_uuid(), self.new_uuid()].into_iter();
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let action = config.routers[call.router].fallback.clone();
        tracing::info!(parent: &call.span, ?reason, "fallback");
        self.totals.fallbacks += 1;
        let mut exec = |app: &'static str, arg: String| {
            out.push(Action::Execute {
                call: uuid.to_owned(),
                app,
                arg,
                event_uuid: ids.next().unwrap_or_default(),
            })
        };
        match &action {
            Fallback::Hangup { cause } => exec("hangup", cause.clone()),
            Fallback::Play { file, cause } => {
                // As all_fail.md: answer, play, hang up.
                exec("answer", String::new());
                exec("playback", file.clone());
                exec("hangup", cause.clone());
            }
            Fallback::Transfer { extension } => exec("transfer", extension.clone()),
        }
        call.record.fallback = Some(FallbackUsed { reason, action });
        call.phase = Phase::FallenBack;
    }

    fn on_leg_created(&mut self, uuid: &str, now: DateTime<Utc>) {
        let config = self.config.clone();
        let Some(caller) = self.legs.get(uuid) else {
            return;
        };
        let Some(call) = self.calls.get_mut(caller) else {
            return;
        };
        if let Some(i) = call.leg_index(uuid)
            && call.record.attempts[i].ended_at.is_none()
        {
            count_up(&mut self.ledger, &config, call, i, now);
        }
    }

    fn on_bridge(&mut self, ev: &Event, now: DateTime<Utc>) {
        let (Some(a), Some(b)) = (ev.bridge_a_unique_id(), ev.bridge_b_unique_id()) else {
            return;
        };
        let (caller, leg_uuid) = if self.calls.contains_key(a.as_ref()) {
            (a.into_owned(), b.into_owned())
        } else if self.calls.contains_key(b.as_ref()) {
            (b.into_owned(), a.into_owned())
        } else {
            return;
        };
        self.connect(&caller, &leg_uuid, now);
    }

    /// `leg_uuid` was bridged to the caller at `now`: the call is connected (once).
    fn connect(&mut self, caller: &str, leg_uuid: &str, now: DateTime<Utc>) {
        let config = self.config.clone();
        let Some(call) = self.calls.get_mut(caller) else {
            return;
        };
        let Some(leg) = call.leg_index(leg_uuid) else {
            return;
        };
        if call.bridged_leg().is_some() {
            return;
        }
        // Once a leg is bridged, FreeSWITCH dials nothing more: the sequential members after it
        // never ring, and waiting for their hangups would keep the call open for ever.
        let step = call.record.attempts[leg].step;
        for uuid in call.drop_unstarted(step, |u| u == leg_uuid) {
            self.legs.remove(&uuid);
        }
        let Some(call) = self.calls.get_mut(caller) else {
            return;
        };
        let Some(leg) = call.leg_index(leg_uuid) else {
            return;
        };
        let buyer = call.legs[leg].buyer;
        call.span
            .record("route.buyer", config.buyers[buyer].id.as_str());
        let a = &mut call.record.attempts[leg];
        a.bridged_at = Some(now);
        a.answered_at.get_or_insert(now);
        a.outcome = LegOutcome::Connected;
        call.record.connected = Some(config.buyers[buyer].id.clone());
        call.record.bridged_at = Some(now);
        call.phase = Phase::Talking { leg };
        // A leg that bridges was dialled, even if its channel's creation was missed.
        count_up(&mut self.ledger, &config, call, leg, now);
        if self
            .ledger
            .count(&config, caller, buyer, CountKind::Connection, 0, now)
        {
            self.totals.connected += 1;
        }
        // The talk may still convert: hold the conversion so concurrent calls cannot pass the
        // buyer's conversion caps meanwhile.
        self.ledger
            .hold(&config, &caller, buyer, Metric::Conversions, now);
    }

    fn on_execute_complete(
        &mut self,
        ev: &Event,
        uuid: &str,
        now: DateTime<Utc>,
        out: &mut Vec<Action>,
    ) {
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let Phase::Dialing { event_uuid } = &call.phase else {
            return;
        };
        if ev.header("Application-UUID").as_deref() != Some(event_uuid.as_str()) {
            return;
        }
        // The bridge succeeded but its CHANNEL_BRIDGE was not seen (the socket was down): the
        // call was connected, and that bridge is over now.
        let bridged_to = ev
            .variable("bridge_uuid")
            .or_else(|| ev.variable("last_bridge_to"))
            .map(|u| u.into_owned());
        if ev.variable("originate_disposition").as_deref() == Some("SUCCESS")
            && let Some(leg_uuid) = bridged_to.filter(|u| call.leg_index(u).is_some())
        {
            self.missed_bridge(ev, uuid, &leg_uuid, now, out);
            return;
        }
        // The bridge returned without a bridge: this step failed. `originate_causes` has each
        // leg's cause (`ARRAY::<uuid>;<CAUSE>|:<uuid>;<CAUSE>`), also for legs whose hangup is
        // still on the way.
        let failed_cause = ev
            .variable("originate_failed_cause")
            .or_else(|| ev.variable("originate_disposition"))
            .map(|c| c.into_owned());
        let causes = ev
            .variable("originate_causes")
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let leg_cause = |leg: &str| {
            let list = causes.strip_prefix("ARRAY::").unwrap_or(&causes);
            list.split("|:")
                .filter_map(|item| item.split_once(';'))
                .find(|(u, _)| *u == leg)
                .map(|(_, c)| c.to_owned())
        };
        let caller_left = failed_cause.as_deref() == Some("ORIGINATOR_CANCEL")
            || ev.answer_state().as_deref() == Some("hangup");
        if caller_left {
            call.caller_ended.get_or_insert(now);
            caller_cause(&mut call.record, ev);
        }
        let step = call.steps;
        // Members of a sequential group after the one that was ringing when the bridge ended
        // never rang (FreeSWITCH lists the legs it started in `originate_causes`).
        let dropped = call.drop_unstarted(step, |u| causes.is_empty() || leg_cause(u).is_some());
        for a in call.record.attempts.iter_mut().filter(|a| a.step == step) {
            if a.ended_at.is_none() {
                let cause = a
                    .hangup_cause
                    .clone()
                    .or_else(|| leg_cause(&a.leg_uuid))
                    .or_else(|| failed_cause.clone())
                    .unwrap_or_else(|| "NORMAL_CLEARING".into());
                a.outcome = LegOutcome::from_cause(&cause, a.answered_at.is_some());
                a.hangup_cause = Some(cause);
                a.ended_at = Some(now);
            }
        }
        call.phase = Phase::Over;
        for leg in dropped {
            self.legs.remove(&leg);
        }
        self.release_legs(uuid, now);
        if self
            .calls
            .get(uuid)
            .is_some_and(|c| c.caller_ended.is_none())
        {
            self.next_step(uuid, now, out);
        } else {
            self.try_finish(uuid, now, out);
        }
    }

    /// The bridge to `leg_uuid` came and went unseen: connect the call as of `now` (its
    /// CHANNEL_EXECUTE_COMPLETE), with the bridge over; the leg's hangup, with its
    /// `bridge_epoch` and `end_epoch`, sets the real talk time.
    fn missed_bridge(
        &mut self,
        ev: &Event,
        uuid: &str,
        leg_uuid: &str,
        now: DateTime<Utc>,
        out: &mut Vec<Action>,
    ) {
        self.connect(uuid, leg_uuid, now);
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        call.talk_end.get_or_insert(now);
        if ev.answer_state().as_deref() == Some("hangup") {
            call.caller_ended.get_or_insert(now);
            caller_cause(&mut call.record, ev);
        }
        if let Some(leg) = call.leg_index(leg_uuid) {
            call.legs[leg].bridge_unseen = true;
        }
        call.record.notes.push(
            "the bridge was not seen (socket down); its times come from the leg's hangup".into(),
        );
        let step = call.steps;
        for a in call.record.attempts.iter_mut().filter(|a| a.step == step) {
            if a.ended_at.is_none() && a.leg_uuid != leg_uuid {
                let cause = a.hangup_cause.clone().unwrap_or_else(|| "LOSE_RACE".into());
                a.outcome = LegOutcome::from_cause(&cause, a.answered_at.is_some());
                a.hangup_cause = Some(cause);
                a.ended_at = Some(now);
            }
        }
        self.release_legs(uuid, now);
        self.try_finish(uuid, now, out);
    }

    fn on_hangup(&mut self, ev: &Event, uuid: &str, now: DateTime<Utc>, out: &mut Vec<Action>) {
        let cause = ev.hangup_cause().map(|c| c.into_owned());
        if let Some(call) = self.calls.get_mut(uuid) {
            call.caller_ended.get_or_insert(now);
            call.record.caller_hangup_cause = cause;
            if call.bridged_leg().is_some() {
                call.talk_end.get_or_insert(now);
            }
            self.try_finish(uuid, now, out);
            return;
        }
        let Some(caller) = self.legs.get(uuid).cloned() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&caller) else {
            return;
        };
        let Some(leg) = call.leg_index(uuid) else {
            return;
        };
        let a = &mut call.record.attempts[leg];
        let cause = cause.unwrap_or_else(|| "NORMAL_CLEARING".into());
        if a.outcome == LegOutcome::Connected && call.legs[leg].bridge_unseen {
            // The bridge was missed: the leg's own epochs say when it was up.
            let epoch = |name: &str| {
                ev.variable(name)
                    .and_then(|v| v.parse::<i64>().ok())
                    .filter(|s| *s > 0)
                    .and_then(|s| Utc.timestamp_opt(s, 0).single())
            };
            if let (Some(bridged), Some(end)) = (epoch("bridge_epoch"), epoch("end_epoch")) {
                a.bridged_at = Some(bridged);
                if let Some(answered) = epoch("answer_epoch") {
                    a.answered_at = Some(answered);
                }
                call.record.bridged_at = Some(bridged);
                call.talk_end = Some(end);
            }
        } else if a.outcome == LegOutcome::Connected {
            call.talk_end.get_or_insert(now);
        } else {
            a.outcome = LegOutcome::from_cause(&cause, a.answered_at.is_some());
        }
        a.hangup_cause = Some(cause);
        a.ended_at.get_or_insert(now);
        self.release_legs(&caller, now);
        self.try_finish(&caller, now, out);
    }

    /// Counts concurrency down for every leg of `call` that has ended.
    fn release_legs(&mut self, call: &str, now: DateTime<Utc>) {
        let config = self.config.clone();
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        for (i, leg) in c.legs.iter_mut().enumerate() {
            if leg.live && c.record.attempts[i].ended_at.is_some() {
                leg.live = false;
                self.ledger
                    .count(&config, call, leg.buyer, CountKind::LegDown, 0, now);
                if c.record.attempts[i].outcome != LegOutcome::Connected {
                    self.ledger.release(call, leg.buyer, Metric::Connections);
                }
            }
        }
    }

    /// Ends the call once the caller and every leg are gone: conversion, payout, counters,
    /// record.
    fn try_finish(&mut self, uuid: &str, now: DateTime<Utc>, out: &mut Vec<Action>) {
        let done = self.calls.get(uuid).is_some_and(|c| {
            c.caller_ended.is_some() && c.legs_done() && !matches!(c.phase, Phase::Rendering(_))
        });
        if !done {
            return;
        }
        let Some(mut call) = self.calls.remove(uuid) else {
            return;
        };
        for a in &call.record.attempts {
            self.legs.remove(&a.leg_uuid);
        }
        let config = self.config.clone();
        let bridged_leg = call.bridged_leg();
        let record = &mut call.record;
        record.ended_at = Some(call.caller_ended.unwrap_or(now));
        if let Some(leg) = bridged_leg {
            let buyer_idx = call.legs[leg].buyer;
            let buyer = &config.buyers[buyer_idx];
            let bridged = record.attempts[leg].bridged_at.unwrap_or(now);
            let end = call.talk_end.unwrap_or(now);
            record.talk_secs = u64::try_from((end - bridged).num_seconds()).unwrap_or(0);
            let facts = TalkFacts {
                talk_secs: record.talk_secs,
                digits: std::mem::take(&mut call.legs[leg].digits),
            };
            let conversion = billing::evaluate(&buyer.conversion, &facts);
            let router_id = config.routers[call.router].id.clone();
            let dup = match (buyer.duplicate, call.caller) {
                (Some(rule), Some(caller)) if rule.action == DuplicateAction::NoPay => self
                    .duplicates
                    .check(&rule, caller, &buyer.id, &router_id, bridged),
                _ => None,
            };
            let mut payout = billing::payout(
                buyer.payout.as_ref(),
                true,
                record.talk_secs,
                conversion.converted,
                config.currency,
            )
            .minor;
            if let Some(hit) = dup {
                payout = 0;
                record.duplicate = Some(DuplicateNote {
                    scope: hit.scope,
                    previous_at: hit.previous_at,
                    window_secs: hit.window_secs,
                });
            }
            if conversion.converted {
                if self
                    .ledger
                    .count(&config, uuid, buyer_idx, CountKind::Conversion, 0, end)
                {
                    self.totals.converted += 1;
                }
                if let (Some(caller), None) = (call.caller, dup) {
                    self.duplicates
                        .record_conversion(caller, &buyer.id, &router_id, end);
                }
            }
            if payout > 0 {
                self.ledger
                    .count(&config, uuid, buyer_idx, CountKind::Revenue, payout, end);
            }
            record.payout = payout;
            record.conversion = Some(conversion);
            record.disposition = Disposition::Connected;
        } else if record.fallback.is_some() {
            record.disposition = Disposition::Fallback;
        } else if record.caller_hangup_cause.is_none()
            && record.notes.iter().any(|n| n.starts_with("failed"))
        {
            record.disposition = Disposition::Failed;
        } else {
            record.disposition = Disposition::Abandoned;
            self.totals.abandoned += 1;
        }
        self.totals.finished += 1;
        self.totals.revenue = self.totals.revenue.saturating_add(record.payout);
        self.ledger.finish_call(uuid, now);
        self.ledger.prune(now);
        self.duplicates.prune(now - Duration::days(400));
        out.push(Action::Record(Box::new(call.record)));
    }

    /// A command for `call` was refused or lost (`what` says which).
    pub fn command_failed(
        &mut self,
        call: &str,
        app: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let now = self.switch_time(now);
        let mut out = Vec::new();
        self.totals.command_failures += 1;
        let Some(c) = self.calls.get_mut(call) else {
            return out;
        };
        tracing::warn!(parent: &c.span, app, error, "command refused");
        c.record.notes.push(format!("failed: {app}: {error}"));
        if app == "bridge" && matches!(c.phase, Phase::Dialing { .. }) {
            // The caller's channel is gone (FreeSWITCH refuses sendmsg to an unknown uuid):
            // nothing was dialled.
            let step = c.steps;
            for a in c
                .record
                .attempts
                .iter_mut()
                .filter(|a| a.step == step && a.ended_at.is_none())
            {
                a.ended_at = Some(now);
                a.outcome = LegOutcome::Failed;
                a.hangup_cause = Some("COMMAND_REFUSED".into());
            }
            c.phase = Phase::Over;
            c.caller_ended.get_or_insert(now);
            self.release_legs(call, now);
            self.try_finish(call, now, &mut out);
        }
        out
    }

    /// After a reconnect: `live` holds every channel uuid FreeSWITCH still has. Calls and legs
    /// that ended while the socket was down are ended now (their hangups are counted once), and
    /// a call whose bridge ended unseen moves on.
    pub fn reconcile(&mut self, live: &HashSet<String>, now: DateTime<Utc>) -> Vec<Action> {
        let now = self.switch_time(now);
        let mut out = Vec::new();
        let calls: Vec<String> = self.calls.keys().cloned().collect();
        for uuid in calls {
            let Some(call) = self.calls.get_mut(&uuid) else {
                continue;
            };
            let mut changed = false;
            for a in call.record.attempts.iter_mut() {
                if a.ended_at.is_none() && !live.contains(&a.leg_uuid) {
                    a.ended_at = Some(now);
                    if a.outcome == LegOutcome::Connected {
                        call.talk_end.get_or_insert(now);
                    } else {
                        a.outcome = LegOutcome::from_cause("UNKNOWN", a.answered_at.is_some());
                    }
                    changed = true;
                }
            }
            if !live.contains(&uuid) && call.caller_ended.is_none() {
                call.caller_ended = Some(now);
                if call.bridged_leg().is_some() {
                    call.talk_end.get_or_insert(now);
                }
                changed = true;
            }
            if changed {
                call.record
                    .notes
                    .push("reconciled after a reconnect: ended while the socket was down".into());
            }
            self.release_legs(&uuid, now);
            let stalled = self.calls.get(&uuid).is_some_and(|c| {
                matches!(c.phase, Phase::Dialing { .. })
                    && c.caller_ended.is_none()
                    && c.bridged_leg().is_none()
                    && c.legs_done()
            });
            if stalled {
                self.next_step(&uuid, now, &mut out);
            }
            self.try_finish(&uuid, now, &mut out);
        }
        out
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

/// Counts a leg as dialled and up (once; repeats are no-ops in the ledger).
fn count_up(ledger: &mut Ledger, config: &Config, call: &mut Call, leg: usize, now: DateTime<Utc>) {
    let state: &mut LegState = &mut call.legs[leg];
    ledger.count(config, &call.uuid, state.buyer, CountKind::Attempt, 0, now);
    if !state.live && ledger.count(config, &call.uuid, state.buyer, CountKind::LegUp, 0, now) {
        state.live = true;
        // A ringing leg may still connect: hold the connection so concurrent calls cannot pass
        // the buyer's connection caps meanwhile (released if the leg ends unbridged).
        ledger.hold(config, &call.uuid, state.buyer, Metric::Connections, now);
    }
}

/// `Event-Date-Timestamp` (microseconds since the epoch).
pub fn event_time(ev: &Event) -> Option<DateTime<Utc>> {
    let us: i64 = ev.header("Event-Date-Timestamp")?.parse().ok()?;
    Utc.timestamp_micros(us).single()
}

#[cfg(test)]
mod tests;
