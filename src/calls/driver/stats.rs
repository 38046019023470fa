//! The daemon's work counters (what the demo's barrier waits on).

use std::sync::atomic::{AtomicU64, Ordering};

/// Work counters of a running daemon: with [`parkway_esl::client::StatsSnapshot`] they tell
/// whether anything is still in flight (the demo waits for that before moving virtual time).
#[derive(Debug, Default)]
pub struct DaemonStats {
    pub(super) events_handled: AtomicU64,
    pub(super) commands_sent: AtomicU64,
    pub(super) commands_done: AtomicU64,
    pub(super) renders_started: AtomicU64,
    pub(super) renders_done: AtomicU64,
    pub(super) reconciles_started: AtomicU64,
    pub(super) reconciles_done: AtomicU64,
}

/// A copy of [`DaemonStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DaemonCounts {
    /// Events the engine has finished with (their commands queued on the connection).
    pub events_handled: u64,
    /// Commands queued on the connection, and those answered (or given up).
    pub commands_sent: u64,
    pub commands_done: u64,
    /// Whisper renders started, and those handed back to the engine.
    pub renders_started: u64,
    pub renders_done: u64,
    /// Reconciles (`show channels`, then the missed parks read) started, and those acted on.
    pub reconciles_started: u64,
    pub reconciles_done: u64,
}

impl DaemonCounts {
    /// Nothing the daemon started is still running.
    pub fn idle(&self) -> bool {
        self.commands_sent == self.commands_done
            && self.renders_started == self.renders_done
            && self.reconciles_started == self.reconciles_done
    }
}

impl DaemonStats {
    pub fn snapshot(&self) -> DaemonCounts {
        // Work done is read before work started: a snapshot never shows done what it has
        // not seen started (the other way round it could, and look idle with work in flight).
        let commands_done = self.commands_done.load(Ordering::Acquire);
        let renders_done = self.renders_done.load(Ordering::Acquire);
        let reconciles_done = self.reconciles_done.load(Ordering::Acquire);
        DaemonCounts {
            events_handled: self.events_handled.load(Ordering::Acquire),
            commands_sent: self.commands_sent.load(Ordering::Acquire),
            commands_done,
            renders_started: self.renders_started.load(Ordering::Acquire),
            renders_done,
            reconciles_started: self.reconciles_started.load(Ordering::Acquire),
            reconciles_done,
        }
    }

    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Release);
    }
}
