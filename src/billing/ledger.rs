//! The ledger: in-memory counters per buyer and group, in the windows routing reads.
//!
//! [`Ledger::count`] takes one event of one call for one buyer and updates, in place, the
//! [`UsageSnapshot`] routing decides against:
//!
//! - the buyer's counters and those of every group it belongs to (each in its own zone) in the
//!   hourly, daily, weekly, monthly and total windows. A resetting window's counter is stamped with
//!   `since` = the start of the window instance it counts; when the current instance starts after
//!   `since`, the counter restarts from 0 with the new `since` (and routing, reading a stale
//!   counter, already sees 0). An event dated before a counter's `since` (out of order across a
//!   boundary) is added to that counter: it is never lost, and never reopens an old window.
//! - concurrency (`LegUp` +1, `LegDown` −1, never below 0). A `LegDown` without a prior `LegUp`
//!   changes nothing but is remembered: that leg is over, so a `LegUp` arriving after it changes
//!   nothing either (a replayed or reordered pair can never leave a leg counted as up);
//! - the buyer's daily EPC buckets (UTC days): a connection adds a call, revenue adds earnings;
//!   buckets older than the EPC window plus a day are dropped.
//!
//! Each `(call, buyer, kind)` counts once: a repeat returns `false` and changes nothing, so the
//! call driver may replay events after a reconnect. Attempts and concurrency counted with
//! [`Ledger::count_leg`] are keyed by the leg instead, `(call, leg uuid, kind)`: every buyer leg
//! dialled is one attempt, however often the call dials the same buyer. The keys of a call are kept while it is live
//! and for `keep` (default 1 hour) after [`Ledger::finish_call`]; [`Ledger::prune`] drops them
//! after that. A call that is never finished is forgotten `stale` (default 24 hours) after its
//! first event. Legs still up when a call finishes or is forgotten are put down, so a lost
//! `LegDown` cannot hold a buyer's concurrency forever. Memory is about 100 bytes per call
//! remembered, plus about 70 per leg counted with `count_leg` (its uuid): live calls plus the
//! calls finished in the last `keep`.
//!
//! A ledger belongs to the config it was built from: buyer indices, group membership and ids are
//! read from it once; `count` reads the zones and the EPC window from the config it is given. After
//! a config reload, [`Ledger::rebind`] moves it onto the new config by id.

mod holds;
mod windows;

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::Serialize;

use crate::config::model::Config;
use crate::routing::decision::Id;
use crate::routing::usage::{Counter, EpcBucket, Metric, Usage, UsageSnapshot};
use crate::routing::zonetime::Window;
use parkway_esl::fasthash::FxHashMap;
use windows::{RESETTING, WindowStarts};

/// What happened, as the ledger counts it; revenue carries its amount (minor units), every
/// other counted kind adds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    /// The buyer was dialled.
    Attempt,
    /// The buyer was bridged to the caller.
    Connection,
    /// The call converted for the buyer.
    Conversion,
    /// The buyer owes this much for the call (minor units).
    Revenue(i64),
    /// A leg to the buyer is up (concurrency +1).
    LegUp,
    /// That leg is down (concurrency −1).
    LegDown,
}

impl Count {
    /// The kind's bit in a key's mask (the amount plays no part: a call's revenue counts once).
    fn bit(self) -> u8 {
        match self {
            Count::Attempt => 1,
            Count::Connection => 2,
            Count::Conversion => 4,
            Count::Revenue(_) => 8,
            Count::LegUp => 16,
            Count::LegDown => 32,
        }
    }

    /// Kinds that count per leg dialled with [`Ledger::count_leg`] (the rest per buyer).
    pub fn per_leg(self) -> bool {
        match self {
            Count::Attempt | Count::LegUp | Count::LegDown => true,
            Count::Connection | Count::Conversion | Count::Revenue(_) => false,
        }
    }

    /// The metric counted over windows and what it adds, for the kinds that count over windows
    /// (the legs move concurrency instead).
    pub(crate) fn metric(self) -> Option<(Metric, i64)> {
        match self {
            Count::Attempt => Some((Metric::Attempts, 1)),
            Count::Connection => Some((Metric::Connections, 1)),
            Count::Conversion => Some((Metric::Conversions, 1)),
            Count::Revenue(amount) => Some((Metric::Revenue, amount)),
            Count::LegUp | Count::LegDown => None,
        }
    }
}

/// The mask bit of the kind that counts `metric` for real (`None`: concurrency, which legs
/// move).
fn counted_bit(metric: Metric) -> Option<u8> {
    match metric {
        Metric::Attempts => Some(Count::Attempt.bit()),
        Metric::Connections => Some(Count::Connection.bit()),
        Metric::Conversions => Some(Count::Conversion.bit()),
        Metric::Revenue => Some(Count::Revenue(0).bit()),
        Metric::Concurrency => None,
    }
}

/// One count the ledger took, as it journals it for the store ([`Ledger::journal`]): the store
/// writes it once under its key (`call`, `buyer`, `leg`, kind) and a restart replays it
/// ([`Ledger::restore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub call: Arc<str>,
    pub buyer: Id,
    /// The leg's uuid for the per-leg kinds ([`Count::per_leg`]); `None` for the others.
    pub leg: Option<Box<str>>,
    pub kind: Count,
    pub at: DateTime<Utc>,
}

/// All-time figures of one buyer, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub attempts: u64,
    pub connections: u64,
    pub conversions: u64,
    /// Minor units.
    pub revenue: i64,
}

impl Totals {
    /// Adds `amount` of a counted metric (concurrency is not a total).
    fn add(&mut self, metric: Metric, amount: i64) {
        match metric {
            Metric::Attempts => self.attempts = self.attempts.saturating_add(1),
            Metric::Connections => self.connections = self.connections.saturating_add(1),
            Metric::Conversions => self.conversions = self.conversions.saturating_add(1),
            Metric::Revenue => self.revenue = self.revenue.saturating_add(amount),
            Metric::Concurrency => {}
        }
    }
}

#[derive(Debug, Clone)]
struct BuyerSlot {
    id: Id,
    /// Indices of the groups the buyer is a member of (each once).
    groups: Vec<usize>,
    windows: WindowStarts,
    totals: Totals,
}

#[derive(Debug, Clone)]
struct GroupSlot {
    id: Id,
    windows: WindowStarts,
}

/// The kinds counted for one buyer of a call, or for one of its legs (one bit per
/// [`Count`]).
#[derive(Debug, Clone)]
struct Seen {
    buyer: u32,
    /// The leg's uuid for the per-leg kinds ([`Count::per_leg`]) counted with
    /// [`Ledger::count_leg`]; `None` for the per-buyer ones.
    leg: Option<Box<str>>,
    mask: u8,
}

/// The dedup keys of one call.
#[derive(Debug, Clone)]
struct CallKeys {
    id: Arc<str>,
    seen: Vec<Seen>,
    first_seen: DateTime<Utc>,
    /// When the keys may go (set by `finish_call`).
    expires: Option<DateTime<Utc>>,
}

/// How often `prune` looks for calls that were never finished.
const SWEEP_EVERY: Duration = Duration::minutes(10);

/// What [`Ledger::restore`] replayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RestoreCounts {
    /// Facts of calls that were still open (counted with their keys and legs).
    pub open: u64,
    /// Facts of finished calls.
    pub finished: u64,
    /// Facts of buyers the config no longer has (skipped).
    pub unknown_buyer: u64,
}

/// Counters per buyer and group, kept as the [`UsageSnapshot`] routing reads.
#[derive(Debug, Clone)]
pub struct Ledger {
    snapshot: UsageSnapshot,
    buyers: Vec<BuyerSlot>,
    groups: Vec<GroupSlot>,
    calls: FxHashMap<Arc<str>, CallKeys>,
    /// Finished calls in `finish_call` order, with the time their keys expire.
    finished: VecDeque<(DateTime<Utc>, Arc<str>)>,
    keep: Duration,
    stale: Duration,
    next_sweep: Option<DateTime<Utc>>,
    /// Counts calls in flight may still add (see `holds`).
    holds: FxHashMap<Arc<str>, Vec<holds::Held>>,
    /// The facts counted since the store last took them (`None`: nobody takes them).
    journal: Option<Vec<Fact>>,
}

impl Ledger {
    /// An empty ledger for `config`'s buyers and groups.
    pub fn new(config: &Config) -> Ledger {
        let mut buyers: Vec<BuyerSlot> = config
            .buyers
            .iter()
            .map(|b| BuyerSlot {
                id: b.id.clone(),
                groups: Vec::new(),
                windows: WindowStarts::new(b.tz),
                totals: Totals::default(),
            })
            .collect();
        for (gi, g) in config.groups.iter().enumerate() {
            for &m in &g.members {
                if let Some(slot) = buyers.get_mut(m)
                    && !slot.groups.contains(&gi)
                {
                    slot.groups.push(gi);
                }
            }
        }
        let groups = config
            .groups
            .iter()
            .map(|g| GroupSlot {
                id: g.id.clone(),
                windows: WindowStarts::new(g.tz),
            })
            .collect();
        Ledger {
            snapshot: UsageSnapshot::default(),
            buyers,
            groups,
            calls: FxHashMap::default(),
            finished: VecDeque::new(),
            keep: Duration::hours(1),
            stale: Duration::hours(24),
            next_sweep: None,
            holds: FxHashMap::default(),
            journal: None,
        }
    }

    /// Journals every fact counted from now on, for [`Ledger::take_facts`].
    pub fn journal(mut self) -> Ledger {
        self.journal = Some(Vec::new());
        self
    }

    /// The facts counted since the last call, in the order they were counted (empty when the
    /// ledger does not journal).
    pub fn take_facts(&mut self) -> Vec<Fact> {
        match &mut self.journal {
            Some(j) if !j.is_empty() => std::mem::take(j),
            _ => Vec::new(),
        }
    }

    /// Replays facts a store kept, in the order they were counted, without journalling them
    /// again. Facts of calls in `open` (calls not finished when the store last wrote) are
    /// counted with their keys and legs, as live ones are, so the driver can finish those calls
    /// and a replayed event still counts once; the facts of finished calls only add to the
    /// counters, totals and EPC (their legs are down, their keys no longer needed).
    pub fn restore(
        &mut self,
        config: &Config,
        facts: impl IntoIterator<Item = Fact>,
        open: &impl Fn(&str) -> bool,
    ) -> RestoreCounts {
        let journal = self.journal.take();
        let mut counts = RestoreCounts::default();
        for fact in facts {
            let Some(buyer) = config.buyer_index.get(fact.buyer.as_str()).copied() else {
                counts.unknown_buyer += 1;
                continue;
            };
            if open(&fact.call) {
                self.count_keyed(
                    config,
                    &fact.call,
                    fact.leg.as_deref(),
                    buyer,
                    fact.kind,
                    fact.at,
                );
                counts.open += 1;
            } else {
                self.count_finished(config, buyer, fact.kind, fact.at);
                counts.finished += 1;
            }
        }
        self.journal = journal;
        counts
    }

    /// Adds what a store compacted out of its facts (counts older than the longest window) to
    /// each buyer's all-time totals and total window.
    pub fn restore_compacted(&mut self, config: &Config, compacted: &[(Id, Totals)]) {
        for (id, t) in compacted {
            let Some(slot) = config
                .buyer_index
                .get(id.as_str())
                .and_then(|&i| self.buyers.get_mut(i))
            else {
                continue;
            };
            add_to_total(usage_mut(&mut self.snapshot.buyers, &slot.id), t);
            slot.totals.attempts = slot.totals.attempts.saturating_add(t.attempts);
            slot.totals.connections = slot.totals.connections.saturating_add(t.connections);
            slot.totals.conversions = slot.totals.conversions.saturating_add(t.conversions);
            slot.totals.revenue = slot.totals.revenue.saturating_add(t.revenue);
            for &gi in &slot.groups {
                if let Some(g) = self.groups.get(gi) {
                    add_to_total(usage_mut(&mut self.snapshot.groups, &g.id), t);
                }
            }
        }
    }

    /// Adds a finished call's fact to the counters, totals and EPC (no keys, no legs).
    fn count_finished(&mut self, config: &Config, buyer: usize, kind: Count, at: DateTime<Utc>) {
        let (Some(b), Some(slot)) = (config.buyers.get(buyer), self.buyers.get_mut(buyer)) else {
            return;
        };
        let Some((metric, amount)) = kind.metric() else {
            return;
        };
        slot.totals.add(metric, amount);
        let starts = slot.windows.starts(b.tz, at);
        let usage = usage_mut(&mut self.snapshot.buyers, &slot.id);
        add_to_windows(usage, starts, metric, amount);
        if let Some((calls, earnings)) = epc_part(kind) {
            feed_epc(&mut usage.epc, at, calls, earnings, epc_keep(config));
        }
        for &gi in &slot.groups {
            let (Some(group), Some(gslot)) = (config.groups.get(gi), self.groups.get_mut(gi))
            else {
                continue;
            };
            let starts = gslot.windows.starts(group.tz, at);
            add_to_windows(
                usage_mut(&mut self.snapshot.groups, &gslot.id),
                starts,
                metric,
                amount,
            );
        }
    }

    /// Keeps a finished call's keys for `keep` (default 1 hour) and forgets an unfinished call
    /// `stale` (default 24 hours) after its first event.
    pub fn with_retention(mut self, keep: Duration, stale: Duration) -> Ledger {
        self.keep = keep;
        self.stale = stale;
        self
    }

    /// Moves the ledger onto a reloaded `config`. Buyers and groups are matched by id, so totals,
    /// counters and the dedup keys of live calls follow a buyer whose index changed. Concurrency is
    /// recounted from the legs still up, against the new group membership. Buyers and groups that
    /// are gone keep their snapshot entries (routing no longer asks for them) but are not counted.
    pub fn rebind(&mut self, config: &Config) {
        let mut fresh = Ledger::new(config);
        let old: FxHashMap<&str, &BuyerSlot> =
            self.buyers.iter().map(|b| (b.id.as_str(), b)).collect();
        for slot in &mut fresh.buyers {
            if let Some(o) = old.get(slot.id.as_str()) {
                slot.totals = o.totals;
            }
        }
        let new_index: FxHashMap<&str, u32> = fresh
            .buyers
            .iter()
            .enumerate()
            .filter_map(|(i, b)| Some((b.id.as_str(), u32::try_from(i).ok()?)))
            .collect();
        let remap: Vec<Option<u32>> = self
            .buyers
            .iter()
            .map(|b| new_index.get(b.id.as_str()).copied())
            .collect();
        for keys in self.calls.values_mut() {
            keys.seen
                .retain_mut(|k| match remap.get(k.buyer as usize).copied().flatten() {
                    Some(n) => {
                        k.buyer = n;
                        true
                    }
                    None => false,
                });
        }
        for u in self
            .snapshot
            .buyers
            .values_mut()
            .chain(self.snapshot.groups.values_mut())
        {
            u.concurrency = 0;
        }
        let (up, down) = (Count::LegUp.bit(), Count::LegDown.bit());
        for keys in self.calls.values() {
            for k in &keys.seen {
                if k.mask & up != 0
                    && k.mask & down == 0
                    && let Some(slot) = fresh.buyers.get(k.buyer as usize)
                {
                    move_concurrency(&mut self.snapshot, slot, &fresh.groups, true);
                }
            }
        }
        self.buyers = fresh.buyers;
        self.groups = fresh.groups;
    }

    /// Counts one event for `buyer` (index into `config.buyers`) on call `call` at `now`; see the
    /// module docs. Returns whether anything changed: `false` for a repeat of
    /// `(call, buyer, kind)` (whatever a repeated revenue's amount), a `LegDown` without a `LegUp` (or a `LegUp` after the
    /// leg's `LegDown`), or an unknown buyer.
    pub fn count(
        &mut self,
        config: &Config,
        call: &str,
        buyer: usize,
        kind: Count,
        now: DateTime<Utc>,
    ) -> bool {
        self.count_keyed(config, call, None, buyer, kind, now)
    }

    /// As [`Ledger::count`], for one leg `leg` (its uuid) of the call to `buyer`: the per-leg
    /// kinds (`Attempt`, `LegUp`, `LegDown`) count once per `(call, leg, kind)`, so a buyer
    /// dialled twice in one call (in two steps, or in a group and alone) is two attempts and two
    /// legs up; the others (`Connection`, `Conversion`, `Revenue`) still count once per
    /// `(call, buyer, kind)`.
    pub fn count_leg(
        &mut self,
        config: &Config,
        call: &str,
        leg: &str,
        buyer: usize,
        kind: Count,
        now: DateTime<Utc>,
    ) -> bool {
        let leg = kind.per_leg().then_some(leg);
        self.count_keyed(config, call, leg, buyer, kind, now)
    }

    fn count_keyed(
        &mut self,
        config: &Config,
        call: &str,
        leg: Option<&str>,
        buyer: usize,
        kind: Count,
        now: DateTime<Utc>,
    ) -> bool {
        let (Some(b), Some(slot), Ok(bi)) = (
            config.buyers.get(buyer),
            self.buyers.get_mut(buyer),
            u32::try_from(buyer),
        ) else {
            return false;
        };
        if !self.calls.contains_key(call) {
            let id: Arc<str> = Arc::from(call);
            let keys = CallKeys {
                id: id.clone(),
                seen: Vec::with_capacity(1),
                first_seen: now,
                expires: None,
            };
            self.calls.insert(id, keys);
        }
        let Some(keys) = self.calls.get_mut(call) else {
            return false;
        };
        let mask = match keys
            .seen
            .iter_mut()
            .find(|k| k.buyer == bi && k.leg.as_deref() == leg)
        {
            Some(k) => &mut k.mask,
            None => {
                keys.seen.push(Seen {
                    buyer: bi,
                    leg: leg.map(Box::from),
                    mask: 0,
                });
                match keys.seen.last_mut() {
                    Some(k) => &mut k.mask,
                    None => return false,
                }
            }
        };
        if *mask & kind.bit() != 0 {
            return false;
        }
        let (up, down) = (Count::LegUp.bit(), Count::LegDown.bit());
        let unmatched = match kind {
            // A leg that never came up: nothing to put down.
            Count::LegDown => *mask & up == 0,
            // The leg is already over (its LegDown came first): nothing to bring up.
            Count::LegUp => *mask & down != 0,
            Count::Attempt | Count::Connection | Count::Conversion | Count::Revenue(_) => false,
        };
        *mask |= kind.bit();
        if let Some(journal) = &mut self.journal {
            journal.push(Fact {
                call: keys.id.clone(),
                buyer: slot.id.clone(),
                leg: leg.map(Box::from),
                kind,
                at: now,
            });
        }
        if unmatched {
            return false;
        }

        let Some((metric, amount)) = kind.metric() else {
            let up = kind == Count::LegUp;
            move_concurrency(&mut self.snapshot, slot, &self.groups, up);
            return true;
        };
        slot.totals.add(metric, amount);
        let held = holds::unhold(&mut self.holds, call, bi, metric);
        let starts = slot.windows.starts(b.tz, now);
        let usage = usage_mut(&mut self.snapshot.buyers, &slot.id);
        holds::add_replacing(
            usage,
            starts,
            held.as_ref().map(|h| h.buyer_part()),
            metric,
            amount,
        );
        if let Some((calls, earnings)) = epc_part(kind) {
            feed_epc(&mut usage.epc, now, calls, earnings, epc_keep(config));
        }
        for &gi in &slot.groups {
            let (Some(group), Some(gslot)) = (config.groups.get(gi), self.groups.get_mut(gi))
            else {
                continue;
            };
            let starts = gslot.windows.starts(group.tz, now);
            let usage = usage_mut(&mut self.snapshot.groups, &gslot.id);
            let held_starts = held.as_ref().and_then(|h| h.group_part(gi));
            holds::add_replacing(usage, starts, held_starts, metric, amount);
        }
        true
    }

    /// The usage routing decides against.
    pub fn snapshot(&self) -> &UsageSnapshot {
        &self.snapshot
    }

    /// The call is over: legs still up are put down, and its dedup keys expire `keep` after `now`
    /// ([`Ledger::prune`] drops them). Finishing a call twice, or one never counted, does nothing.
    pub fn finish_call(&mut self, call: &str, now: DateTime<Utc>) {
        if !self.holds.is_empty() {
            self.release_all(call);
        }
        let Some(keys) = self.calls.get_mut(call) else {
            return;
        };
        if keys.expires.is_some() {
            return;
        }
        put_down(&mut self.snapshot, &self.buyers, &self.groups, keys);
        let due = now
            .checked_add_signed(self.keep)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        keys.expires = Some(due);
        self.finished.push_back((due, keys.id.clone()));
    }

    /// Drops the keys of calls finished more than `keep` ago, and (every few minutes) forgets calls
    /// never finished within `stale`, putting their legs down.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        while let Some((due, _)) = self.finished.front() {
            if *due > now {
                break;
            }
            let Some((due, id)) = self.finished.pop_front() else {
                break;
            };
            if self.calls.get(&id).is_some_and(|k| k.expires == Some(due))
                && let Some(mut keys) = self.calls.remove(&id)
            {
                // A leg brought up after the finish is put down with the keys.
                put_down(&mut self.snapshot, &self.buyers, &self.groups, &mut keys);
            }
        }
        if self.next_sweep.is_some_and(|t| now < t) {
            return;
        }
        self.next_sweep = now.checked_add_signed(SWEEP_EVERY);
        let cutoff = now.checked_sub_signed(self.stale);
        let (snapshot, buyers, groups) = (&mut self.snapshot, &self.buyers, &self.groups);
        let mut forgotten = Vec::new();
        self.calls.retain(|id, keys| {
            let stale = keys.expires.is_none() && cutoff.is_some_and(|c| keys.first_seen <= c);
            if stale {
                put_down(snapshot, buyers, groups, keys);
                forgotten.push(id.clone());
            }
            !stale
        });
        // What a forgotten call still holds goes too.
        for id in forgotten {
            self.release_all(&id);
        }
    }

    /// Legs up to `buyer` right now.
    pub fn concurrency(&self, buyer: usize) -> u32 {
        self.buyers
            .get(buyer)
            .and_then(|b| self.snapshot.buyer(&b.id))
            .map_or(0, |u| u.concurrency)
    }

    /// All-time attempts, connections, conversions and revenue of `buyer` (zero if unknown).
    pub fn totals(&self, buyer: usize) -> Totals {
        self.buyers
            .get(buyer)
            .map_or_else(Totals::default, |b| b.totals)
    }

    /// Calls whose keys are held (live, or finished within `keep` and not yet pruned).
    pub fn calls_held(&self) -> usize {
        self.calls.len()
    }
}

/// The entry for `id`, created empty on first use.
fn usage_mut<'a>(map: &'a mut FxHashMap<String, Box<Usage>>, id: &str) -> &'a mut Usage {
    // Two probes on first use only; `entry` would allocate the key on every count.
    if !map.contains_key(id) {
        map.insert(id.to_owned(), Box::default());
    }
    map.get_mut(id).expect("the entry was inserted above")
}

/// Adds `amount` of `metric` to one resetting window whose current instance started at
/// `start` (a counter from an older instance restarts from the amount).
fn add_to_window(
    usage: &mut Usage,
    window: Window,
    start: DateTime<Utc>,
    metric: Metric,
    amount: i64,
) {
    let counters = usage.window_mut(window);
    let next = match counters.get(metric) {
        Some(c) if c.since.is_some_and(|since| since >= start) => Counter {
            value: c.value.saturating_add(amount),
            since: c.since,
        },
        _ => Counter {
            value: amount,
            since: Some(start),
        },
    };
    counters.set(metric, Some(next));
}

/// Adds `amount` of `metric` to the resetting windows (which started at `starts`) and the total.
fn add_to_windows(usage: &mut Usage, starts: [DateTime<Utc>; 4], metric: Metric, amount: i64) {
    for (window, start) in RESETTING.into_iter().zip(starts) {
        add_to_window(usage, window, start, metric, amount);
    }
    let total = usage.window_mut(Window::Total);
    let value = total
        .get(metric)
        .map_or(0, |c| c.value)
        .saturating_add(amount);
    total.set(metric, Some(Counter { value, since: None }));
}

/// Adds compacted totals to a usage's total window.
fn add_to_total(usage: &mut Usage, t: &Totals) {
    let total = usage.window_mut(Window::Total);
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    for (metric, amount) in [
        (Metric::Attempts, n(t.attempts)),
        (Metric::Connections, n(t.connections)),
        (Metric::Conversions, n(t.conversions)),
        (Metric::Revenue, t.revenue),
    ] {
        if amount != 0 {
            let value = total
                .get(metric)
                .map_or(0, |c| c.value)
                .saturating_add(amount);
            total.set(metric, Some(Counter { value, since: None }));
        }
    }
}

/// What a count adds to EPC: (calls, earnings).
fn epc_part(kind: Count) -> Option<(u64, i64)> {
    match kind {
        Count::Connection => Some((1, 0)),
        Count::Revenue(earnings) => Some((0, earnings)),
        Count::Attempt | Count::Conversion | Count::LegUp | Count::LegDown => None,
    }
}

/// How long EPC buckets are kept: the EPC window and a day.
fn epc_keep(config: &Config) -> Duration {
    config
        .epc
        .window
        .checked_add(&Duration::days(1))
        .unwrap_or(Duration::MAX)
}

/// Adds to the EPC bucket of `now`'s UTC day and drops buckets not younger than `keep`.
fn feed_epc(
    epc: &mut Vec<EpcBucket>,
    now: DateTime<Utc>,
    calls: u64,
    earnings: i64,
    keep: Duration,
) {
    let start = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    match epc.iter_mut().rev().find(|b| b.start == start) {
        Some(b) => {
            b.calls = b.calls.saturating_add(calls);
            b.earnings = b.earnings.saturating_add(earnings);
        }
        None => {
            epc.push(EpcBucket {
                start,
                calls,
                earnings,
            });
            epc.sort_by_key(|b| b.start);
        }
    }
    if let Some(cutoff) = now.checked_sub_signed(keep) {
        epc.retain(|b| b.start > cutoff);
    }
}

/// Moves the concurrency of a buyer and its groups by one (never below 0).
fn move_concurrency(
    snapshot: &mut UsageSnapshot,
    slot: &BuyerSlot,
    groups: &[GroupSlot],
    up: bool,
) {
    let step = |c: &mut u32| {
        *c = if up {
            c.saturating_add(1)
        } else {
            c.saturating_sub(1)
        }
    };
    step(&mut usage_mut(&mut snapshot.buyers, &slot.id).concurrency);
    for &gi in &slot.groups {
        if let Some(g) = groups.get(gi) {
            step(&mut usage_mut(&mut snapshot.groups, &g.id).concurrency);
        }
    }
}

/// Puts down every leg of the call that is up (marking its `LegDown` counted).
fn put_down(
    snapshot: &mut UsageSnapshot,
    buyers: &[BuyerSlot],
    groups: &[GroupSlot],
    keys: &mut CallKeys,
) {
    let (up, down) = (Count::LegUp.bit(), Count::LegDown.bit());
    for k in &mut keys.seen {
        if k.mask & up != 0 && k.mask & down == 0 {
            k.mask |= down;
            if let Some(slot) = buyers.get(k.buyer as usize) {
                move_concurrency(snapshot, slot, groups, false);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
