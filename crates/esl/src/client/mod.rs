//! The event-socket client: one task (the connection actor, `actor.rs`) owns the socket; an
//! [`EslClient`] is a cheap `Clone` handle that talks to it through a bounded channel and gets its
//! answers back through oneshots.
//!
//! - Replies carry no id: `command/reply` and `api/response` are matched to commands in the order
//!   sent. The actor pushes the pending slot before it writes the command's bytes and never
//!   removes a slot because its caller gave up (timed out, dropped its future): the reply is still
//!   consumed and thrown away, so nobody else's answer shifts. A reply with no slot, or an
//!   `api/response` for a non-`api` command, means the stream is out of step: the connection fails.
//!   (A `command/reply` to an `api` is FreeSWITCH refusing it, e.g. before auth: that caller gets
//!   [`EslError::CommandFailed`].)
//! - `bgapi` picks its own `Job-UUID`, registers the job before sending, and resolves from the
//!   `BACKGROUND_JOB` event with that id (results come back in any order). The event is consumed by
//!   the job and not delivered to the stream. FreeSWITCH only sends it when `BACKGROUND_JOB` (or
//!   `ALL`) is subscribed, and a `filter` on a header the event lacks (`Unique-ID`, say) drops it:
//!   such a job never completes. Every job has a deadline (`ClientOptions::job_timeout`, or
//!   [`BackgroundJob::result_within`]) after which its caller gets [`EslError::JobTimeout`].
//! - When the socket dies (EOF, I/O error, a frame cut short, out of step, final disconnect
//!   notice, shutdown) every pending `api`/`command`/`bgapi` fails with
//!   [`EslError::Disconnected`]; the reason is in [`EslClient::closed`].
//! - Events go to a bounded [`EventStream`]. The reader never waits on the consumer: when the queue
//!   is full the event is dropped, counted in [`ClientStats`] (`events_dropped`) and logged at warn
//!   at most once a second with the count since the last warning. Disconnect notices travel the
//!   same queue (and can be dropped with it), but [`EslClient::state`] and
//!   [`EslClient::closed`] always record them.
//!
//! [`supervisor`] reconnects with backoff and replays subscriptions;
//! [`outbound`](crate::outbound) reuses the same actor for sockets that FreeSWITCH opens.

mod actor;
mod arrival;
mod error;
mod handle;
pub mod supervisor;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::event::Event;
use crate::message::DisconnectNotice;

pub use crate::event::JobResult;
pub use crate::message::Reply;
pub use error::EslError;
pub use handle::{BackgroundJob, EslClient, connect};
pub use supervisor::{
    AuthFailurePolicy, Heartbeat, Supervisor, SupervisorConfig, connect_supervised,
};

pub(crate) use arrival::Stamped;
pub(crate) use handle::{handshake_message, spawn_connection};

/// How a connection is set up. `Default` gives fresh stats, token and tracker; clones share them.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Limit for opening the TCP connection plus the handshake (auth, or outbound `connect`).
    pub connect_timeout: Duration,
    /// Capacity of the event queue. When it is full, events are dropped and counted.
    pub event_capacity: usize,
    /// Capacity of the handle → actor request queue. When it is full, callers wait (their own
    /// timeout bounds the wait); the actor drains it as fast as the socket takes bytes.
    pub request_capacity: usize,
    /// How long a `bgapi` job may wait for its BACKGROUND_JOB (counted from when it is queued).
    /// After that the caller gets [`EslError::JobTimeout`] and the job is forgotten; a result
    /// that comes later goes to the event stream like any unclaimed BACKGROUND_JOB. Generous by
    /// default (10 minutes): an `originate` can ring for minutes.
    pub job_timeout: Duration,
    /// Seed for Job-UUIDs and Event-UUIDs; `None` seeds from the OS hasher keys and the clock.
    /// A supervisor gives each generation its own stream of this seed
    /// ([`stream_seed`](crate::splitmix::stream_seed)), so generations never repeat an id.
    pub uuid_seed: Option<u64>,
    /// Cancelling it closes the connection (pending calls fail with `Disconnected`).
    pub cancel: CancellationToken,
    /// The connection task is spawned on it, so the owner can wait for it at shutdown.
    pub tracker: TaskTracker,
    /// Counters; share one between connections to count across reconnects.
    pub stats: Arc<ClientStats>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            event_capacity: 10_000,
            request_capacity: 1024,
            job_timeout: Duration::from_secs(600),
            uuid_seed: None,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            stats: Arc::new(ClientStats::default()),
        }
    }
}

/// What the event stream carries.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// An event from FreeSWITCH (BACKGROUND_JOBs of pending `bgapi` jobs excluded), and when
    /// its last byte was read off the socket (latency is measured from there).
    Event(Event, std::time::Instant),
    /// A `text/disconnect-notice`. `linger: true`: the channel hung up, its last events are still
    /// coming and the socket stays open; otherwise the connection is about to close.
    Notice(DisconnectNotice),
    /// Supervisor only: connection `generation` is authenticated and its subscriptions are
    /// queued (their replies may still be on the way); [`Supervisor`] calls already reach it and
    /// are answered after the subscriptions. Anything learned before is stale: reconcile live
    /// calls (`show channels as json`) before acting. If a subscription is refused,
    /// `Disconnected` for this generation follows.
    Connected {
        /// 1 for the first connection, one more for each after it.
        generation: u64,
    },
    /// Supervisor only: connection `generation` is gone; its pending calls and jobs have failed.
    Disconnected {
        /// The generation that ended.
        generation: u64,
        /// Why it ended.
        reason: CloseReason,
    },
    /// Supervisor only: attempt `attempt` to connect failed; the next one is in `retry_in`.
    ConnectFailed {
        /// Attempts since the supervisor started, or since a connection last authenticated
        /// and subscribed, this one included.
        attempt: u32,
        /// Why this attempt failed (`AuthFailed`, `Rejected`, `Io`, `Timeout`, …).
        error: EslError,
        /// The wait before the next attempt (`backoff_max` after a refused password or
        /// address).
        retry_in: Duration,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloseReason {
    /// FreeSWITCH closed the socket without a notice.
    #[error("socket closed by peer")]
    Eof,
    /// A final (not linger) `text/disconnect-notice`.
    #[error("disconnect notice")]
    Notice(DisconnectNotice),
    /// I/O error, bad framing, out of step, rude rejection.
    #[error(transparent)]
    Error(EslError),
    /// Our side closed it: cancellation token, `exit`, or every handle dropped.
    #[error("shut down")]
    Shutdown,
}

/// Where a connection stands, as the handle sees it.
#[derive(Debug, Clone)]
pub enum ConnState {
    /// The socket is open and its connection task is running.
    Open,
    /// A linger notice came: the channel is gone, the socket stays open for its last events.
    Lingering(DisconnectNotice),
    /// The connection has ended, for this reason.
    Closed(CloseReason),
}

/// Counters, shared by the actor(s) and every handle.
#[derive(Debug, Default)]
pub struct ClientStats {
    events_received: AtomicU64,
    events_dropped: AtomicU64,
    reconnects: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Every event read from the socket (including job results).
    pub events_received: u64,
    /// Events thrown away because the event queue was full.
    pub events_dropped: u64,
    /// Connections opened by a supervisor after its first one.
    pub reconnects: u64,
}

impl ClientStats {
    /// The counters at this moment.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            events_received: self.events_received.load(Ordering::Relaxed),
            events_dropped: self.events_dropped.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Events thrown away because the event queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    fn count_received(&self) {
        self.events_received.fetch_add(1, Ordering::Relaxed);
    }

    fn count_dropped(&self) {
        self.events_dropped.fetch_add(1, Ordering::Relaxed);
    }

    fn count_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// The receiving end of the event queue (bounded; see the module docs for the full policy).
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<ClientEvent>,
}

impl EventStream {
    pub(crate) fn new(rx: mpsc::Receiver<ClientEvent>) -> EventStream {
        EventStream { rx }
    }

    /// The next item; `None` once every sender (actor, supervisor) is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.rx.recv().await
    }

    /// The next FreeSWITCH event, skipping notices and connection changes.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let ClientEvent::Event(e, _) = self.rx.recv().await? {
                return Some(e);
            }
        }
    }

    /// The next item if one is waiting; `None` when the queue is empty (or closed).
    pub fn try_recv(&mut self) -> Option<ClientEvent> {
        self.rx.try_recv().ok()
    }

    /// Items waiting in the queue.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no item is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

impl futures_util::Stream for EventStream {
    type Item = ClientEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        self.rx.poll_recv(cx)
    }
}
