//! Call control end to end: parkway's daemon against the simulated FreeSWITCH over a real
//! socket. Each test asserts the commands parkway sent, the call record and the counters.

#![allow(clippy::disallowed_methods, reason = "tests wait on the real clock")]

mod caps;
mod convert;
mod edges;
mod flows;
mod groups;
mod markers;
mod park_timer;
mod reconnect;
mod rig;
mod store;
mod whisper;
