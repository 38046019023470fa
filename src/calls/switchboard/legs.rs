//! What happens to the buyer legs: created, bridged, the bridge's completion, hangups.

use super::*;

impl Switchboard {
    pub(super) fn on_leg_created(&mut self, uuid: &str, now: DateTime<Utc>) {
        let config = self.config.clone();
        let Some(caller) = self.legs.get(uuid) else {
            return;
        };
        let Some(call) = self.calls.get_mut(caller) else {
            return;
        };
        if let Some(i) = call.leg_index(uuid) {
            call.legs[i].created = true;
            if call.record.attempts[i].ended_at.is_none() {
                count_up(&mut self.ledger, &config, call, i, now);
            }
        }
    }

    pub(super) fn on_bridge(&mut self, ev: &Event, now: DateTime<Utc>) {
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
    pub(super) fn connect(&mut self, caller: &str, leg_uuid: &str, now: DateTime<Utc>) {
        let config = self.config.clone();
        let Some(call) = self.calls.get_mut(caller) else {
            return;
        };
        let Some(leg) = call.leg_index(leg_uuid) else {
            return;
        };
        call.legs[leg].created = true;
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
            .count(&config, caller, buyer, Count::Connection, now)
        {
            self.totals.connected += 1;
        }
        // The talk may still convert: hold the conversion so concurrent calls cannot pass the
        // buyer's conversion caps meanwhile.
        self.ledger
            .hold(&config, caller, buyer, Metric::Conversions, now);
    }

    pub(super) fn on_execute_complete(
        &mut self,
        ev: &Event,
        uuid: &str,
        now: DateTime<Utc>,
        out: &mut Vec<Action>,
    ) {
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        if let Some((_, sent)) = &call.fallback_sent {
            let app = ev.header("Application-UUID");
            if app.is_some_and(|a| sent.iter().any(|s| *s == a)) {
                self.fallback_ran(uuid);
            }
            return;
        }
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
    pub(super) fn missed_bridge(
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

    pub(super) fn on_hangup(
        &mut self,
        ev: &Event,
        uuid: &str,
        now: DateTime<Utc>,
        out: &mut Vec<Action>,
    ) {
        let cause = ev.hangup_cause().map(|c| c.into_owned());
        if let Some(seen) = HangupBridge::read(ev) {
            self.bridge_from_hangup(ev, uuid, &seen, now);
        }
        if let Some(call) = self.calls.get_mut(uuid) {
            call.caller_ended.get_or_insert(now);
            call.record.caller_hangup_cause = cause;
            if call.bridged_leg().is_some() {
                call.talk_end.get_or_insert(now);
            }
            let bridged = call.record.bridged_at;
            if let Some(at) = bridged.and_then(|b| transferred_since(ev, b)) {
                // The caller left the bridge by a transfer and stayed on the line: the talk
                // runs to the caller's own end.
                let end = HangupBridge::read(ev).and_then(|h| h.end).unwrap_or(now);
                call.talk_end = Some(end.max(bridged.unwrap_or(end)));
                call.record.transferred_at = Some(at);
                call.record.notes.push(
                    "the caller was transferred out of the bridge; talk time runs to the \
                     caller's hangup"
                        .into(),
                );
                self.totals.transfers += 1;
                tracing::info!(parent: &call.span, %at, "caller transferred out of the bridge");
            }
            // The caller's channel is gone, and with it every originate it ran: a leg whose
            // channel was never made sends nothing more. A leg FreeSWITCH refuses (a gateway
            // down, an unknown profile) ends the bridge first, whose completion ends the
            // attempt before this; one still open here was cut short by the caller leaving
            // (or the bridge's completion was lost): cancelled, as when it was ringing.
            call.cancel_unmade_legs(now);
            self.release_legs(uuid, now);
            self.try_finish(uuid, now, out);
            return;
        }
        let Some(caller) = self.legs.get(uuid).cloned() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&caller) else {
            return;
        };
        if call.leg_index(uuid).is_none() {
            return;
        }
        // The leg hangs up first and its bridge was missed (the socket was down): its hangup
        // shows the bridge to the caller, so the call is connected from its bridge epoch.
        if let Some(seen) = HangupBridge::read(ev) {
            self.bridge_from_hangup(ev, uuid, &seen, now);
        }
        let Some(call) = self.calls.get_mut(&caller) else {
            return;
        };
        let Some(leg) = call.leg_index(uuid) else {
            return;
        };
        let a = &mut call.record.attempts[leg];
        let cause = cause.unwrap_or_else(|| "NORMAL_CLEARING".into());
        if a.outcome == LegOutcome::Connected
            && call.legs[leg].bridge_unseen
            && call.record.transferred_at.is_none()
        {
            // The bridge was missed: the leg's own epochs say when it was up.
            if let Some(HangupBridge {
                bridged,
                end: Some(end),
                answered,
                ..
            }) = HangupBridge::read(ev)
            {
                a.bridged_at = Some(bridged);
                if let Some(answered) = answered {
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

    /// A hangup of `uuid` (the caller or one of its legs) shows a bridge between them that was
    /// not seen (no CHANNEL_BRIDGE, no successful bridge completion): connect the call at the
    /// bridge's epoch; the leg's hangup (this one, or the one still to come) sets the talk time
    /// from its own epochs.
    fn bridge_from_hangup(
        &mut self,
        ev: &Event,
        uuid: &str,
        seen: &HangupBridge,
        now: DateTime<Utc>,
    ) {
        let Some(to) = seen.to.clone() else {
            return;
        };
        let (caller, leg_uuid) = if self.calls.contains_key(uuid) {
            (uuid.to_owned(), to)
        } else {
            (to, uuid.to_owned())
        };
        let Some(call) = self.calls.get(&caller) else {
            return;
        };
        if call.bridged_leg().is_some()
            || call.leg_index(&leg_uuid).is_none()
            || self.legs.get(&leg_uuid) != Some(&caller)
        {
            return;
        }
        self.connect(&caller, &leg_uuid, seen.bridged.min(now));
        let Some(call) = self.calls.get_mut(&caller) else {
            return;
        };
        if let Some(leg) = call.leg_index(&leg_uuid) {
            call.legs[leg].bridge_unseen = true;
        }
        if caller == uuid {
            // The caller's hangup: the talk ended with it at the latest.
            let end = seen.end.unwrap_or(now);
            call.talk_end.get_or_insert(end);
        }
        self.totals.bridges_from_hangup += 1;
        tracing::info!(
            parent: &call.span,
            leg = %leg_uuid,
            event = %ev.name(),
            "bridge not seen; taken from the hangup's bridge variables"
        );
        call.record.notes.push(
            "the bridge was not seen (socket down); taken from the hangup's bridge_uuid and \
             bridge_epoch"
                .into(),
        );
    }

    /// Counts concurrency down for every leg of `call` that has ended.
    pub(super) fn release_legs(&mut self, call: &str, now: DateTime<Utc>) {
        let config = self.config.clone();
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        for (i, leg) in c.legs.iter_mut().enumerate() {
            if leg.attempt_held && c.record.attempts[i].ended_at.is_some() {
                // Ended before its bridge was handed to FreeSWITCH: no attempt.
                leg.attempt_held = false;
                self.ledger.release(call, leg.buyer, Metric::Attempts);
            }
            if leg.live && c.record.attempts[i].ended_at.is_some() {
                leg.live = false;
                let uuid = &c.record.attempts[i].leg_uuid;
                self.ledger
                    .count_leg(&config, call, uuid, leg.buyer, Count::LegDown, now);
                if c.record.attempts[i].outcome != LegOutcome::Connected {
                    self.ledger.release(call, leg.buyer, Metric::Connections);
                    self.ledger.release(call, leg.buyer, Metric::Revenue);
                }
            }
        }
    }
}

/// What a CHANNEL_HANGUP_COMPLETE says about the bridge its channel was in: `bridge_uuid` (or
/// `last_bridge_to`) is the other side, `bridge_epoch` when it began (0 when never bridged),
/// `end_epoch` when the channel ended, `answer_epoch` when it answered; the `*_uepoch`
/// variables (microseconds) are read first (inbound_plain's hangups carry them all).
pub(super) struct HangupBridge {
    pub to: Option<String>,
    pub bridged: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub answered: Option<DateTime<Utc>>,
}

impl HangupBridge {
    pub fn read(ev: &Event) -> Option<HangupBridge> {
        let time = |name: &str| {
            let micros = ev
                .variable(&format!("{name}_uepoch"))
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|s| *s > 0)
                .and_then(|us| Utc.timestamp_micros(us).single());
            micros.or_else(|| {
                ev.variable(&format!("{name}_epoch"))
                    .and_then(|v| v.parse::<i64>().ok())
                    .filter(|s| *s > 0)
                    .and_then(|s| Utc.timestamp_opt(s, 0).single())
            })
        };
        let to = ev
            .variable("bridge_uuid")
            .or_else(|| ev.variable("last_bridge_to"))
            .filter(|u| !u.is_empty())
            .map(|u| u.into_owned());
        Some(HangupBridge {
            to,
            bridged: time("bridge")?,
            end: time("end"),
            answered: time("answer"),
        })
    }
}

/// When the channel was first transferred at or after `bridged`, from its hangup's
/// `transfer_history` (`<epoch>:<uuid>:bl_xfer:<ext>/<context>/<dialplan>`, an `ARRAY::` of
/// them after several; dtmf_variants.recv). Entries before the bridge (a transfer in the
/// dialplan before the park) do not count.
pub(super) fn transferred_since(ev: &Event, bridged: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let history = ev.variable("transfer_history")?;
    let list = history.strip_prefix("ARRAY::").unwrap_or(&history);
    list.split("|:")
        .filter_map(|entry| entry.split(':').next()?.parse::<i64>().ok())
        .filter(|s| *s >= bridged.timestamp())
        .filter_map(|s| Utc.timestamp_opt(s, 0).single())
        .min()
}
