//! A simulated FreeSWITCH on a real loopback socket.
//!
//! For now this is the event-socket peer ([`peer`]): it speaks ESL byte-for-byte as the captures
//! in `tests/data/` show (auth, replies, `api/response`, plain/json events, background jobs,
//! disconnect notices, outbound `connect`) and can be told to misbehave (drop the socket, also
//! mid-frame; stall; send garbage; hold and reorder job results; answer `api` slowly; refuse by
//! ACL). Calls, dial strings and whisper playback grow on top of it.

pub mod peer;
mod session;
pub mod wire;

pub use peer::{Behaviour, DropMode, JobOrder, PeerConfig, PeerHandle, ReceivedCommand, TestPeer};
