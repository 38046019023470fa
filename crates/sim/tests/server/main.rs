//! The simulated switch on a real loopback socket: its bytes against the captures, its faults,
//! and `parkway-esl`'s client and outbound listener talking to it.

#![allow(clippy::disallowed_methods, reason = "tests wait on the real clock")]

mod client;
mod conformance;
mod outbound;
mod server;
