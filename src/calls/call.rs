//! One call's state: the caller, its plan steps, its buyer legs and the record being written.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::dial::{LegPlan, StepMode, StepPlan};
use super::record::{Attempt, CallRecord, FallbackUsed, LegOutcome};
use crate::routing::Tokens;

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Whispers for this step are being rendered.
    Rendering(StepPlan),
    /// A `bridge` with this Event-UUID is running.
    Dialing { event_uuid: String },
    /// Bridged to `record.attempts[leg]`.
    Talking { leg: usize },
    /// The fallback ran; the caller's hangup ends the call.
    FallenBack,
    /// The caller is gone (or the call could not be handled).
    Over,
}

/// A buyer leg as the call sees it (parallel to `record.attempts`).
#[derive(Debug, Clone, Default)]
pub(crate) struct LegState {
    pub buyer: usize,
    pub digits: Vec<char>,
    /// Counted as up (concurrency) and not yet down.
    pub live: bool,
    /// Bridged while the socket was down: the times come from the leg's hangup.
    pub bridge_unseen: bool,
    /// Its CHANNEL_CREATE (or a later event of its own) was seen: FreeSWITCH made the channel,
    /// so its CHANNEL_HANGUP_COMPLETE will come.
    pub created: bool,
    /// Its attempt is only held in the ledger: FreeSWITCH has not shown the leg yet (an event
    /// of its own, a `show channels` row or a CDR counts it then; a leg FreeSWITCH never made
    /// is no attempt, and the hold is released).
    pub attempt_held: bool,
    /// Its attempt is counted (FreeSWITCH made the leg).
    pub attempt_counted: bool,
    /// What its attempt is counted under in the ledger: its own uuid, or that of a leg to the
    /// same buyer whose bridge never reached FreeSWITCH (that one was counted, never rang, and
    /// this leg dials it again: one attempt).
    pub attempt_key: String,
}

/// A whisper the driver must render before a step is dialled.
#[derive(Debug, Clone)]
pub struct WhisperRequest {
    pub buyer: usize,
    pub template: String,
}

/// A rendered whisper handed back to the switchboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedWhisper {
    pub buyer: usize,
    pub path: Option<PathBuf>,
    /// Its length in whole seconds (rounded up).
    pub secs: u32,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub uuid: String,
    pub router: usize,
    pub tokens: Tokens,
    /// The caller's number, normalised (duplicate rules key on it).
    pub caller: Option<u64>,
    pub parked_at: DateTime<Utc>,
    /// The caller's `park_timeout` (seconds), if the dialplan set one: FreeSWITCH hangs the
    /// caller up that long after the park, whatever parkway is doing.
    pub park_timeout: Option<u32>,
    pub span: tracing::Span,
    pub phase: Phase,
    /// Buyers dialled so far (never dialled twice on one call).
    pub tried: Vec<usize>,
    /// Attempt keys of legs whose bridge was never sent, per buyer: the leg that dials the
    /// buyer again takes the key over (see [`LegState::attempt_key`]).
    pub unsent: Vec<(usize, String)>,
    pub steps: u32,
    pub legs: Vec<LegState>,
    pub record: CallRecord,
    pub caller_ended: Option<DateTime<Utc>>,
    /// When the bridged talk ended (the first hangup of either side).
    pub talk_end: Option<DateTime<Utc>>,
    /// `talk_end` is when parkway noticed, not FreeSWITCH's time (ended unseen, no CDR).
    pub talk_guessed: bool,
    /// `hangup_after_bridge` has been set on the caller.
    pub prepared: bool,
    /// The `set`s the caller needs before its first bridge (the dialplan may have set them).
    pub needs: Vec<String>,
    /// The fallback sent, with its commands' Event-UUIDs, until it runs (then it is in the
    /// record).
    pub fallback_sent: Option<(FallbackUsed, Vec<String>)>,
}

impl Call {
    /// Adds the legs of a step to the record, as dialled at `now`.
    pub fn add_attempts(
        &mut self,
        step: &StepPlan,
        group: Option<crate::routing::Id>,
        now: DateTime<Utc>,
        ids: &[crate::routing::Id],
    ) {
        for (leg, id) in step.legs.iter().zip(ids) {
            self.tried.push(leg.buyer);
            let attempt_key = match self.unsent.iter().position(|(b, _)| *b == leg.buyer) {
                Some(i) => self.unsent.swap_remove(i).1,
                None => leg.uuid.clone(),
            };
            let at = self.push_leg(
                leg.buyer,
                id.clone(),
                group.clone(),
                step.number,
                &leg.uuid,
                now,
            );
            self.legs[at].attempt_key = attempt_key;
        }
    }

    /// Adds leg `leg_uuid` to buyer `buyer` (id `id`), dialled at `at` in plan step `step`:
    /// its state (counted under its own uuid) and its attempt in the record. Returns its index.
    pub fn push_leg(
        &mut self,
        buyer: usize,
        id: crate::routing::Id,
        group: Option<crate::routing::Id>,
        step: u32,
        leg_uuid: &str,
        at: DateTime<Utc>,
    ) -> usize {
        self.legs.push(LegState {
            buyer,
            attempt_key: leg_uuid.to_owned(),
            ..LegState::default()
        });
        self.record.attempts.push(Attempt {
            buyer: id,
            group,
            step,
            leg_uuid: leg_uuid.to_owned(),
            dialled_at: at,
            answered_at: None,
            bridged_at: None,
            ended_at: None,
            hangup_cause: None,
            outcome: LegOutcome::Pending,
        });
        self.legs.len() - 1
    }

    /// The index of the leg with this uuid.
    pub fn leg_index(&self, uuid: &str) -> Option<usize> {
        self.record.attempts.iter().position(|a| a.leg_uuid == uuid)
    }

    /// The legs of the step being dialled that are ringing right away (a sequential step rings
    /// its first member only; the others are counted when their channel appears).
    pub fn first_legs(step: &StepPlan) -> &[LegPlan] {
        match step.mode {
            StepMode::Sequential => &step.legs[..step.legs.len().min(1)],
            _ => &step.legs,
        }
    }

    /// Forgets the legs of step `step` that FreeSWITCH never started (no channel seen, not
    /// answered, not ended), except those `keep` names: the later members of a sequential
    /// group once one is bridged, or once the bridge ended without them. They are not attempts
    /// (nothing rang, the ledger never counted them) and no event will ever end them. Returns
    /// their uuids.
    pub fn drop_unstarted(&mut self, step: u32, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let mut dropped = Vec::new();
        let mut i = 0;
        while i < self.legs.len() {
            let a = &self.record.attempts[i];
            if a.step == step
                && !keep(&a.leg_uuid)
                && !self.legs[i].live
                && a.ended_at.is_none()
                && a.answered_at.is_none()
            {
                let a = self.record.attempts.remove(i);
                let leg = self.legs.remove(i);
                self.tried.retain(|b| *b != leg.buyer);
                dropped.push(a.leg_uuid);
            } else {
                i += 1;
            }
        }
        dropped
    }

    /// The caller is gone, and with it every originate it ran: a leg FreeSWITCH never made
    /// (no channel seen) will not come. Each still open is ended at `now` as cancelled
    /// (`NOT_CREATED`), as when it was ringing.
    pub fn cancel_unmade_legs(&mut self, now: DateTime<Utc>) {
        for (a, leg) in self.record.attempts.iter_mut().zip(&self.legs) {
            if a.ended_at.is_none() && !leg.created && a.outcome != LegOutcome::Connected {
                a.ended_at = Some(now);
                a.hangup_cause.get_or_insert_with(|| "NOT_CREATED".into());
                a.outcome = LegOutcome::Cancelled;
            }
        }
    }

    /// The bridged leg, if any.
    pub fn bridged_leg(&self) -> Option<usize> {
        self.record
            .attempts
            .iter()
            .position(|a| a.outcome == LegOutcome::Connected)
    }

    /// No leg is still up.
    pub fn legs_done(&self) -> bool {
        self.record.attempts.iter().all(|a| a.ended_at.is_some())
    }
}
