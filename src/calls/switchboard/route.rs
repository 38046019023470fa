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
        if let Some(marker) = own_leg_marker(ev, uuid, &self.legs) {
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
        let record = CallRecord {
            call: uuid.to_owned(),
            router: self.config.routers[router].id.clone(),
            caller: caller.number.clone(),
            destination: caller.destination.clone(),
            tokens: kept,
            parked_at,
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
            transferred_at: None,
            conversion: None,
            payout: 0,
            duplicate: None,
            fallback: None,
            disposition: Disposition::Abandoned,
            ended_at: None,
            caller_hangup_cause: None,
            notes: token_notes,
        };
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
            prepared: false,
            needs: caller_needs(ev),
            park_timeout: park_timeout(ev),
        };
        self.calls.insert(uuid.to_owned(), call);
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
        let waited = now - call.parked_at;
        let budget = call
            .park_timeout
            .map_or(router.max_wait_secs, |p| p.min(router.max_wait_secs));
        let left = i64::from(budget) - waited.num_seconds();
        if call.steps > 0 && left < MIN_RING_SECS {
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
            legs.push(crate::calls::dial::LegPlan {
                buyer: *b,
                uuid: self.ids.uuid_v4(),
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
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        for leg in Call::first_legs(&step) {
            if let Some(idx) = call.leg_index(&leg.uuid) {
                count_up(&mut self.ledger, &config, call, idx, now);
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

    pub(super) fn fallback(&mut self, uuid: &str, reason: FallbackReason, out: &mut Vec<Action>) {
        let config = self.config.clone();
        let mut ids = [self.new_uuid(), self.new_uuid(), self.new_uuid()].into_iter();
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let action = config.routers[call.router].fallback.clone();
        tracing::info!(parent: &call.span, ?reason, "fallback");
        self.totals.fallbacks += 1;
        let mut exec = |app: App, arg: String| {
            out.push(Action::Execute {
                call: uuid.to_owned(),
                app,
                arg,
                event_uuid: ids.next().unwrap_or_default(),
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
        call.record.fallback = Some(FallbackUsed { reason, action });
        call.phase = Phase::FallenBack;
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

/// What shows that a parked channel is one of our buyer legs (or the far side of one), if
/// anything: its uuid is a leg we dialled, or it carries a leg's variables (`parkway_call` and
/// `parkway_buyer` cross a `loopback/`; only the `sip_h_X-Parkway-Call` header crosses SIP).
fn own_leg_marker(
    park: &Event,
    uuid: &str,
    legs: &FxHashMap<String, String>,
) -> Option<&'static str> {
    if legs.contains_key(uuid) {
        return Some("leg uuid");
    }
    [
        "parkway_call",
        "parkway_buyer",
        crate::calls::dial::LOOP_MARKER,
    ]
    .into_iter()
    .find(|name| park.variable(name).is_some())
}

/// `park_timeout=<secs>[:<cause>]` from the park event (0 or unreadable: none).
fn park_timeout(park: &Event) -> Option<u32> {
    let v = park.variable("park_timeout")?;
    let secs = v.split(':').next()?.trim().parse::<u32>().ok()?;
    (secs > 0).then_some(secs)
}
