//! parkway: a pay-per-call buyer router for FreeSWITCH.
//!
//! The map of the crate is `../shared/DESIGN.md`: `esl` speaks the event socket, `config` turns TOML
//! into a validated model, `routing` is the pure decision core, and `sim` is a simulated FreeSWITCH
//! that the demo, the tests and the benchmarks run against. `calls` runs parked calls through them
//! (the daemon), and `billing` turns what happened on a call into conversions, payouts and the
//! counters routing reads.

pub mod billing;
pub mod calls;
pub mod config;
pub mod demo;
pub mod esl;
pub mod routing;
pub mod sim;
pub mod splitmix;
pub mod whisper;
