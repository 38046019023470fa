//! Durable state: what the switchboard journals for the store, what it takes back from the store
//! at start, and outcomes read from FreeSWITCH's CDRs for channels that ended unseen.
//!
//! At start, [`Switchboard::restore`] replays the store's facts into the ledger, the paid
//! conversions into the duplicate history, and adopts the calls that were still open: each
//! comes back with the legs its facts name (attempt, up, down, bridged), talking when its
//! bridged leg is still up, so its hangups are followed as before the restart. The reconcile
//! that runs on the first connection then ends what ended while parkway was down, with the
//! times and causes of the channels' CDRs ([`CdrOutcome`]), and [`Switchboard::discover`] takes
//! back what the store never got: legs FreeSWITCH made (found in the CDRs written since a
//! little before the last fact, or up in `show channels` with parkway's variables) for calls
//! that were not finished.

use super::*;
use crate::billing::ledger::Fact;
use crate::store::cdr::CdrOutcome;
use crate::store::{ConversionSeen, Entry, OpenedCall, Restored};

/// An outbound channel parkway dialled that it does not know (found in `show channels`; its
/// variables read with `uuid_getvar`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrayLeg {
    pub uuid: String,
    /// `parkway_call`, `parkway_buyer`, `parkway_router`.
    pub call: String,
    pub buyer: String,
    pub router: Option<String>,
}

/// A buyer leg FreeSWITCH knows of: its uuid, the call, buyer and router its variables name,
/// and its CDR when it has ended.
struct FoundLeg<'a> {
    leg: &'a str,
    call: &'a str,
    buyer: &'a str,
    router: Option<&'a str>,
    cdr: Option<&'a CdrOutcome>,
}

/// The index of leg `leg` of `call`, added (to buyer `buyer`, dialled at `at`) if it is new.
fn add_leg(call: &mut Call, leg: &str, buyer: usize, id: Id, at: DateTime<Utc>) -> usize {
    if let Some(i) = call.leg_index(leg) {
        return i;
    }
    call.tried.push(buyer);
    let step = call.steps.max(1);
    call.push_leg(buyer, id, None, step, leg, at)
}

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
        crate::store::restore_into(&config, &restored, &mut self.ledger, &mut self.duplicates);
        let mut open_facts: FxHashMap<&str, Vec<&Fact>> = FxHashMap::default();
        for f in &restored.facts {
            if open.contains_key(&*f.call) {
                open_facts.entry(&f.call).or_default().push(f);
            }
        }
        // Their CDRs may be read again by the sweep after the first connection: not news.
        self.finished_before_start = restored.recently_finished.iter().cloned().collect();
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
            let leg_of =
                |call: &mut Call, leg: &str| add_leg(call, leg, buyer, f.buyer.clone(), f.at);
            match (f.kind, f.leg.as_deref()) {
                (Count::Attempt, Some(leg)) => {
                    // Counted: FreeSWITCH had made the leg.
                    let i = leg_of(&mut call, leg);
                    call.legs[i].attempt_counted = true;
                    call.legs[i].created = true;
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

    /// Takes back what FreeSWITCH knows of calls whose facts never reached the store (the
    /// process died between a dial and its commit): buyer legs parkway dialled, ended
    /// (`swept`: CDRs written since a little before the last fact) or still up (`strays`:
    /// outbound channels carrying parkway's variables), grouped by the call they name. A call
    /// already finished, or a leg already known, is left alone; an unknown call is adopted from
    /// its caller's CDR (or the legs' variables), each leg counted once (attempt, up, bridged),
    /// and whatever ended is finished from the CDRs.
    pub fn discover(
        &mut self,
        swept: &[CdrOutcome],
        strays: &[StrayLeg],
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let now = self.switch_time(now);
        let callers: FxHashMap<&str, &CdrOutcome> = swept
            .iter()
            .filter(|c| c.direction == "inbound" && c.var("parkway_buyer").is_none())
            .map(|c| (c.uuid.as_str(), c))
            .collect();
        let mut legs: Vec<FoundLeg> = Vec::new();
        for c in swept {
            if let (Some(call), Some(buyer)) = (c.var("parkway_call"), c.var("parkway_buyer"))
                && c.direction == "outbound"
            {
                legs.push(FoundLeg {
                    leg: &c.uuid,
                    call,
                    buyer,
                    router: c.var("parkway_router"),
                    cdr: Some(c),
                });
            }
        }
        for s in strays {
            legs.push(FoundLeg {
                leg: &s.uuid,
                call: &s.call,
                buyer: &s.buyer,
                router: s.router.as_deref(),
                cdr: None,
            });
        }
        let mut touched: Vec<String> = Vec::new();
        for found in legs {
            let FoundLeg {
                leg,
                call,
                buyer,
                router,
                cdr,
            } = found;
            if self.done.1.contains(call) || self.finished_before_start.contains(call) {
                continue;
            }
            if let Some(owner) = self.legs.get(leg).cloned() {
                // A leg parkway knows (taken back from the store) that ended unseen: its CDR
                // says how, and that FreeSWITCH made it.
                if let Some(cdr) = cdr
                    && self.apply_cdr(&owner, cdr)
                    && !touched.contains(&owner)
                {
                    touched.push(owner);
                }
                continue;
            }
            let Some(b) = self.config.buyer_index.get(buyer).copied() else {
                continue;
            };
            if !self.calls.contains_key(call) {
                let caller = callers.get(call);
                let Some(router) = router
                    .map(Id::new)
                    .or_else(|| caller.and_then(|c| c.var("parkway_router")).map(Id::new))
                else {
                    continue;
                };
                let tokens: BTreeMap<String, String> = caller
                    .map(|c| {
                        self.record_tokens
                            .iter()
                            .filter_map(|k| c.var(k).map(|v| (k.clone(), v.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default();
                let opened = OpenedCall {
                    call: call.into(),
                    router,
                    caller: caller.and_then(|c| c.caller_number.clone()),
                    destination: caller.and_then(|c| c.destination.clone()),
                    tokens,
                    parked_at: cdr.and_then(|c| c.answered_at).unwrap_or(now).min(now),
                };
                if !self.adopt(&opened, &[]) {
                    continue;
                }
                self.journal_opened(call);
                if let Some(c) = self.calls.get_mut(call) {
                    c.record
                        .notes
                        .push("found in FreeSWITCH's channels and CDRs after a restart".into());
                }
            }
            let config = self.config.clone();
            let Some(c) = self.calls.get_mut(call) else {
                continue;
            };
            let dialled = cdr.and_then(|c| c.answered_at).unwrap_or(now);
            let i = add_leg(c, leg, b, config.buyers[b].id.clone(), dialled);
            c.legs[i].created = true;
            self.legs.insert(leg.to_owned(), call.to_owned());
            count_up(&mut self.ledger, &config, c, i, dialled);
            if !touched.iter().any(|t| t == call) {
                touched.push(call.to_owned());
            }
            if let Some(cdr) = cdr {
                self.apply_cdr(call, cdr);
            } else if let Some(c) = self.calls.get_mut(call) {
                c.record
                    .notes
                    .push(format!("leg {leg} was up at the restart"));
            }
        }
        self.finished_before_start = Default::default();
        let mut out = Vec::new();
        for call in touched {
            if let Some(cdr) = callers.get(call.as_str()) {
                self.apply_cdr(&call, cdr);
            }
            self.release_legs(&call, now);
            self.try_finish(&call, now, &mut out);
        }
        out
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
        if call.leg_index(&cdr.uuid).is_none() {
            return false;
        }
        let bridged_to_caller = cdr.bridge_uuid.as_deref() == Some(call_uuid);
        if bridged_to_caller
            && call.bridged_leg().is_none()
            && let Some(bridged) = cdr.bridged_at
        {
            // A bridge parkway never saw: the connection counts (once) from FreeSWITCH's time.
            self.connect(call_uuid, &cdr.uuid, bridged);
            if let Some(call) = self.calls.get_mut(call_uuid)
                && let Some(i) = call.leg_index(&cdr.uuid)
            {
                call.legs[i].bridge_unseen = true;
            }
        }
        let Some(call) = self.calls.get_mut(call_uuid) else {
            return false;
        };
        // `connect` may have dropped legs that never rang: look the leg up again.
        let Some(i) = call.leg_index(&cdr.uuid) else {
            return false;
        };
        // FreeSWITCH made the leg: it is an attempt (once).
        call.legs[i].created = true;
        let at = cdr.ended_at.unwrap_or(call.parked_at);
        count_attempt(&mut self.ledger, &self.config, call, i, at);
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
