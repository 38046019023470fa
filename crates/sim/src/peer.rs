//! The switch's side of the event socket, for tests: a server on `127.0.0.1:0`, one task per
//! connection, and a [`PeerHandle`] to script it.
//!
//! ```text
//! let (addr, peer) = TestPeer::start(PeerConfig::default()).await?;
//! peer.emit_event(&event).await;          // to every session subscribed to it
//! peer.hold_output(); … peer.release_output();
//! peer.drop_connections(DropMode::MidFrame);
//! peer.wait_for_command(|c| c.command.line().starts_with("event")).await;
//! ```
//!
//! Control messages go to sessions through bounded channels (capacity 1024; the handle's async
//! methods wait for room). Sessions take control messages before socket input (`biased`), so a
//! control sent before a client's command is applied before that command is answered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::request::Request;
use super::session::{Session, SessionKind};
pub use super::state::{Behaviour, DropMode, EventCounts, JobOrder, PeerConfig, ReceivedCommand};
use super::state::{Control, EventCounters, SessionEntry, Shared};
use parkway_esl::event::Event;
use parkway_esl::splitmix::SharedSplitMix64;

/// Capacity of each session's control queue.
const CONTROL_CAPACITY: usize = 1024;

/// The server.
pub struct TestPeer;

impl TestPeer {
    /// Listens on `127.0.0.1:0` and serves inbound connections until the handle's
    /// [`shutdown`](PeerHandle::shutdown).
    pub async fn start(config: PeerConfig) -> std::io::Result<(SocketAddr, PeerHandle)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        PeerHandle::serve(listener, config, None, true, CONTROL_CAPACITY)
    }
}

impl PeerHandle {
    /// Serves `listener`; with `engine`, commands are answered by the simulated switch's engine.
    pub(crate) fn serve(
        listener: TcpListener,
        config: PeerConfig,
        engine: Option<mpsc::Sender<Request>>,
        record: bool,
        control_capacity: usize,
    ) -> std::io::Result<(SocketAddr, PeerHandle)> {
        let addr = listener.local_addr()?;
        let handle = PeerHandle {
            shared: Arc::new(Shared {
                password: config.password,
                behaviour: Mutex::new(Arc::new(config.behaviour)),
                ids: SharedSplitMix64::new(config.seed),
                sequence: AtomicU64::new(0),
                received: Mutex::new(Vec::new()),
                counts: EventCounters::default(),
                sessions: Mutex::new(HashMap::new()),
                next_conn: AtomicU64::new(0),
                changes: watch::channel(0).0,
                cancel: CancellationToken::new(),
                tracker: TaskTracker::new(),
                engine,
                record,
                control_capacity: control_capacity.max(1),
            }),
        };
        let accept = handle.clone();
        handle.shared.tracker.spawn(
            async move { accept.accept_loop(listener).await }
                .instrument(tracing::info_span!("sim_peer", %addr)),
        );
        Ok((addr, handle))
    }
}

/// Scripts a running peer. Cheap to clone.
#[derive(Clone)]
pub struct PeerHandle {
    shared: Arc<Shared>,
}

impl PeerHandle {
    async fn accept_loop(&self, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                _ = self.shared.cancel.cancelled() => return,
                a = listener.accept() => a,
            };
            match accepted {
                Ok((stream, _)) => {
                    self.spawn_session(stream, SessionKind::Inbound);
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            }
        }
    }

    fn spawn_session(&self, stream: TcpStream, kind: SessionKind) -> u64 {
        let conn = self.shared.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        let (control, control_rx) = mpsc::channel(self.shared.control_capacity);
        let kill = self.shared.cancel.child_token();
        let kill_mode = Arc::new(AtomicU8::new(DropMode::Clean as u8));
        self.shared.sessions.lock().insert(
            conn,
            SessionEntry {
                control,
                kill: kill.clone(),
                kill_mode: kill_mode.clone(),
                failed_enqueues: 0,
            },
        );
        self.shared.changes.send_modify(|n| *n += 1);
        let session = Session::new(
            conn,
            stream,
            kind,
            self.shared.clone(),
            control_rx,
            kill,
            kill_mode,
        );
        self.shared.tracker.spawn(
            session
                .run()
                .instrument(tracing::info_span!("sim_session", conn)),
        );
        conn
    }

    /// Outbound mode: connects to `addr` as FreeSWITCH's `socket` application does, waits for
    /// `connect` and answers it with `connect_reply` (a whole `command/reply` frame carrying the
    /// channel data, e.g. the first frame of `outbound_plain.recv`). Returns the connection number.
    pub async fn place_call(&self, addr: SocketAddr, connect_reply: Bytes) -> std::io::Result<u64> {
        let stream = TcpStream::connect(addr).await?;
        Ok(self.spawn_session(stream, SessionKind::Outbound { connect_reply }))
    }

    fn controls(&self) -> Vec<mpsc::Sender<Control>> {
        self.shared
            .sessions
            .lock()
            .values()
            .map(|s| s.control.clone())
            .collect()
    }

    async fn broadcast(&self, make: impl Fn() -> Control) {
        for control in self.controls() {
            let _ = control.send(make()).await;
        }
    }

    /// Offers `event` to every session without waiting, as FreeSWITCH's event thread does: a
    /// session whose queue is full loses the event, and after `max_failures` such losses it is
    /// dropped (FreeSWITCH kills a listener after 500 failed enqueues). Returns how many
    /// sessions were dropped.
    pub(crate) fn deliver_now(&self, event: &Arc<Event>, max_failures: u32) -> usize {
        let mut dropped = 0;
        for (conn, session) in self.shared.sessions.lock().iter_mut() {
            match session.control.try_send(Control::Event(event.clone())) {
                Ok(()) => {
                    self.shared.counts.offered.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    session.failed_enqueues += 1;
                    if session.failed_enqueues == max_failures {
                        tracing::warn!(conn, "listener too far behind; dropping it");
                        session.kill.cancel();
                        dropped += 1;
                    }
                }
            }
        }
        dropped
    }

    /// How many events the sessions were offered, finished with and wrote: a client that has
    /// read `written` events and sees `offered == done` has everything the switch has said.
    pub fn event_counts(&self) -> EventCounts {
        let c = &self.shared.counts;
        EventCounts {
            offered: c.offered.load(Ordering::Acquire),
            done: c.done.load(Ordering::Acquire),
            written: c.written.load(Ordering::Acquire),
        }
    }

    /// Sends a control message to one session without waiting (false: gone or full).
    pub(crate) fn control_now(&self, conn: u64, control: Control) -> bool {
        self.shared
            .sessions
            .lock()
            .get(&conn)
            .is_some_and(|s| s.control.try_send(control).is_ok())
    }

    pub(crate) fn tracker(&self) -> &TaskTracker {
        &self.shared.tracker
    }

    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.shared.cancel
    }

    /// Sends `event` to every authenticated session subscribed to it (subscriptions and filters
    /// as FreeSWITCH applies them), in the format each asked for.
    pub async fn emit_event(&self, event: &Event) {
        let event = Arc::new(event.clone());
        self.broadcast(|| Control::Event(event.clone())).await;
    }

    /// Writes raw bytes to every session: replayed capture frames, or garbage.
    pub async fn emit_raw(&self, bytes: Bytes) {
        self.broadcast(|| Control::Raw(bytes.clone())).await;
    }

    /// A fresh event sequence number (what `Event-Sequence` would say next).
    pub fn next_sequence(&self) -> u64 {
        self.shared.next_sequence()
    }

    /// Keeps everything sessions would write (replies, events) until `release_output`; commands
    /// are still read and recorded.
    pub async fn hold_output(&self) {
        self.broadcast(|| Control::HoldOutput(true)).await;
    }

    pub async fn release_output(&self) {
        self.broadcast(|| Control::HoldOutput(false)).await;
    }

    /// Stops reading and writing (a frozen switch) until [`resume`](PeerHandle::resume).
    pub async fn stall(&self) {
        self.broadcast(|| Control::Stall(true)).await;
    }

    pub async fn resume(&self) {
        self.broadcast(|| Control::Stall(false)).await;
    }

    /// Sends held BACKGROUND_JOB results in `order` (see `Behaviour::hold_jobs`).
    pub async fn release_jobs(&self, order: JobOrder) {
        self.broadcast(|| Control::ReleaseJobs(order)).await;
    }

    /// Outbound sessions: the channel hangs up (a linger notice when the client asked for
    /// `linger`, else the final notice and close).
    pub async fn hangup(&self) {
        self.broadcast(|| Control::Hangup).await;
    }

    /// Inbound sessions: the final disconnect notice, then close.
    pub async fn goodbye(&self) {
        self.broadcast(|| Control::Goodbye).await;
    }

    /// Returns once every session has handled everything sent to it before.
    pub async fn sync(&self) {
        let mut acks = Vec::new();
        for control in self.controls() {
            let (tx, rx) = oneshot::channel();
            if control.send(Control::Sync(tx)).await.is_ok() {
                acks.push(rx);
            }
        }
        for ack in acks {
            let _ = ack.await;
        }
    }

    /// Ends every session at once, also one blocked in a write or an api delay.
    pub fn drop_connections(&self, how: DropMode) {
        for session in self.shared.sessions.lock().values() {
            session.kill_mode.store(how as u8, Ordering::Relaxed);
            session.kill.cancel();
        }
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock() = Arc::new(behaviour);
    }

    pub fn behaviour(&self) -> Behaviour {
        (*self.shared.behaviour()).clone()
    }

    /// Every command read so far, in order.
    pub fn received_commands(&self) -> Vec<ReceivedCommand> {
        self.shared.received.lock().clone()
    }

    /// The command lines read on connection `conn`.
    pub fn lines_of(&self, conn: u64) -> Vec<String> {
        self.shared
            .received
            .lock()
            .iter()
            .filter(|r| r.conn == conn)
            .map(|r| r.command.line().to_owned())
            .collect()
    }

    /// Connections accepted or placed so far.
    pub fn connections(&self) -> u64 {
        self.shared.next_conn.load(Ordering::Relaxed)
    }

    /// Sessions still running.
    pub fn open_sessions(&self) -> usize {
        self.shared.sessions.lock().len()
    }

    /// Waits until `count` received commands satisfy `pred`.
    pub async fn wait_for_commands(
        &self,
        count: usize,
        pred: impl Fn(&ReceivedCommand) -> bool,
    ) -> Vec<ReceivedCommand> {
        self.wait_until(|| {
            let found: Vec<_> = self
                .shared
                .received
                .lock()
                .iter()
                .filter(|r| pred(r))
                .cloned()
                .collect();
            (found.len() >= count).then_some(found)
        })
        .await
    }

    /// Waits until `check` gives a value; re-checked on every command and session change.
    pub async fn wait_until<T>(&self, mut check: impl FnMut() -> Option<T>) -> T {
        let mut changes = self.shared.changes.subscribe();
        loop {
            changes.mark_unchanged();
            if let Some(found) = check() {
                return found;
            }
            // The sender lives in `shared`, which we hold: `changed` cannot fail.
            let _ = changes.changed().await;
        }
    }

    /// Stops accepting and ends every session.
    pub async fn shutdown(&self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}
