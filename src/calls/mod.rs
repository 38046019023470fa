//! Call control: park → route → dial → whisper → bridge → convert.
//!
//! - `switchboard`: the call state machine over every live call (pure: events and `now` in,
//!   [`Action`]s out), with the counters ([`crate::billing::Ledger`]) and the duplicate history.
//! - `call`: one call's state; `dial`: a plan step as a `bridge` dial string; `record`: what a
//!   finished call leaves behind.
//! - [`SwitchEvent`]: the events the switchboard reads (the daemon's subscription); [`App`]: the
//!   applications it runs on a caller's channel.
//! - `driver`: [`Daemon`], which runs the switchboard over a supervised event socket connection
//!   (`parkway run`, `parkway demo`).
//!
//! How FreeSWITCH is driven (as `captures/group_simultaneous.md` and `group_sequential.md`
//! show): every step is one `bridge` executed on the parked caller with `sendmsg` (after `set
//! hangup_after_bridge=true`), so FreeSWITCH rings the legs (`,` at once, `|` in turn), plays the caller ringback, plays the
//! buyer the whisper (`group_confirm_*`), cancels buyer legs when the caller leaves and reports
//! every leg's hangup cause. Each leg's uuid is chosen here (`origination_uuid`), so its events,
//! DTMF included, are matched by `Unique-ID`.

mod app;
mod call;
pub mod dial;
pub mod driver;
pub mod record;
mod switch_event;
pub mod switchboard;

pub use app::App;
pub use call::{RenderedWhisper, WhisperRequest};
pub use driver::{Daemon, DaemonCounts, DaemonOptions};
pub use record::{Attempt, CallRecord, Disposition, FallbackReason, LegOutcome};
pub use switch_event::SwitchEvent;
pub use switchboard::{Action, Switchboard, Totals};
