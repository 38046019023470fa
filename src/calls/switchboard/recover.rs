//! Durable state: what the switchboard journals for the store, what it takes back from the store
//! at start, and outcomes read from FreeSWITCH's CDRs for channels that ended unseen.
//!
//! At start, [`Switchboard::restore`] replays the store's facts into the ledger, the paid
//! conversions into the duplicate history, and adopts the calls that were still open: each
//! comes back with the legs its facts name (attempt, up, down, bridged), talking when its
//! bridged leg is still up, so its hangups are followed as before the restart. The reconcile
//! that runs on the first connection then ends what ended while parkway was down, with the
//! times and causes of the channels' CDRs ([`CdrOutcome`]).

use super::*;
use crate::billing::ledger::Fact;
use crate::store::cdr::CdrOutcome;
use crate::store::{ConversionSeen, Entry, OpenedCall, Restored};

/// What [`Switchboard::restore`] took back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Recovered {
    pub facts: u64,
    pub open_calls: u64,
    /// Open calls whose router is no longer in the config (finished at once, with a note).
    pub orphaned: u64,
    pub conversions: u64,
}

impl Switchboard {
    /// Journals what the store must keep from now on (see [`Switchboard::take_entries`]).
    pub fn persistent(mut self) -> Switchboard {
        self.ledger = std::mem::replace(&mut self.ledger, Ledger::new(&self.config)).journal();
        self.journal = Some(Vec::new());
        self
    }

    /// What happened since the last call, for the store: the ledger's facts, calls taken,
    /// paid conversions (the records come with [`Action::Record`]).
    pub fn take_entries(&mut self) -> Vec<Entry> {
        let facts = self.ledger.take_facts();
        let own = match &mut self.journal {
            Some(j) if !j.is_empty() => std::mem::take(j),
            _ => Vec::new(),
        };
        if facts.is_empty() {
            return own;
        }
        let mut out: Vec<Entry> = facts.into_iter().map(Entry::Fact).collect();
        out.extend(own);
        out
    }

    pub(super) fn journal_opened(&mut self, uuid: &str) {
        let (Some(journal), Some(call)) = (&mut self.journal, self.calls.get(uuid)) else {
            return;
        };
        journal.push(Entry::Opened(OpenedCall {
            call: uuid.into(),
            router: call.record.router.clone(),
            caller: call.record.caller.clone(),
            destination: call.record.destination.clone(),
            tokens: call.record.tokens.clone(),
            parked_at: call.parked_at,
        }));
    }

    pub(super) fn journal_converted(&mut self, seen: ConversionSeen) {
        if let Some(journal) = &mut self.journal {
            journal.push(Entry::Converted(seen));
        }
    }

    /// Takes back what a store kept (before the first event): counters, the duplicate
    /// history, and the calls still open. Returns the records of open calls that can no longer
    /// be followed (their router is gone), finished as they stand.
    pub fn restore(&mut self, restored: Restored, now: DateTime<Utc>) -> (Recovered, Vec<Action>) {
        let config = self.config.clone();
        let mut done = Recovered {
            facts: restored.facts.len() as u64,
            conversions: restored.conversions.len() as u64,
            ..Recovered::default()
        };
        let open: FxHashMap<&str, &OpenedCall> =
            restored.open.iter().map(|c| (&*c.call, c)).collect();
        self.ledger.restore_compacted(&config, &restored.compacted);
        let mut open_facts: FxHashMap<&str, Vec<&Fact>> = FxHashMap::default();
        for f in &restored.facts {
            if open.contains_key(&*f.call) {
                open_facts.entry(&f.call).or_default().push(f);
            }
        }
        self.ledger
            .restore(&config, restored.facts.iter().cloned(), &|c| {
                open.contains_key(c)
            });
        for c in &restored.conversions {
            self.duplicates
                .record_conversion(c.caller, &c.buyer, &c.router, c.at);
        }
        let mut out = Vec::new();
        for opened in &restored.open {
            let facts = open_facts.remove(&*opened.call).unwrap_or_default();
            done.open_calls += 1;
            if !self.adopt(opened, &facts) {
                done.orphaned += 1;
                let mut record = CallRecord::new(
                    &opened.call,
                    opened.router.clone(),
                    crate::routing::decision::Algorithm::Tier,
                    opened.caller.clone(),
                    opened.destination.clone(),
                    opened.tokens.clone(),
                    opened.parked_at,
                );
                record.disposition = Disposition::Failed;
                record.ended_at = Some(now);
                record
                    .notes
                    .push("open at a restart; its router is no longer in the config".into());
                self.ledger.finish_call(&opened.call, now);
                out.push(Action::Record(Box::new(record)));
            }
        }
        (done, out)
    }

    /// Takes an open call back with the legs its facts name. False when its router is gone.
    fn adopt(&mut self, opened: &OpenedCall, facts: &[&Fact]) -> bool {
        let config = self.config.clone();
        let Some(router) = config.router_index.get(opened.router.as_str()).copied() else {
            return false;
        };
        let uuid = opened.call.to_string();
        let caller = CallerFields {
            number: opened.caller.clone(),
            name: None,
            destination: opened.destination.clone(),
        };
        let tokens = Tokens::new(opened.tokens.clone(), caller);
        let r = &config.routers[router];
        let mut record = CallRecord::new(
            &uuid,
            r.id.clone(),
            r.algorithm,
            opened.caller.clone(),
            opened.destination.clone(),
            opened.tokens.clone(),
            opened.parked_at,
        );
        record
            .notes
            .push("taken back from the store after a restart".into());
        let mut call = Call {
            uuid: uuid.clone(),
            router,
            caller: opened.caller.as_deref().and_then(normalize),
            tokens,
            parked_at: opened.parked_at,
            park_timeout: None,
            span: tracing::info_span!("call", call.uuid = %uuid, route.router = %r.id, route.buyer = tracing::field::Empty),
            phase: Phase::Over,
            tried: Vec::new(),
            unsent: Vec::new(),
            steps: 1,
            legs: Vec::new(),
            record,
            caller_ended: None,
            talk_end: None,
            talk_guessed: false,
            prepared: true,
            needs: Vec::new(),
            fallback_sent: None,
        };
        for f in facts {
            let Some(buyer) = config.buyer_index.get(f.buyer.as_str()).copied() else {
                continue;
            };
            let leg_of = |call: &mut Call, leg: &str| -> usize {
                match call.leg_index(leg) {
                    Some(i) => i,
                    None => {
                        call.tried.push(buyer);
                        call.legs.push(LegState {
                            buyer,
                            created: true,
                            attempt_key: leg.to_owned(),
                            ..LegState::default()
                        });
                        call.record.attempts.push(crate::calls::record::Attempt {
                            buyer: f.buyer.clone(),
                            group: None,
                            step: 1,
                            leg_uuid: leg.to_owned(),
                            dialled_at: f.at,
                            answered_at: None,
                            bridged_at: None,
                            ended_at: None,
                            hangup_cause: None,
                            outcome: LegOutcome::Pending,
                        });
                        call.legs.len() - 1
                    }
                }
            };
            match (f.kind, f.leg.as_deref()) {
                (Count::Attempt, Some(leg)) => {
                    leg_of(&mut call, leg);
                }
                (Count::LegUp, Some(leg)) => {
                    let i = leg_of(&mut call, leg);
                    call.legs[i].live = true;
                }
                (Count::LegDown, Some(leg)) => {
                    let i = leg_of(&mut call, leg);
                    call.legs[i].live = false;
                    let a = &mut call.record.attempts[i];
                    a.ended_at.get_or_insert(f.at);
                    if a.outcome == LegOutcome::Pending {
                        a.outcome = LegOutcome::Failed;
                    }
                }
                (Count::Connection, _) => {
                    // The buyer's leg that was up when it bridged: its latest one.
                    if let Some(i) = call.legs.iter().rposition(|l| l.buyer == buyer) {
                        let a = &mut call.record.attempts[i];
                        a.bridged_at = Some(f.at);
                        a.answered_at.get_or_insert(f.at);
                        a.outcome = LegOutcome::Connected;
                        call.record.connected = Some(f.buyer.clone());
                        call.record.bridged_at = Some(f.at);
                        if a.ended_at.is_some() {
                            call.talk_end.get_or_insert(a.ended_at.unwrap_or(f.at));
                        }
                    }
                }
                _ => {}
            }
        }
        // Legs the facts name but never brought up (an attempt whose channel was never seen)
        // are followed like the others: the reconcile ends them if FreeSWITCH has none.
        if let Some(leg) = call.bridged_leg()
            && call.record.attempts[leg].ended_at.is_none()
        {
            call.phase = Phase::Talking { leg };
        }
        for a in &call.record.attempts {
            self.legs.insert(a.leg_uuid.clone(), uuid.clone());
        }
        self.calls.insert(uuid, call);
        true
    }

    /// Applies a channel's CDR to the call it belongs to (its caller or one of its legs), for a
    /// channel that ended unseen. Returns whether the channel was one of the call's.
    pub(super) fn apply_cdr(&mut self, call_uuid: &str, cdr: &CdrOutcome) -> bool {
        let Some(call) = self.calls.get_mut(call_uuid) else {
            return false;
        };
        if cdr.uuid == call_uuid {
            if call.caller_ended.is_none() {
                call.caller_ended = cdr.ended_at;
            }
            if call.record.caller_hangup_cause.is_none() {
                call.record.caller_hangup_cause = cdr.hangup_cause.clone();
            }
            if let (Some(end), Some(_)) = (cdr.ended_at, call.bridged_leg()) {
                call.talk_end = Some(call.talk_end.map_or(end, |t| t.min(end)));
            }
            return true;
        }
        let Some(i) = call.leg_index(&cdr.uuid) else {
            return false;
        };
        let bridged_to_caller = cdr.bridge_uuid.as_deref() == Some(call_uuid);
        let a = &mut call.record.attempts[i];
        if a.ended_at.is_none() || a.hangup_cause.is_none() {
            a.ended_at = cdr.ended_at.or(a.ended_at);
            a.hangup_cause = cdr.hangup_cause.clone();
        }
        if a.answered_at.is_none() {
            a.answered_at = cdr.answered_at;
        }
        if bridged_to_caller && let Some(bridged) = cdr.bridged_at {
            a.bridged_at = Some(bridged);
            a.outcome = LegOutcome::Connected;
            call.record.bridged_at = Some(bridged);
            call.record.connected = Some(a.buyer.clone());
            if let Some(end) = cdr.ended_at {
                call.talk_end = Some(call.talk_end.map_or(end, |t| t.min(end)));
            }
            call.legs[i].digits = cdr.digits.chars().collect();
        } else if a.outcome == LegOutcome::Pending || a.outcome == LegOutcome::Failed {
            let cause = cdr.hangup_cause.as_deref().unwrap_or("UNKNOWN");
            a.outcome = LegOutcome::from_cause(cause, a.answered_at.is_some());
        }
        true
    }
}
