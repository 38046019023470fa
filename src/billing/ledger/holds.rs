//! Holds: counts a call in flight may still add, kept in the counters routing reads so that
//! calls in flight never push a buyer past a cap.
//!
//! A leg that is ringing may still connect; a call that is talking may still convert. Routing
//! decides the next call while they are in flight: if it read only what has happened, ten
//! ringing legs to a buyer one connection short of its cap could all connect. So the call driver
//! *holds* a connection when it dials a leg and a conversion when a call is bridged. A held count
//! is in the buyer's (and its groups') window counters at once; [`Ledger::count`] turns it into
//! the real count (adding it again only to a window that has reset since), and
//! [`Ledger::release`] takes it back when the leg ends without a bridge or the call without a
//! conversion. Holds are not in the all-time totals or EPC, which count only what happened.
//! Finishing a call releases what it still holds.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Ledger, RESETTING, usage_mut};
use crate::config::model::Config;
use crate::routing::usage::{Counter, Metric, Usage};
use crate::routing::zonetime::Window;
use parkway_esl::fasthash::FxHashMap;

/// Where a hold was counted: the window starts of the buyer and of each of its groups.
#[derive(Debug, Clone)]
pub(super) struct Held {
    index: u32,
    metric: Metric,
    /// What it adds: 1, or the expected payout of a revenue hold.
    amount: i64,
    buyer: [DateTime<Utc>; 4],
    groups: Vec<(usize, [DateTime<Utc>; 4])>,
}

impl Ledger {
    /// Holds one `metric` (connections or conversions) for `buyer` on `call` at `now`. Returns
    /// false when it is already held or already counted, or the buyer is unknown.
    pub fn hold(
        &mut self,
        config: &Config,
        call: &str,
        buyer: usize,
        metric: Metric,
        now: DateTime<Utc>,
    ) -> bool {
        self.hold_amount(config, call, buyer, metric, 1, now)
    }

    /// [`Ledger::hold`] of `amount` (revenue: the payout the call may still bring, in minor
    /// units; a hold of 0 or less holds nothing).
    pub fn hold_amount(
        &mut self,
        config: &Config,
        call: &str,
        buyer: usize,
        metric: Metric,
        amount: i64,
        now: DateTime<Utc>,
    ) -> bool {
        if amount <= 0 {
            return false;
        }
        let (Some(b), Some(slot), Ok(bi)) = (
            config.buyers.get(buyer),
            self.buyers.get_mut(buyer),
            u32::try_from(buyer),
        ) else {
            return false;
        };
        let counted = self.calls.get(call).is_some_and(|k| {
            k.seen.iter().any(|s| {
                s.buyer == bi && super::counted_bit(metric).is_some_and(|bit| s.mask & bit != 0)
            })
        });
        let held = self
            .holds
            .get(call)
            .is_some_and(|hs| hs.iter().any(|h| h.index == bi && h.metric == metric));
        if counted || held {
            return false;
        }
        let starts = slot.windows.starts(b.tz, now);
        add_held(
            usage_mut(&mut self.snapshot.buyers, &slot.id),
            &starts,
            metric,
            amount,
        );
        let mut groups = Vec::with_capacity(slot.groups.len());
        for &gi in &slot.groups {
            let (Some(group), Some(gslot)) = (config.groups.get(gi), self.groups.get_mut(gi))
            else {
                continue;
            };
            let gstarts = gslot.windows.starts(group.tz, now);
            add_held(
                usage_mut(&mut self.snapshot.groups, &gslot.id),
                &gstarts,
                metric,
                amount,
            );
            groups.push((gi, gstarts));
        }
        let hold = Held {
            index: bi,
            metric,
            amount,
            buyer: starts,
            groups,
        };
        match self.holds.get_mut(call) {
            Some(hs) => hs.push(hold),
            None => {
                self.holds.insert(Arc::from(call), vec![hold]);
            }
        }
        true
    }

    /// Takes back a hold (the leg ended unbridged, the call did not convert). Windows that have
    /// reset since the hold are left alone. Returns whether there was a hold.
    pub fn release(&mut self, call: &str, buyer: usize, metric: Metric) -> bool {
        let Ok(bi) = u32::try_from(buyer) else {
            return false;
        };
        match unhold(&mut self.holds, call, bi, metric) {
            Some(held) => {
                self.take_back(&held);
                true
            }
            None => false,
        }
    }

    /// Releases every hold of `call`.
    pub(super) fn release_all(&mut self, call: &str) {
        for held in self.holds.remove(call).unwrap_or_default() {
            self.take_back(&held);
        }
    }

    fn take_back(&mut self, held: &Held) {
        if let Some(slot) = self.buyers.get(held.index as usize) {
            take_held(
                usage_mut(&mut self.snapshot.buyers, &slot.id),
                &held.buyer,
                held.metric,
                held.amount,
            );
        }
        for (gi, starts) in &held.groups {
            if let Some(gslot) = self.groups.get(*gi) {
                take_held(
                    usage_mut(&mut self.snapshot.groups, &gslot.id),
                    starts,
                    held.metric,
                    held.amount,
                );
            }
        }
    }
}

/// Removes and returns the hold of `metric` for buyer `bi` on `call`.
pub(super) fn unhold(
    holds: &mut FxHashMap<Arc<str>, Vec<Held>>,
    call: &str,
    bi: u32,
    metric: Metric,
) -> Option<Held> {
    let hs = holds.get_mut(call)?;
    let i = hs
        .iter()
        .position(|h| h.index == bi && h.metric == metric)?;
    let held = hs.swap_remove(i);
    if hs.is_empty() {
        holds.remove(call);
    }
    Some(held)
}

impl Held {
    /// Where the buyer's hold was counted, and how much.
    pub(super) fn buyer_part(&self) -> (&[DateTime<Utc>; 4], i64) {
        (&self.buyer, self.amount)
    }

    /// Where the hold was counted for `group`, and how much.
    pub(super) fn group_part(&self, group: usize) -> Option<(&[DateTime<Utc>; 4], i64)> {
        self.groups
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, s)| (s, self.amount))
    }
}

/// Adds `amount` to the windows that started at `starts`, and to the total.
fn add_held(usage: &mut Usage, starts: &[DateTime<Utc>; 4], metric: Metric, amount: i64) {
    super::add_to_windows(usage, *starts, metric, amount);
}

/// Takes `amount` back from the windows still in the instance a hold was counted in, and from
/// the total (never below 0).
fn take_held(usage: &mut Usage, starts: &[DateTime<Utc>; 4], metric: Metric, amount: i64) {
    for (window, start) in RESETTING.into_iter().zip(starts) {
        let counters = usage.window_mut(window);
        if let Some(c) = counters.get(metric)
            && c.since == Some(*start)
        {
            counters.set(
                metric,
                Some(Counter {
                    value: c.value.saturating_sub(amount).max(0),
                    since: c.since,
                }),
            );
        }
    }
    let total = usage.window_mut(Window::Total);
    if let Some(c) = total.get(metric) {
        total.set(
            metric,
            Some(Counter {
                value: c.value.saturating_sub(amount).max(0),
                since: None,
            }),
        );
    }
}

/// [`super::add_to_windows`] for a count a hold of `held` stood in for: windows still in the
/// hold's instance (and the total) already have the held amount and get the difference; a
/// window that has reset since gets the whole amount.
pub(super) fn add_replacing(
    usage: &mut Usage,
    starts: [DateTime<Utc>; 4],
    held: Option<(&[DateTime<Utc>; 4], i64)>,
    metric: Metric,
    amount: i64,
) {
    let Some((held, held_amount)) = held else {
        super::add_to_windows(usage, starts, metric, amount);
        return;
    };
    let difference = amount.saturating_sub(held_amount);
    for ((window, start), held_start) in RESETTING.into_iter().zip(starts).zip(held) {
        if start != *held_start {
            super::add_to_window(usage, window, start, metric, amount);
        } else if difference != 0 {
            super::add_to_window(usage, window, start, metric, difference);
        }
    }
    if difference != 0 {
        let total = usage.window_mut(Window::Total);
        let value = total
            .get(metric)
            .map_or(0, |c| c.value)
            .saturating_add(difference)
            .max(0);
        total.set(metric, Some(Counter { value, since: None }));
    }
}
