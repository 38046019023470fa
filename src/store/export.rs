//! `--records`: call records as JSON lines, written by a thread of their own so a slow sink
//! (a pipe to a log shipper, an NFS stall, a full disk) never holds the call engine up.
//!
//! The engine hands records over with [`RecordExport::offer`], which never waits: when the
//! export's queue ([`QUEUE`] records) is full the record is left out of the file, counted and
//! logged (it is in the store; `parkway calls` exports it again). Each record is one `write` of
//! the JSON and its newline, so a crash cannot merge two records into one line; the file is
//! synced every [`SYNC_EVERY`] while records come. When an existing file ends in a partial line
//! (a crash mid-write), a newline is added on open so the next record starts a line of its own.

#![allow(
    clippy::disallowed_methods,
    reason = "the export thread paces its fsyncs by the clock"
)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::calls::CallRecord;

/// Records waiting for the sink before new ones are left out of the file.
pub const QUEUE: usize = 65_536;

/// How often a file with new records is synced to disk.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What the export did.
#[derive(Debug, Default)]
pub struct ExportStats {
    pub written: AtomicU64,
    /// Left out of the file: the queue was full.
    pub dropped: AtomicU64,
    /// Writes that failed (the record is not in the file).
    pub failed: AtomicU64,
}

/// The handle the engine offers records to.
#[derive(Clone)]
pub struct RecordExport {
    tx: mpsc::SyncSender<Box<CallRecord>>,
    stats: Arc<ExportStats>,
}

enum Sink {
    File(File),
    Stdout,
}

impl RecordExport {
    /// Appends to `path` (`-`: standard output), repairing a partial last line.
    pub fn open(path: &Path) -> std::io::Result<RecordExport> {
        let sink = if path.as_os_str() == "-" {
            Sink::Stdout
        } else {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(path)?;
            if !file.metadata()?.is_file() {
                return Err(std::io::Error::other(format!(
                    "{} is not a regular file",
                    path.display()
                )));
            }
            repair_last_line(&mut file)?;
            Sink::File(file)
        };
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let stats = Arc::new(ExportStats::default());
        std::thread::Builder::new()
            .name("parkway-records".into())
            .spawn({
                let stats = stats.clone();
                move || run(sink, rx, &stats)
            })?;
        Ok(RecordExport { tx, stats })
    }

    /// Hands a record to the export without waiting.
    pub fn offer(&self, record: Box<CallRecord>) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(r)) => {
                let n = self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    tracing::warn!(call = %r.call, dropped = n + 1,
                        "the records file is behind; record left out of it (it is in the store)");
                }
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn stats(&self) -> &Arc<ExportStats> {
        &self.stats
    }
}

/// Adds a newline when the file's last byte is not one.
fn repair_last_line(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        tracing::warn!("the records file ended in a partial line (a crash mid-write); closed it");
        file.write_all(b"\n")?;
    }
    Ok(())
}

fn run(mut sink: Sink, rx: mpsc::Receiver<Box<CallRecord>>, stats: &ExportStats) {
    let mut last_sync = Instant::now();
    let mut dirty = false;
    let mut line = Vec::with_capacity(4096);
    loop {
        let record = match rx.recv_timeout(SYNC_EVERY) {
            Ok(r) => Some(r),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if let Some(record) = record {
            line.clear();
            if serde_json::to_writer(&mut line, &record).is_err() {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            line.push(b'\n');
            let result = match &mut sink {
                Sink::File(f) => f.write_all(&line),
                Sink::Stdout => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&line).and_then(|()| out.flush())
                }
            };
            match result {
                Ok(()) => {
                    stats.written.fetch_add(1, Ordering::Relaxed);
                    dirty = true;
                }
                Err(e) => {
                    let n = stats.failed.fetch_add(1, Ordering::Relaxed);
                    if n.is_power_of_two() || n == 0 {
                        tracing::error!(error = %e, failed = n + 1,
                            "writing a call record to the records file failed (it is in the store)");
                    }
                }
            }
        }
        if dirty && last_sync.elapsed() >= SYNC_EVERY {
            if let Sink::File(f) = &sink {
                let _ = f.sync_data();
            }
            dirty = false;
            last_sync = Instant::now();
        }
    }
    if let Sink::File(f) = &sink {
        let _ = f.sync_data();
    }
}
