//! A new call and its steps: the park, the decision, the dial string, the fallback.

use super::*;

impl Switchboard {
    pub(super) fn on_park(
        &mut self,
        ev: &Event,
        uuid: &str,
        now: DateTime<Utc>,
        out: &mut Vec<Action>,
    ) {
        self.on_park_at(ev, uuid, now, now, out);
    }

    /// A park that happened at `parked_at`, seen at `now` (later, for a park found by the
    /// reconcile: the wait budget counts from the park).
    pub(super) fn on_park_at(
        &mut self,
        ev: &Event,
        uuid: &str,
        parked_at: DateTime<Utc>,
        now: DateTime<Utc>,
        out: &mut Vec<Action>,
    ) {
        if self.calls.contains_key(uuid) || ev.call_direction() != Some(Direction::Inbound) {
            return;
        }
        let marker = own_leg_marker(ev, uuid, &self.legs);
        if let Err(forged) = marker {
            // An inbound call carries a marker no leg of ours made (a caller sending the
            // `X-Parkway-Call` SIP header): it is a call like any other.
            self.totals.forged_markers += 1;
            tracing::warn!(
                call.uuid = uuid,
                marker = forged,
                "a park carries a marker of parkway's buyer legs that no leg of ours made; routed as a call"
            );
        }
        if let Ok(Some(marker)) = marker {
            // One of our buyer legs came back into this switch (a loopback/ or SIP destination
            // on the same FreeSWITCH) and its inbound side parked: it is not a new call.
            self.totals.own_legs_parked += 1;
            tracing::info!(
                call.uuid = uuid,
                marker,
                "a park of our own buyer leg; not routed"
            );
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
        let mut tokens = Tokens::new(vars, caller.clone());
        // Typed tokens that do not fit are absent from here on (`[tokens.*]`).
        let token_notes = self.config.tokens.check(&mut tokens);
        let matched = self.config.router_for(&tokens).map(|r| r.id.as_str());
        let Some(router) = matched.and_then(|id| self.config.router_index.get(id).copied()) else {
            self.totals.unrouted += 1;
            self.remember_done(uuid);
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
        let mut record = CallRecord::new(
            uuid,
            self.config.routers[router].id.clone(),
            self.config.routers[router].algorithm,
            caller.number.clone(),
            caller.destination.clone(),
            kept,
            parked_at,
        );
        record.notes = token_notes;
        let call = Call {
            uuid: uuid.to_owned(),
            router,
            caller: caller.number.as_deref().and_then(normalize),
            tokens,
            parked_at,
            span,
            phase: Phase::Over,
            tried: Vec::new(),
            unsent: Vec::new(),
            steps: 0,
            legs: Vec::new(),
            record,
            caller_ended: None,
            talk_end: None,
            talk_guessed: false,
            prepared: false,
            needs: caller_needs(ev),
            park_timeout: park_timeout(ev),
            fallback_sent: None,
        };
        self.calls.insert(uuid.to_owned(), call);
        self.journal_opened(uuid);
        self.next_step(uuid, now, out);
    }

    /// Decides again (fresh usage, buyers already tried left out) and dials the next step, or
    /// runs the fallback.
    pub(super) fn next_step(&mut self, uuid: &str, now: DateTime<Utc>, out: &mut Vec<Action>) {
        let (config, view) = (self.config.clone(), self.view.clone());
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let _enter = call.span.clone().entered();
        let router = &config.routers[call.router];
        let waited_ms = (now - call.parked_at).num_milliseconds();
        // Whole seconds left of a budget (rounded down: a step never rings past it).
        let secs_left = |budget_ms: i64| (budget_ms - waited_ms).div_euclid(1000);
        let router_left = secs_left(i64::from(router.max_wait_secs) * 1000);
        // FreeSWITCH's park timer is a hard limit: it hangs the caller up when the step running
        // then returns, so no step may ring past it. Both timers count whole epoch seconds:
        // the park timer fires at floor(park) + park_timeout, and a `leg_timeout` of N started
        // at S ends the leg at floor(S) + N + 1, S being this second or (the command still on
        // its way) the next. One more second is left for the fallback to run.
        let park_left = call.park_timeout.map(|p| {
            call.parked_at.timestamp() + i64::from(p) - now.timestamp() - PARK_MARGIN_SECS
        });
        let left = park_left.map_or(router_left, |p| p.min(router_left));
        if (call.steps > 0 && left < MIN_RING_SECS) || park_left.is_some_and(|p| p < MIN_RING_SECS)
        {
            self.fallback(uuid, FallbackReason::WaitBudgetSpent, out);
            return;
        }
        let decision = Decider::new(&config, &view).decide(
            router,
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
        let Some((mode, group, mut members)) = chosen else {
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
        // A sequential group rings its members one after another: under the park timer, each
        // gets what the ones before it leave, and those left nothing are not dialled.
        let mut park_budget = park_left.map(|_| ring_cap);
        let mut rings = Vec::with_capacity(members.len());
        members.retain(|(b, _)| {
            let mut ring = config.buyers[*b].ring_timeout_secs.min(ring_cap).max(1);
            if let Some(budget) = park_budget.as_mut() {
                if i64::from(*budget) < MIN_RING_SECS {
                    return false;
                }
                ring = ring.min(*budget);
                if mode == StepMode::Sequential {
                    *budget -= ring;
                }
            }
            rings.push(ring);
            true
        });
        let mut legs = Vec::with_capacity(members.len());
        let mut requests = Vec::new();
        for ((b, _), ring_secs) in members.iter().zip(rings) {
            legs.push(crate::calls::dial::LegPlan {
                buyer: *b,
                uuid: self.ids.uuid_v4(),
                ring_secs,
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
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        for leg in Call::first_legs(&step) {
            if let Some(idx) = call.leg_index(&leg.uuid) {
                hold_up(&mut self.ledger, &config, call, idx, now);
            }
        }
        if requests.is_empty() {
            self.dial(uuid, step, out);
        } else {
            call.phase = Phase::Rendering(step);
            out.push(Action::RenderWhispers {
                call: uuid.to_owned(),
                // Only what the whisper may speak (`routing::token_types`).
                tokens: Box::new(config.tokens.speakable(&call.tokens)),
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

    pub(super) fn dial(&mut self, uuid: &str, step: StepPlan, out: &mut Vec<Action>) {
        let config = self.config.clone();
        let event_uuid = self.new_uuid();
        let prep_uuids = [self.new_uuid(), self.new_uuid(), self.new_uuid()];
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let router = &config.routers[call.router];
        match step.bridge_arg(&config, uuid, &router.id) {
            Ok(arg) => {
                if !call.prepared {
                    call.prepared = true;
                    for (arg, event_uuid) in call.needs.iter().zip(prep_uuids) {
                        out.push(Action::Execute {
                            call: uuid.to_owned(),
                            app: App::Set,
                            arg: arg.clone(),
                            event_uuid,
                        });
                    }
                }
                out.push(Action::Execute {
                    call: uuid.to_owned(),
                    app: App::Bridge,
                    arg,
                    event_uuid: event_uuid.clone(),
                });
                call.phase = Phase::Dialing { event_uuid };
            }
            Err(e) => {
                // A destination the config check let through but the encoder refuses: nothing
                // is dialled (no attempt), and the next step is tried without these buyers.
                tracing::warn!(parent: &call.span, error = %e, "cannot dial step");
                let now = call.record.parked_at;
                self.drop_never_sent(uuid, step.number, &e.to_string(), now);
                self.next_step(uuid, now, out);
            }
        }
    }

    pub(super) fn fallback(&mut self, uuid: &str, reason: FallbackReason, out: &mut Vec<Action>) {
        let config = self.config.clone();
        let mut ids = [self.new_uuid(), self.new_uuid(), self.new_uuid()].into_iter();
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let action = config.routers[call.router].fallback.clone();
        tracing::info!(parent: &call.span, ?reason, "fallback");
        let mut sent = Vec::with_capacity(3);
        let mut exec = |app: App, arg: String| {
            let event_uuid = ids.next().unwrap_or_default();
            sent.push(event_uuid.clone());
            out.push(Action::Execute {
                call: uuid.to_owned(),
                app,
                arg,
                event_uuid,
            })
        };
        match &action {
            Fallback::Hangup { cause } => exec(App::Hangup, cause.clone()),
            Fallback::Play { file, cause } => {
                // As all_fail.md: answer, play, hang up.
                exec(App::Answer, String::new());
                exec(App::Playback, file.clone());
                exec(App::Hangup, cause.clone());
            }
            Fallback::Transfer { extension } => exec(App::Transfer, extension.clone()),
        }
        // Recorded once FreeSWITCH runs it (`fallback_ran`): the caller may be gone first (its
        // park timer fired as the last step returned), and then the commands never run.
        call.fallback_sent = Some((FallbackUsed { reason, action }, sent));
        call.phase = Phase::FallenBack;
    }

    /// The fallback sent to `uuid` ran (one of its commands completed on the caller's channel,
    /// or the caller ended with the fallback's own hangup cause): it goes in the record.
    pub(super) fn fallback_ran(&mut self, uuid: &str) {
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        if let Some((used, _)) = call.fallback_sent.take() {
            call.record.fallback = Some(used);
            self.totals.fallbacks += 1;
        }
    }
}

/// What the caller's channel must have before a bridge, and is `set` unless the dialplan set it
/// before the park (`dialplan/parkway.xml` does, saving three commands a call):
/// `hangup_after_bridge=true` (the caller hangs up when the bridged buyer does),
/// `continue_on_fail=true` (without it FreeSWITCH hangs the caller up when a step fails with
/// most causes; all_fail.md) and `ringback` (the bridge reads the caller's ringback while buyers
/// ring, switch_ivr_originate.c).
fn caller_needs(park: &Event) -> Vec<String> {
    let has = |name: &str| park.variable(name).is_some_and(|v| !v.is_empty());
    let mut needs = Vec::with_capacity(3);
    if park.variable("hangup_after_bridge").as_deref() != Some("true") {
        needs.push("hangup_after_bridge=true".to_owned());
    }
    // A list of causes, or false, would still hang the caller up on the others.
    if park.variable("continue_on_fail").as_deref() != Some("true") {
        needs.push("continue_on_fail=true".to_owned());
    }
    if !has("ringback") {
        needs.push(format!("ringback={}", crate::calls::dial::RINGBACK));
    }
    needs
}

/// What shows that a parked channel is one of our buyer legs (or the far side of one): its
/// uuid is a leg we dialled, or it carries the leg marker ([`crate::calls::dial::LOOP_MARKER`],
/// which crosses both a SIP hop and a `loopback/`) naming a leg we are dialling. Only parkway
/// knows those uuids, and only while they ring, so a caller cannot forge one. `Ok(None)`: no
/// marker at all; `Err(name)`: a marker variable (`parkway_call`, `parkway_buyer` or the leg
/// marker) that names no leg of ours, which is ignored (the park is a call).
fn own_leg_marker(
    park: &Event,
    uuid: &str,
    legs: &FxHashMap<String, String>,
) -> Result<Option<&'static str>, &'static str> {
    if legs.contains_key(uuid) {
        return Ok(Some("leg uuid"));
    }
    let marker = crate::calls::dial::LOOP_MARKER;
    if park
        .variable(marker)
        .is_some_and(|leg| legs.contains_key(leg.as_ref()))
    {
        return Ok(Some(marker));
    }
    match ["parkway_call", "parkway_buyer", marker]
        .into_iter()
        .find(|name| park.variable(name).is_some())
    {
        Some(name) => Err(name),
        None => Ok(None),
    }
}

/// The park timeout, `<secs>[:<cause>]` (0 or unreadable: none), from the park event.
/// FreeSWITCH's `park` takes `park_timeout` off the channel before CHANNEL_PARK fires (it
/// shows only on the `park` CHANNEL_EXECUTE, which parkway does not subscribe to, and
/// `uuid_getvar` returns `_undef_` afterwards), so the dialplan sets it in
/// [`PARK_TIMEOUT_VAR`] too (`dialplan/parkway.xml`); `park_timeout` itself is read for a
/// switch that leaves it.
pub(super) fn park_timeout(park: &Event) -> Option<u32> {
    [PARK_TIMEOUT_VAR, "park_timeout"].iter().find_map(|name| {
        let v = park.variable(name)?;
        let secs = v.split(':').next()?.trim().parse::<u32>().ok()?;
        (secs > 0).then_some(secs)
    })
}

/// The channel variable the dialplan copies `park_timeout` from (or into) before `park`:
/// unlike `park_timeout`, it is still on the channel when CHANNEL_PARK fires.
pub const PARK_TIMEOUT_VAR: &str = "parkway_park_timeout";
