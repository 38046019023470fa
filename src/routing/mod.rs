//! The routing engine: a pure decision core.
//!
//! Given a call's [`Tokens`], a [`Router`](crate::config::Router) with its buyers, their
//! [`UsageSnapshot`] and the time, [`decide`] returns a [`Decision`]: who is dialled, in what order,
//! and a typed [`Reason`] for every buyer left out. Nothing here reads a clock, a file or a socket;
//! randomness comes in through [`RandomSource`].
//!
//! Files, one idea each: `tokens` and `area_codes` (what the call carries), `filter` (token filters),
//! `schedule` and `zonetime` (hours and windows in the buyer's zone), `caps` (caps and pacing),
//! `usage` (counters), `suppression` and `duplicate` (caller lists and the repeat-caller hook),
//! `rank` (ordering), `decide` (the pipeline; `decide/check` one buyer), `hot` (the buyers as a
//! decision reads them, built at config load), `usage_index` (usage resolved by buyer index),
//! `decision` (its output), `explain` (text).

pub mod area_codes;
pub mod caps;
pub mod decide;
pub mod decision;
pub mod duplicate;
pub mod explain;

pub mod filter;
pub mod hot;
pub mod rank;
pub mod rng;
pub mod schedule;
pub mod suppression;
pub mod token_types;
pub mod tokens;
pub mod usage;
pub mod usage_index;
pub mod zonetime;

pub use decide::{Decider, decide, decide_with};
pub use decision::{Algorithm, Decision, GroupMode, Id, LeftOut, Rank, Reason, Scope, Step};
pub use duplicate::{DuplicateCheck, InMemoryDuplicates, NoDuplicates};
pub use rng::{RandomSource, SplitMix64};
pub use tokens::{CallerFields, Tokens};
pub use usage::{Metric, UsageSnapshot};
pub use usage_index::ResolvedUsage;
pub use zonetime::Window;
