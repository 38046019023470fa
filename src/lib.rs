//! parkway: a pay-per-call buyer router for FreeSWITCH.
//!
//! The map is `ARCHITECTURE.md` at the repo root. In short: `config` turns TOML into a validated
//! model, `routing` is the pure decision core, `billing` the pure rules of conversions, payouts
//! and counters, `whisper` renders what a buyer hears, and `calls` runs parked calls through them
//! over the event socket (`parkway-esl`). `demo` drives the daemon against the simulated
//! FreeSWITCH (`parkway-sim`, the default `sim` feature).

pub mod billing;
pub mod calls;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
pub mod files;
pub mod routing;
pub mod store;
pub mod whisper;
