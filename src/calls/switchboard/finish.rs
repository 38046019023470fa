//! The end of a call (conversion, payout, counters, record), refused commands, reconciling.

use super::*;
use crate::store::cdr::CdrOutcome;

impl Switchboard {
    /// Ends the call once the caller and every leg are gone: conversion, payout, counters,
    /// record.
    pub(super) fn try_finish(&mut self, uuid: &str, now: DateTime<Utc>, out: &mut Vec<Action>) {
        let done = self.calls.get(uuid).is_some_and(|c| {
            c.caller_ended.is_some() && c.legs_done() && !matches!(c.phase, Phase::Rendering(_))
        });
        if !done {
            return;
        }
        self.settle_fallback(uuid);
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
            // A talk time that ends when parkway noticed is a guess: nothing is paid on it.
            let paid_secs = if call.talk_guessed {
                0
            } else {
                record.talk_secs
            };
            let facts = TalkFacts {
                talk_secs: paid_secs,
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
                paid_secs,
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
                    .count(&config, uuid, buyer_idx, Count::Conversion, end)
                {
                    self.totals.converted += 1;
                }
                if let (Some(caller), None) = (call.caller, dup) {
                    self.duplicates
                        .record_conversion(caller, &buyer.id, &router_id, end);
                    self.journal_converted(crate::store::ConversionSeen {
                        call: uuid.into(),
                        caller,
                        buyer: buyer.id.clone(),
                        router: router_id.clone(),
                        at: end,
                    });
                }
            }
            if payout > 0 {
                self.ledger
                    .count(&config, uuid, buyer_idx, Count::Revenue(payout), end);
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
        self.remember_done(uuid);
        self.totals.revenue = self.totals.revenue.saturating_add(record.payout);
        self.ledger.finish_call(uuid, now);
        self.ledger.prune(now);
        self.prune_duplicates(now);
        out.push(Action::Record(Box::new(call.record)));
    }

    /// At the end of a call whose fallback was sent but not seen to run: the caller's own
    /// hangup cause tells (the completion of the fallback's commands may have been lost). The
    /// fallback's hangup cause means it ran; any other means FreeSWITCH ended the caller first
    /// (its park timer, the caller leaving) and the record says so instead of a fallback.
    fn settle_fallback(&mut self, uuid: &str) {
        let Some(call) = self.calls.get_mut(uuid) else {
            return;
        };
        let Some((used, _)) = &call.fallback_sent else {
            return;
        };
        let cause = call.record.caller_hangup_cause.as_deref();
        let ran = match &used.action {
            Fallback::Hangup { cause: c } | Fallback::Play { cause: c, .. } => {
                cause == Some(c.as_str())
            }
            Fallback::Transfer { .. } => false,
        };
        if ran {
            self.fallback_ran(uuid);
            return;
        }
        let what = match &used.action {
            Fallback::Hangup { cause } => format!("hangup {cause}"),
            Fallback::Play { file, cause } => format!("play {file}, hangup {cause}"),
            Fallback::Transfer { extension } => format!("transfer {extension}"),
        };
        let note = format!(
            "fallback ({what}) sent but never ran: the caller ended first ({})",
            cause.unwrap_or("hangup cause unknown")
        );
        tracing::info!(parent: &call.span, cause, "fallback never ran");
        call.record.notes.push(note);
        call.fallback_sent = None;
    }

    /// Forgets conversions older than the longest duplicate window, once per
    /// [`DUPLICATE_SWEEP`] of switch time (the history is scanned whole).
    fn prune_duplicates(&mut self, now: DateTime<Utc>) {
        if self.next_duplicate_sweep.is_some_and(|t| now < t) {
            return;
        }
        self.next_duplicate_sweep = Some(now + DUPLICATE_SWEEP);
        let keep = self.config.longest_duplicate_window();
        if let Some(cutoff) = now.checked_sub_signed(keep) {
            self.duplicates.prune(cutoff);
        }
    }

    /// A command for `call` was refused or lost (`what` says which).
    pub fn command_failed(
        &mut self,
        call: &str,
        app: App,
        error: &str,
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let now = self.switch_time(now);
        let mut out = Vec::new();
        self.totals.command_failures += 1;
        let Some(c) = self.calls.get_mut(call) else {
            return out;
        };
        tracing::warn!(parent: &c.span, app = app.name(), error, "command refused");
        c.record.notes.push(format!("failed: {app}: {error}"));
        if app == App::Bridge && matches!(c.phase, Phase::Dialing { .. }) {
            // Refused before it was sent (the encoder refused the uuid or the argument): its
            // legs were never dialled, so they are not attempts.
            let step = c.steps;
            let unsent = c
                .record
                .attempts
                .iter()
                .zip(&c.legs)
                .any(|(a, l)| a.step == step && l.attempt_held);
            if unsent {
                self.drop_never_sent(call, step, error, now);
            }
        }
        let Some(c) = self.calls.get_mut(call) else {
            return out;
        };
        if app == App::Bridge && matches!(c.phase, Phase::Dialing { .. }) {
            // Nothing was dialled. `-ERR invalid session id`: the caller's channel is gone, its
            // hangup is on its way and finishes the call (the caller left first: the attempt
            // is cancelled, as when the hangup overtakes the refusal). Any other refusal ends
            // the call here.
            let caller_gone = error.contains("invalid session id");
            let step = c.steps;
            for a in c
                .record
                .attempts
                .iter_mut()
                .filter(|a| a.step == step && a.ended_at.is_none())
            {
                a.ended_at = Some(now);
                if caller_gone {
                    a.outcome = LegOutcome::Cancelled;
                    a.hangup_cause = Some("NOT_CREATED".into());
                } else {
                    a.outcome = LegOutcome::Failed;
                    a.hangup_cause = Some("COMMAND_REFUSED".into());
                }
            }
            c.phase = Phase::Over;
            self.release_legs(call, now);
            if !caller_gone {
                if let Some(c) = self.calls.get_mut(call) {
                    c.caller_ended.get_or_insert(now);
                }
                self.try_finish(call, now, &mut out);
            }
        }
        out
    }

    /// Forgets the legs of step `step` whose bridge never left parkway (refused before it was
    /// sent): they rang nobody, so they are no attempts. Their holds are released, their
    /// concurrency put down, and they leave the record (a note says why); their buyers stay
    /// tried, as the same refusal would come again.
    pub(super) fn drop_never_sent(&mut self, call: &str, step: u32, why: &str, now: DateTime<Utc>) {
        let config = self.config.clone();
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        let mut dropped = Vec::new();
        let mut i = 0;
        while i < c.legs.len() {
            if c.record.attempts[i].step == step && c.legs[i].attempt_held {
                let leg = c.legs.remove(i);
                let attempt = c.record.attempts.remove(i);
                self.ledger.release(call, leg.buyer, Metric::Attempts);
                self.ledger.release(call, leg.buyer, Metric::Connections);
                self.ledger.release(call, leg.buyer, Metric::Revenue);
                if leg.live {
                    self.ledger.count_leg(
                        &config,
                        call,
                        &attempt.leg_uuid,
                        leg.buyer,
                        Count::LegDown,
                        now,
                    );
                }
                dropped.push(attempt);
            } else {
                i += 1;
            }
        }
        if dropped.is_empty() {
            return;
        }
        let buyers: Vec<&str> = dropped.iter().map(|a| a.buyer.as_str()).collect();
        c.record.notes.push(format!(
            "step {step} not dialled ({}): {why}",
            buyers.join(", ")
        ));
        for a in &dropped {
            self.legs.remove(&a.leg_uuid);
        }
    }

    /// A command for `call` never reached FreeSWITCH (no connection). A `set` is sent again
    /// before the next bridge; a bridge's buyers were never dialled, so they may be dialled
    /// again when the reconcile after the reconnect moves the call on.
    pub fn command_not_sent(&mut self, call: &str, app: App) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        c.record
            .notes
            .push(format!("not sent (no connection): {app}"));
        match app {
            App::Set => c.prepared = false,
            App::Bridge => {
                let step = c.steps;
                let unsent: Vec<(usize, String)> = c
                    .record
                    .attempts
                    .iter()
                    .zip(&c.legs)
                    .filter(|(a, _)| a.step == step)
                    .map(|(_, l)| (l.buyer, l.attempt_key.clone()))
                    .collect();
                c.tried.retain(|b| !unsent.iter().any(|(u, _)| u == b));
                c.unsent.extend(unsent);
                for a in c.record.attempts.iter_mut().filter(|a| a.step == step) {
                    a.hangup_cause.get_or_insert_with(|| "NOT_SENT".into());
                }
            }
            // The fallback's commands: nothing is sent again.
            App::Answer | App::Playback | App::Hangup | App::Transfer => {}
        }
    }

    /// After a reconnect: `live` holds every channel uuid FreeSWITCH still has. Calls and legs
    /// that ended while the socket was down are ended now (their hangups are counted once), and
    /// a call whose bridge ended unseen moves on. A channel's times and cause come from its CDR
    /// in `cdrs` when FreeSWITCH wrote one; without it the channel is ended at `now`, and a
    /// talk time that ends at `now` is a guess: the call is not paid on it (see `try_finish`).
    ///
    /// `asked` holds the channels the switchboard knew when it asked: only those are judged
    /// (a leg dialled or a call parked after the snapshot is not in it, yet alive).
    pub fn reconcile(
        &mut self,
        live: &HashSet<String>,
        asked: &HashSet<String>,
        cdrs: &FxHashMap<String, CdrOutcome>,
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let now = self.switch_time(now);
        let mut out = Vec::new();
        let calls: Vec<String> = self.calls.keys().cloned().collect();
        let gone = |u: &str| asked.contains(u) && !live.contains(u);
        for uuid in calls {
            let mut changed = false;
            // A leg FreeSWITCH has is an attempt, whatever events were missed.
            if let Some(c) = self.calls.get_mut(&uuid) {
                for i in 0..c.legs.len() {
                    if live.contains(&c.record.attempts[i].leg_uuid) {
                        c.legs[i].created = true;
                        count_attempt(&mut self.ledger, &self.config, c, i, now);
                    }
                }
            }
            let ended: Vec<String> = match self.calls.get(&uuid) {
                Some(call) => call
                    .record
                    .attempts
                    .iter()
                    .filter(|a| a.ended_at.is_none() || a.hangup_cause.is_none())
                    .map(|a| a.leg_uuid.clone())
                    .chain(
                        (call.caller_ended.is_none() || call.record.caller_hangup_cause.is_none())
                            .then(|| uuid.clone()),
                    )
                    .filter(|u| gone(u))
                    .collect(),
                None => continue,
            };
            for channel in &ended {
                if let Some(cdr) = cdrs.get(channel) {
                    changed |= self.apply_cdr(&uuid, cdr);
                }
            }
            let Some(call) = self.calls.get_mut(&uuid) else {
                continue;
            };
            for a in call.record.attempts.iter_mut() {
                // Only legs `asked` judged (see `known_channels`): one still on its way when
                // `show channels` ran is not gone.
                if a.ended_at.is_none() && gone(&a.leg_uuid) {
                    a.ended_at = Some(now);
                    if a.outcome == LegOutcome::Connected {
                        if call.talk_end.is_none() {
                            call.talk_end = Some(now);
                            call.talk_guessed = true;
                        }
                    } else {
                        a.outcome = LegOutcome::from_cause("UNKNOWN", a.answered_at.is_some());
                    }
                    changed = true;
                }
            }
            if gone(&uuid) && call.caller_ended.is_none() {
                call.caller_ended = Some(now);
                if call.bridged_leg().is_some() && call.talk_end.is_none() {
                    call.talk_end = Some(now);
                    call.talk_guessed = true;
                }
                changed = true;
            }
            if call.caller_ended.is_some() {
                call.cancel_unmade_legs(now);
            }
            if let (Some(end), Some(_)) = (call.caller_ended, call.bridged_leg())
                && call.talk_end.is_some_and(|t| t > end)
            {
                call.talk_end = Some(end);
            }
            if changed {
                let note = if call.talk_guessed {
                    "reconciled after a reconnect: ended while the socket was down, no CDR; \
                     talk time is until parkway noticed and is not paid on"
                } else {
                    "reconciled after a reconnect: ended while the socket was down"
                };
                call.record.notes.push(note.into());
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
