//! The output of routing: an ordered dial plan and a typed reason for every buyer left out.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde::{Serialize, Serializer};

use super::filter::Op;
use super::usage::Metric;
use super::zonetime::Window;

/// A buyer, group or router id: cheap to clone into decisions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(Arc<str>);

impl Id {
    pub fn new(s: &str) -> Id {
        Id(Arc::from(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

fn ser_arc_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// How a router orders its plan (and a group its members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Lower tier first; inside a tier, weighted random by weight.
    Tier,
    /// Highest per-call bid first.
    Revenue,
    /// Highest earnings per call (with a prior) first.
    Epc,
}

/// How a group step dials its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupMode {
    /// All members at once; the first to answer wins.
    Simultaneous,
    /// One after another, in plan order.
    Sequential,
}

/// Who a cap, pause or pacing rule belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Scope {
    Buyer,
    Group(Id),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Buyer => f.write_str("buyer"),
            Scope::Group(id) => write!(f, "group {id}"),
        }
    }
}

/// Why a buyer is not in the plan. Each buyer gets the first reason found, checking in this order:
/// paused, suppressed, token filters, hours, caps (buyer, then group), pacing, duplicates.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    Paused {
        by: Scope,
    },
    TokenMismatch {
        #[serde(serialize_with = "ser_arc_str")]
        token: Arc<str>,
        op: Op,
        #[serde(serialize_with = "ser_arc_str")]
        expected: Arc<str>,
        actual: Option<String>,
    },
    OutsideHours {
        opens_at: Option<DateTime<FixedOffset>>,
    },
    /// `used` and `limit` are counts, or minor units for revenue. `window` is `None` for concurrency.
    OverCap {
        scope: Scope,
        metric: Metric,
        window: Option<Window>,
        used: i64,
        limit: i64,
        resets_at: Option<DateTime<FixedOffset>>,
    },
    /// Even pacing: at minute `m` of the hour at most `ceil(limit × (m+1) / 60)` may have been used.
    Paced {
        scope: Scope,
        metric: Metric,
        used: i64,
        allowed_now: i64,
    },
    Suppressed {
        #[serde(serialize_with = "ser_arc_str")]
        list: Arc<str>,
    },
    Duplicate {
        scope: super::duplicate::DuplicateScope,
        previous_at: DateTime<FixedOffset>,
        window_secs: u64,
    },
}

/// A buyer that is not in the plan, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeftOut {
    pub buyer: Id,
    #[serde(flatten)]
    pub reason: Reason,
}

/// What ranked a step where it is (for explain and logs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rank {
    pub tier: u32,
    pub weight: u32,
    /// Per-call bid, minor units.
    pub bid: i64,
    /// Earnings per call with the prior, minor units (rounded down; ranking uses the exact ratio).
    pub epc: i64,
}

/// One step of the dial plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "lowercase")]
pub enum Step {
    Buyer {
        id: Id,
        rank: Rank,
    },
    Group {
        id: Id,
        mode: GroupMode,
        /// Eligible members in dial order (for simultaneous groups, the order of the dial string).
        members: Vec<Id>,
        /// The rank of the best member, which placed the group.
        rank: Rank,
    },
}

impl Step {
    pub fn id(&self) -> &Id {
        match self {
            Step::Buyer { id, .. } | Step::Group { id, .. } => id,
        }
    }

    /// The buyers this step dials.
    pub fn buyers(&self) -> Vec<&Id> {
        match self {
            Step::Buyer { id, .. } => vec![id],
            Step::Group { members, .. } => members.iter().collect(),
        }
    }
}

/// The decision for one call on one router.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub router: Id,
    pub algorithm: Algorithm,
    pub plan: Vec<Step>,
    pub left_out: Vec<LeftOut>,
}

impl Decision {
    /// Every buyer the plan dials, in order.
    pub fn planned_buyers(&self) -> Vec<&Id> {
        self.plan.iter().flat_map(Step::buyers).collect()
    }

    pub fn reason_for(&self, buyer: &str) -> Option<&Reason> {
        self.left_out
            .iter()
            .find(|l| &*l.buyer == buyer)
            .map(|l| &l.reason)
    }
}
