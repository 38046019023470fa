//! A simulated FreeSWITCH.
//!
//! Two halves that the socket server joins:
//! - [`engine`]: a deterministic switch (channels, dialplan, applications, dial strings with
//!   simultaneous and sequential legs, whisper playback, api commands, CDRs), driven in virtual
//!   time with a seed and held to the real captures in `captures/`;
//! - [`peer`]: the event-socket side, which speaks ESL byte for byte as the captures show (auth,
//!   replies, `api/response`, plain/json events, background jobs, disconnect notices, outbound
//!   `connect`) and can be told to misbehave (drop the socket, also mid-frame; stall; send
//!   garbage; hold and reorder job results; answer `api` slowly; refuse by ACL).

//! - [`server`]: the two joined on a real socket ([`SimSwitch`]), with [`scenario`]s placing
//!   calls; `parkway sim` runs it standalone.

mod driver;
pub mod engine;
pub mod peer;
mod request;
pub mod scenario;
pub mod server;
mod session;
mod state;
pub mod wire;

pub use driver::TimeMode;

/// Events a real FreeSWITCH sends that this simulator never emits (the crate's README.md, "What it
/// does not model"): comparisons with the captures leave them out.
pub const NOT_EMITTED: &[&str] = &[
    "CODEC",
    "CALL_UPDATE",
    "PRIVATE_COMMAND",
    "RECV_RTCP_MESSAGE",
    "HEARTBEAT",
    "RE_SCHEDULE",
    "RECV_INFO",
    "API",
];
pub use peer::{
    Behaviour, DropMode, EventCounts, JobOrder, PeerConfig, PeerHandle, ReceivedCommand, TestPeer,
};
pub use server::{SimConfig, SimHandle, SimSwitch};
