//! The simulated switch on a real loopback socket: its bytes against the captures, its faults,
//! and `parkway-esl`'s client and outbound listener talking to it.

mod client;
mod conformance;
mod outbound;
mod server;
