//! Repeat callers: converted calls remembered per caller, to apply a buyer's [`DuplicateRule`].
//!
//! Per caller (the [`normalize`](crate::routing::suppression::normalize)d number) the history keeps
//! the latest conversion per `(buyer, router)` pair: a rule only ever asks for the most recent one in
//! a scope, so older ones for the same pair add nothing. Memory is bounded by [`DuplicateHistory::prune`],
//! which the owner calls with `now − the longest duplicate window`.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::routing::duplicate::{DuplicateCheck, DuplicateRule, DuplicateScope};
use parkway_esl::fasthash::{FxHashMap, FxHashSet};

/// A repeat: the earlier conversion a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DuplicateHit {
    pub scope: DuplicateScope,
    pub previous_at: DateTime<Utc>,
    pub window_secs: u64,
}

#[derive(Debug, Clone)]
struct Seen {
    buyer: Arc<str>,
    router: Arc<str>,
    at: DateTime<Utc>,
}

/// Converted calls per caller.
#[derive(Debug, Clone, Default)]
pub struct DuplicateHistory {
    callers: FxHashMap<u64, Vec<Seen>>,
    /// Buyer and router ids, shared by every entry that names them.
    names: FxHashSet<Arc<str>>,
}

impl DuplicateHistory {
    /// Remembers that `caller` converted for `buyer` on `router` at `at`.
    pub fn record_conversion(&mut self, caller: u64, buyer: &str, router: &str, at: DateTime<Utc>) {
        let seen = self.callers.entry(caller).or_default();
        if let Some(s) = seen
            .iter_mut()
            .find(|s| &*s.buyer == buyer && &*s.router == router)
        {
            s.at = s.at.max(at);
            return;
        }
        let buyer = intern(&mut self.names, buyer);
        let router = intern(&mut self.names, router);
        seen.push(Seen { buyer, router, at });
    }

    /// Did this caller convert before, within the rule's window (at or after `now − window_secs`),
    /// in the rule's scope (same buyer / same router / any)? The most recent such conversion.
    pub fn check(
        &self,
        rule: &DuplicateRule,
        caller: u64,
        buyer: &str,
        router: &str,
        now: DateTime<Utc>,
    ) -> Option<DuplicateHit> {
        let since = window_start(now, rule.window_secs);
        self.previous(caller, buyer, router, rule.scope, since)
            .map(|previous_at| DuplicateHit {
                scope: rule.scope,
                previous_at,
                window_secs: rule.window_secs,
            })
    }

    /// Forgets conversions before `older_than` (and callers left with none).
    pub fn prune(&mut self, older_than: DateTime<Utc>) {
        self.callers.retain(|_, seen| {
            seen.retain(|s| s.at >= older_than);
            !seen.is_empty()
        });
        // An id stays interned while some entry holds it (the set's own reference is the 1).
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }

    /// Callers remembered.
    pub fn len(&self) -> usize {
        self.callers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.callers.is_empty()
    }
}

impl DuplicateCheck for DuplicateHistory {
    fn previous(
        &self,
        caller: u64,
        buyer: &str,
        router: &str,
        scope: DuplicateScope,
        since: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.callers
            .get(&caller)?
            .iter()
            .filter(|s| s.at >= since)
            .filter(|s| match scope {
                DuplicateScope::Buyer => &*s.buyer == buyer,
                DuplicateScope::Router => &*s.router == router,
                DuplicateScope::Any => true,
            })
            .map(|s| s.at)
            .max()
    }
}

/// `now − window_secs`, saturating at the earliest time (as routing computes it).
fn window_start(now: DateTime<Utc>, window_secs: u64) -> DateTime<Utc> {
    let window = Duration::try_seconds(i64::try_from(window_secs).unwrap_or(i64::MAX))
        .unwrap_or(Duration::MAX);
    now.checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn intern(names: &mut FxHashSet<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(n) = names.get(name) {
        return n.clone();
    }
    let n: Arc<str> = Arc::from(name);
    names.insert(n.clone());
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::duplicate::DuplicateAction;

    const CALLER: u64 = 13_105_550_100;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rule(scope: DuplicateScope, window_secs: u64) -> DuplicateRule {
        DuplicateRule {
            scope,
            window_secs,
            action: DuplicateAction::NoPay,
        }
    }

    #[test]
    fn scopes() {
        let mut h = DuplicateHistory::default();
        let at = t("2026-11-25T10:00:00Z");
        h.record_conversion(CALLER, "b1", "r1", at);
        let now = t("2026-11-25T10:30:00Z");
        let hit = |scope, buyer, router| h.check(&rule(scope, 3600), CALLER, buyer, router, now);
        let expect = |scope| {
            Some(DuplicateHit {
                scope,
                previous_at: at,
                window_secs: 3600,
            })
        };
        assert_eq!(
            hit(DuplicateScope::Buyer, "b1", "r2"),
            expect(DuplicateScope::Buyer)
        );
        assert_eq!(hit(DuplicateScope::Buyer, "b2", "r1"), None);
        assert_eq!(
            hit(DuplicateScope::Router, "b2", "r1"),
            expect(DuplicateScope::Router)
        );
        assert_eq!(hit(DuplicateScope::Router, "b1", "r2"), None);
        assert_eq!(
            hit(DuplicateScope::Any, "b9", "r9"),
            expect(DuplicateScope::Any)
        );
        assert_eq!(
            h.check(
                &rule(DuplicateScope::Any, 3600),
                CALLER + 1,
                "b1",
                "r1",
                now
            ),
            None,
            "another caller"
        );
    }

    #[test]
    fn window_edge_is_inclusive() {
        let mut h = DuplicateHistory::default();
        let at = t("2026-11-25T10:00:00Z");
        h.record_conversion(CALLER, "b1", "r1", at);
        let r = rule(DuplicateScope::Buyer, 3600);
        assert!(
            h.check(&r, CALLER, "b1", "r1", t("2026-11-25T11:00:00Z"))
                .is_some()
        );
        assert!(
            h.check(&r, CALLER, "b1", "r1", t("2026-11-25T11:00:01Z"))
                .is_none()
        );
        let forever = rule(DuplicateScope::Buyer, u64::MAX);
        assert!(
            h.check(&forever, CALLER, "b1", "r1", t("2099-01-01T00:00:00Z"))
                .is_some()
        );
    }

    #[test]
    fn most_recent_wins_and_pairs_are_kept_once() {
        let mut h = DuplicateHistory::default();
        h.record_conversion(CALLER, "b1", "r1", t("2026-11-25T09:00:00Z"));
        h.record_conversion(CALLER, "b2", "r1", t("2026-11-25T09:30:00Z"));
        h.record_conversion(CALLER, "b1", "r1", t("2026-11-25T10:00:00Z"));
        // Out of order: an older record does not move the latest back.
        h.record_conversion(CALLER, "b1", "r1", t("2026-11-25T08:00:00Z"));
        assert_eq!(h.callers[&CALLER].len(), 2);
        let now = t("2026-11-25T10:10:00Z");
        let prev = |scope, buyer| {
            h.check(&rule(scope, 86_400), CALLER, buyer, "r1", now)
                .map(|hit| hit.previous_at)
        };
        assert_eq!(
            prev(DuplicateScope::Buyer, "b2"),
            Some(t("2026-11-25T09:30:00Z"))
        );
        assert_eq!(
            prev(DuplicateScope::Any, "b2"),
            Some(t("2026-11-25T10:00:00Z"))
        );
    }

    #[test]
    fn prune_forgets_old_conversions_and_callers() {
        let mut h = DuplicateHistory::default();
        h.record_conversion(CALLER, "b1", "r1", t("2026-11-25T09:00:00Z"));
        h.record_conversion(CALLER, "b2", "r1", t("2026-11-25T11:00:00Z"));
        h.record_conversion(7, "b3", "r3", t("2026-11-25T08:00:00Z"));
        h.prune(t("2026-11-25T10:00:00Z"));
        assert_eq!(h.len(), 1);
        assert_eq!(h.callers[&CALLER].len(), 1);
        assert!(!h.names.contains("b1") && !h.names.contains("b3"));
        assert!(h.names.contains("b2") && h.names.contains("r1"));
        h.prune(t("2026-11-26T00:00:00Z"));
        assert!(h.is_empty() && h.names.is_empty());
    }

    #[test]
    fn routing_sees_the_history() {
        let mut h = DuplicateHistory::default();
        let at = t("2026-11-25T10:00:00Z");
        h.record_conversion(CALLER, "b1", "r1", at);
        let check: &dyn DuplicateCheck = &h;
        let since = t("2026-11-25T00:00:00Z");
        assert_eq!(
            check.previous(CALLER, "b1", "r1", DuplicateScope::Buyer, since),
            Some(at)
        );
        assert_eq!(
            check.previous(
                CALLER,
                "b1",
                "r1",
                DuplicateScope::Any,
                t("2026-11-25T10:00:01Z")
            ),
            None
        );
    }
}
