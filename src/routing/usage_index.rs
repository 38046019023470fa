//! A usage snapshot resolved against a config's buyers, once per snapshot.
//!
//! [`UsageSnapshot`] is keyed by id: a decision that reads it probes a string-keyed map once per
//! capped buyer, and over thousands of buyers those probes (the bucket, the key text, the boxed
//! entry, each in its own cache line) were most of the decision. [`ResolvedUsage`] reads every
//! buyer's entry once and lays out, by buyer index, exactly what the simple caps of the config's
//! [`HotView`] compare: the concurrency, and the counter of each flat cap rule. A caller that
//! decides many calls against one snapshot resolves it once and passes it to
//! [`Decider::decide_resolved`](super::decide::Decider::decide_resolved).
//!
//! It borrows the snapshot, so the snapshot cannot change while it exists; it remembers which hot
//! view it was laid out for, and a decision on any other view reads the snapshot directly.

use super::hot::{self, HotView};
use super::usage::{Counter, Usage, UsageSnapshot};

/// A [`UsageSnapshot`] laid out by buyer index for one config.
#[derive(Debug)]
pub struct ResolvedUsage<'a> {
    pub(crate) snapshot: &'a UsageSnapshot,
    pub(crate) hot: &'a HotView,
    /// Per buyer: its entry, if it has one.
    pub(crate) buyers: Vec<Option<&'a Usage>>,
    /// Per buyer: calls up now (0 without an entry).
    pub(crate) concurrency: Vec<u32>,
    /// Aligned with the hot view's flat cap rules: the counter each rule compares.
    pub(crate) rule_counters: Vec<Option<Counter>>,
}

impl UsageSnapshot {
    /// Resolves the snapshot against the buyers `hot` lays out (one lookup per buyer).
    pub fn resolve<'a>(&'a self, hot: &'a HotView) -> ResolvedUsage<'a> {
        let mut r = ResolvedUsage {
            snapshot: self,
            hot,
            buyers: Vec::with_capacity(hot.buyers.len()),
            concurrency: Vec::with_capacity(hot.buyers.len()),
            rule_counters: vec![None; hot.cap_rules.len()],
        };
        for hb in &hot.buyers {
            let usage = if self.buyers.is_empty() {
                None
            } else {
                self.buyer(&hb.id)
            };
            r.buyers.push(usage);
            r.concurrency.push(usage.map_or(0, |u| u.concurrency));
            if hb.flags & hot::CAPS_SIMPLE != 0
                && let Some(u) = usage
            {
                let start = hb.caps_start as usize;
                for (k, rule) in hot.cap_rules_of(hb).iter().enumerate() {
                    r.rule_counters[start + k] = u.window(rule.window).get(rule.metric);
                }
            }
        }
        r
    }
}

impl ResolvedUsage<'_> {
    /// Whether this was laid out for `hot`.
    pub(crate) fn fits(&self, hot: &HotView) -> bool {
        std::ptr::eq(self.hot, hot)
    }
}
