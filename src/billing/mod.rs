//! Billing: conversions, payouts, duplicate callers and the counters routing reads. PURE code: no
//! clocks, no I/O; `now` is always an argument.
//!
//! The rules, in one place:
//!
//! - **Conversion** ([`evaluate`]): `talk_time` converts when the talk time (bridge to hangup, the
//!   whisper excluded) is at least the rule's seconds; `keypress` when the buyer's leg sent the
//!   rule's digit (letters `A`–`D` compared without case); `any` when either holds; `all` when both
//!   hold. [`Conversion::by`] says which condition(s) did it.
//! - **Payout** ([`payout`]), in exact integer minor units of the config's currency:
//!   `per = "call"` pays the amount once when the call connected (the buyer was bridged);
//!   `per = "minute"` pays the amount per *started* minute of talk time, only when connected;
//!   `per = "conversion"` pays the amount once when the call converted; no payout pays zero.
//!   **Rounding rule**: minutes = ⌈talk_secs / 60⌉, so 0 s → 0 minutes, 1 s … 60 s → 1 minute,
//!   61 s → 2 minutes; payout = amount × minutes. Nothing is ever rounded in money: the product is
//!   an integer and saturates at the `i64` bounds instead of overflowing.
//! - **Duplicates** ([`DuplicateHistory`]): every converted call is remembered per normalised
//!   caller number with its buyer, router and time. A buyer's duplicate rule finds the most recent
//!   earlier conversion of the same caller within `window_secs` before `now`, in its scope (same
//!   buyer, same router, or any). What a hit means is the caller's choice by the rule's action:
//!   `no-pay` bills zero, `reroute` is applied by routing itself through
//!   [`crate::routing::DuplicateCheck`]. A `no-pay` repeat that converts still counts as a
//!   conversion in the buyer's counters (caps count calls delivered, not calls paid), and it
//!   does not restart the window: only paid conversions are remembered.
//! - **Talk time** is whole seconds from the bridge to the first hangup, the fraction dropped
//!   (as FreeSWITCH's `billsec`), before any per-minute rounding. **Transfers**: when the
//!   caller is transferred out of the bridge (the buyer's blind transfer or SIP REFER moves the
//!   caller on and drops the buyer's leg; the caller's hangup shows a `transfer_history` entry
//!   dated at or after the bridge), the caller is still on the line the buyer sent it to, so
//!   talk time runs from the bridge to the *caller's* hangup, as Ringba and TrackDrive count a
//!   call the buyer transfers (the record's `transferred_at` says so). A bridge that ends
//!   without a transfer (the buyer hangs up; the caller follows by `hangup_after_bridge`) ends
//!   the talk at the first hangup as before. When the bridge was not seen (socket down), its
//!   times come from the hangups' `bridge_uuid`, `bridge_uepoch`/`bridge_epoch` and
//!   `end_uepoch`/`end_epoch`.
//! - **Ledger** ([`Ledger`]): counts attempts, connections, conversions and revenue per buyer and per
//!   group in the hourly, daily, weekly, monthly and total windows of their own time zones, the
//!   concurrency of both, and each buyer's daily EPC buckets. Every buyer leg dialled is one
//!   attempt and one leg up/down, counted once per `(call, leg uuid)` (a buyer dialled twice in
//!   one call, in two steps or in a group and alone, is two attempts); connections, conversions
//!   and revenue count at most once per `(call, buyer)`. Repeated or replayed events never count
//!   twice. The result is a [`crate::routing::UsageSnapshot`] kept up to date in place.
//!
//! Files: `conversion` (rules), `payout` (money), `duplicates` (repeat callers), `ledger`
//! (counters; `ledger/windows` caches the window bounds per zone).

pub mod conversion;
pub mod duplicates;
pub mod ledger;
pub mod payout;

pub use conversion::{Conversion, ConvertedBy, TalkFacts, evaluate};
pub use duplicates::{DuplicateHistory, DuplicateHit};
pub use ledger::{Count, Ledger, Totals};
pub use payout::{expected_payout, payout, started_minutes};
