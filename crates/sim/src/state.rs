//! What the server's sessions and its handle share: how the peer behaves, the control messages
//! a handle sends a session, the sessions' table and the event counters.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::request::Request;
use parkway_esl::command::Command;
use parkway_esl::event::Event;
use parkway_esl::splitmix::SharedSplitMix64;

/// How the peer behaves towards new commands; change it at any time with
/// [`PeerHandle::set_behaviour`].
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Answer every new connection with `text/rude-rejection` and close (ACL refusal).
    pub reject: bool,
    /// Answer every new connection with a final disconnect notice and close.
    pub notice_on_accept: bool,
    /// Sleep this long before each `api/response` (FreeSWITCH's socket is blocked meanwhile).
    pub api_delay: Duration,
    /// Keep BACKGROUND_JOB results until [`PeerHandle::release_jobs`].
    pub hold_jobs: bool,
    /// Canned `api` outputs by full command text (`"status"`, `"uuid_exists x"`); besides these
    /// the peer knows `echo <text>` (answers `<text>`).
    pub api_responses: HashMap<String, String>,
}

/// How the peer starts.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub password: String,
    pub behaviour: Behaviour,
    /// Seed of generated Job-UUIDs and of the `Shuffled` job order.
    pub seed: u64,
}

impl Default for PeerConfig {
    fn default() -> PeerConfig {
        PeerConfig {
            password: "ClueCon".to_owned(),
            behaviour: Behaviour::default(),
            seed: 1,
        }
    }
}

/// In which order held job results are released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOrder {
    AsSubmitted,
    Reversed,
    /// A seeded shuffle (the peer's seed).
    Shuffled,
}

/// How [`PeerHandle::drop_connections`] ends sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropMode {
    /// Close the socket between frames.
    Clean = 1,
    /// Write the start of a frame, then close.
    MidFrame = 2,
}

/// One command as the peer read it.
#[derive(Debug, Clone)]
pub struct ReceivedCommand {
    /// Connection number (1 for the first connection accepted or placed).
    pub conn: u64,
    pub command: Command,
}

pub(crate) enum Control {
    Event(Arc<Event>),
    Raw(Bytes),
    HoldOutput(bool),
    Stall(bool),
    ReleaseJobs(JobOrder),
    /// Outbound: the channel's hangup is complete (linger notice if lingering, else the final
    /// notice); its later events no longer reach the socket.
    Hangup,
    /// Inbound: send the final notice and close.
    Goodbye,
    Sync(oneshot::Sender<()>),
}

/// Event traffic through the sessions, summed over them (the demo's barrier reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventCounts {
    /// Events queued to a session.
    pub offered: u64,
    /// Queued events a session has finished with (written, or not wanted by its subscription).
    pub done: u64,
    /// Events written to a socket.
    pub written: u64,
}

#[derive(Debug, Default)]
pub(crate) struct EventCounters {
    pub(crate) offered: AtomicU64,
    pub(crate) done: AtomicU64,
    pub(crate) written: AtomicU64,
}

pub(crate) struct SessionEntry {
    pub(crate) control: mpsc::Sender<Control>,
    pub(crate) kill: CancellationToken,
    pub(crate) kill_mode: Arc<AtomicU8>,
    /// Events that found this session's queue full (see [`PeerHandle::deliver_now`]).
    pub(crate) failed_enqueues: u32,
}

pub(crate) struct Shared {
    pub(crate) password: String,
    pub(crate) behaviour: Mutex<Arc<Behaviour>>,
    pub(crate) ids: SharedSplitMix64,
    pub(crate) sequence: AtomicU64,
    pub(crate) received: Mutex<Vec<ReceivedCommand>>,
    /// Event traffic through the sessions (see [`EventCounts`]).
    pub(crate) counts: EventCounters,
    pub(crate) sessions: Mutex<HashMap<u64, SessionEntry>>,
    pub(crate) next_conn: AtomicU64,
    /// Bumped on every received command and every session start or end.
    pub(crate) changes: watch::Sender<u64>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    /// The simulated switch's engine, when this peer is a [`super::SimSwitch`]: `api`, `bgapi`
    /// and `sendmsg` go to it instead of the canned answers.
    pub(crate) engine: Option<mpsc::Sender<Request>>,
    /// Keep every received command (tests); a long-running server does not.
    pub(crate) record: bool,
    /// Capacity of each session's control queue.
    pub(crate) control_capacity: usize,
}

impl Shared {
    pub(crate) fn behaviour(&self) -> Arc<Behaviour> {
        self.behaviour.lock().clone()
    }

    pub(crate) fn record(&self, conn: u64, command: Command) {
        if self.record {
            self.received.lock().push(ReceivedCommand { conn, command });
        }
        self.changes.send_modify(|n| *n += 1);
    }

    pub(crate) fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn session_ended(&self, conn: u64) {
        self.sessions.lock().remove(&conn);
        self.changes.send_modify(|n| *n += 1);
    }
}
