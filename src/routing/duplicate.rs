//! Duplicate callers: the hook billing fills in.
//!
//! A buyer's duplicate rule says what a repeat call from the same caller within a window earns.
//! The scope says what "repeat" means: the same caller to this **buyer**, to this **router**
//! (campaign), or to **any** buyer of any router. With action `reroute` routing leaves the buyer out
//! (the caller goes to someone else); with `no-pay` the buyer still gets the call and billing pays
//! nothing for it, so routing ignores that rule.
//!
//! Routing asks through [`DuplicateCheck`], which the ledger implements; [`NoDuplicates`] is the
//! default and [`InMemoryDuplicates`] serves tests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a repeat caller is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateScope {
    Buyer,
    Router,
    Any,
}

/// What happens to a repeat caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicateAction {
    /// Route as usual; billing pays nothing for the repeat.
    NoPay,
    /// Leave this buyer out for the repeat caller.
    Reroute,
}

/// A buyer's duplicate rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DuplicateRule {
    pub scope: DuplicateScope,
    pub window_secs: u64,
    pub action: DuplicateAction,
}

/// Answers "when did this caller last reach this scope, since `since`?".
pub trait DuplicateCheck {
    /// The most recent earlier call of `caller` (normalised digits) in `scope` at or after `since`,
    /// relative to `buyer` and `router`.
    fn previous(
        &self,
        caller: u64,
        buyer: &str,
        router: &str,
        scope: DuplicateScope,
        since: DateTime<Utc>,
    ) -> Option<DateTime<Utc>>;
}

/// No history: nobody is ever a duplicate.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDuplicates;

impl DuplicateCheck for NoDuplicates {
    fn previous(
        &self,
        _: u64,
        _: &str,
        _: &str,
        _: DuplicateScope,
        _: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        None
    }
}

/// One earlier call, for [`InMemoryDuplicates`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastCall {
    pub caller: u64,
    pub buyer: String,
    pub router: String,
    pub at: DateTime<Utc>,
}

/// A list of earlier calls, searched linearly: for tests and small demos.
#[derive(Debug, Clone, Default)]
pub struct InMemoryDuplicates {
    pub calls: Vec<PastCall>,
}

impl DuplicateCheck for InMemoryDuplicates {
    fn previous(
        &self,
        caller: u64,
        buyer: &str,
        router: &str,
        scope: DuplicateScope,
        since: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.calls
            .iter()
            .filter(|c| c.caller == caller && c.at >= since)
            .filter(|c| match scope {
                DuplicateScope::Buyer => c.buyer == buyer,
                DuplicateScope::Router => c.router == router,
                DuplicateScope::Any => true,
            })
            .map(|c| c.at)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_scopes() {
        let at: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        let d = InMemoryDuplicates {
            calls: vec![PastCall {
                caller: 13105550100,
                buyer: "b1".into(),
                router: "r1".into(),
                at,
            }],
        };
        let since: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
        let q = |buyer, router, scope| d.previous(13105550100, buyer, router, scope, since);
        assert_eq!(q("b1", "r2", DuplicateScope::Buyer), Some(at));
        assert_eq!(q("b2", "r1", DuplicateScope::Buyer), None);
        assert_eq!(q("b2", "r1", DuplicateScope::Router), Some(at));
        assert_eq!(q("b2", "r2", DuplicateScope::Router), None);
        assert_eq!(q("b2", "r2", DuplicateScope::Any), Some(at));
        let later: DateTime<Utc> = "2026-11-25T11:00:00Z".parse().unwrap();
        assert_eq!(
            d.previous(13105550100, "b1", "r1", DuplicateScope::Any, later),
            None
        );
        assert_eq!(
            NoDuplicates.previous(1, "b", "r", DuplicateScope::Any, since),
            None
        );
    }
}
