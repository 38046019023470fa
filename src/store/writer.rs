//! The store's one writer: a thread that takes entries from the engine and commits them in
//! batches, so the engine only ever pays for a channel send.
//!
//! Everything that is queued when the thread wakes goes into one transaction (up to
//! [`MAX_BATCH`] entries). A commit that fails (a full disk, a locked or read-only file) is
//! logged and counted, and the same batch is tried again after a pause: entries are kept in
//! memory until they are written, never dropped. [`StoreWriter::flush`] waits until everything
//! queued before it is committed (shutdown, tests).

#![allow(
    clippy::disallowed_methods,
    reason = "the writer times its commits for the ledger's commit-latency figure"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Entry, Store};

/// Most entries in one transaction.
pub const MAX_BATCH: usize = 16_384;

/// The pause before a failed commit is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// What the writer did, for metrics and `/healthz`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Entries handed to the writer.
    pub queued: AtomicU64,
    /// Entries committed.
    pub committed: AtomicU64,
    pub batches: AtomicU64,
    /// Commits that failed (each retried).
    pub failures: AtomicU64,
    /// The last commit's duration (µs).
    pub last_commit_us: AtomicU64,
    /// 1 while the last commit failed.
    pub failing: AtomicU64,
}

impl WriterStats {
    /// Entries queued and not yet committed.
    pub fn lag(&self) -> u64 {
        self.queued
            .load(Ordering::Relaxed)
            .saturating_sub(self.committed.load(Ordering::Relaxed))
    }
}

enum Msg {
    Entries(Vec<Entry>),
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// The handle: cheap to clone, sends never block.
#[derive(Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<Msg>,
    stats: Arc<WriterStats>,
}

impl StoreWriter {
    /// Starts the writer thread over `store`.
    pub fn start(store: Box<dyn Store>) -> std::io::Result<StoreWriter> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        // The thread ends when the last handle is dropped, after committing what was sent.
        std::thread::Builder::new()
            .name("parkway-store".into())
            .spawn({
                let stats = stats.clone();
                move || run(store, rx, &stats)
            })?;
        Ok(StoreWriter { tx, stats })
    }

    /// Queues entries for the next batch. Returns false when the writer is gone (they are
    /// lost: logged).
    pub fn send(&self, entries: Vec<Entry>) -> bool {
        if entries.is_empty() {
            return true;
        }
        let n = entries.len() as u64;
        self.stats.queued.fetch_add(n, Ordering::Relaxed);
        if self.tx.send(Msg::Entries(entries)).is_err() {
            tracing::error!(entries = n, "the store writer is gone; entries not written");
            return false;
        }
        true
    }

    /// Waits (blocking) until everything sent before is committed, or the writer is gone.
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }
}

fn run(mut store: Box<dyn Store>, rx: mpsc::Receiver<Msg>, stats: &WriterStats) {
    let mut batch: Vec<Entry> = Vec::new();
    let mut waiting: Vec<std::sync::mpsc::SyncSender<()>> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Msg::Entries(mut e)) => batch.append(&mut e),
                Some(Msg::Flush(done)) => waiting.push(done),
                None => {}
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            match rx.try_recv() {
                Ok(m) => next = Some(m),
                Err(_) => break,
            }
        }
        while !batch.is_empty() {
            let started = Instant::now();
            match store.commit(&batch) {
                Ok(()) => {
                    let us = started.elapsed().as_micros() as u64;
                    stats.last_commit_us.store(us, Ordering::Relaxed);
                    stats
                        .committed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    if stats.failing.swap(0, Ordering::Relaxed) == 1 {
                        tracing::info!("the store is writable again");
                    }
                    batch.clear();
                }
                Err(e) => {
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    if stats.failing.swap(1, Ordering::Relaxed) == 0 {
                        tracing::error!(error = %e, entries = batch.len(),
                            "committing to the store failed; kept in memory and retried");
                    }
                    std::thread::sleep(RETRY_AFTER);
                    // Keep taking what comes meanwhile, in order.
                    while let Ok(m) = rx.try_recv() {
                        match m {
                            Msg::Entries(mut e) => batch.append(&mut e),
                            Msg::Flush(done) => waiting.push(done),
                        }
                    }
                }
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
