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
    /// 1 once the thread has written everything handed to it and stopped (every handle gone).
    pub done: AtomicU64,
}

impl ExportStats {
    /// Waits (blocking, up to `grace`) until the export has written what it was handed and
    /// stopped: shutdown, after the engine is gone. Returns whether it did.
    pub fn wait_done(&self, grace: Duration) -> bool {
        let started = Instant::now();
        while self.done.load(Ordering::Acquire) == 0 {
            if started.elapsed() >= grace {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

/// The handle the engine offers records to.
#[derive(Clone)]
pub struct RecordExport {
    tx: mpsc::SyncSender<Arc<CallRecord>>,
    stats: Arc<ExportStats>,
}

enum Sink {
    File(File),
    /// Standard output, or any stream (tests).
    Stream(Box<dyn Write + Send>),
}

impl RecordExport {
    /// Appends to `path` (`-`: standard output), repairing a partial last line.
    pub fn open(path: &Path) -> std::io::Result<RecordExport> {
        let sink = if path.as_os_str() == "-" {
            Sink::Stream(Box::new(std::io::stdout()))
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
        RecordExport::start(sink)
    }

    /// Writes to `stream` (a pipe, a socket; tests).
    pub fn to_stream(stream: Box<dyn Write + Send>) -> std::io::Result<RecordExport> {
        RecordExport::start(Sink::Stream(stream))
    }

    fn start(sink: Sink) -> std::io::Result<RecordExport> {
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
    pub fn offer(&self, record: Arc<CallRecord>) {
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

fn run(mut sink: Sink, rx: mpsc::Receiver<Arc<CallRecord>>, stats: &ExportStats) {
    let mut last_sync = Instant::now();
    let mut dirty = false;
    let mut broken = false;
    let mut line = Vec::with_capacity(4096);
    loop {
        let record = match rx.recv_timeout(SYNC_EVERY) {
            Ok(r) => Some(r),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if let Some(record) = record {
            line.clear();
            if serde_json::to_writer(&mut line, &*record).is_err() {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            line.push(b'\n');
            if broken {
                // The last write failed part-way: close its line so this record starts one.
                line.insert(0, b'\n');
            }
            let result = match &mut sink {
                Sink::File(f) => f.write_all(&line),
                Sink::Stream(out) => out.write_all(&line).and_then(|()| out.flush()),
            };
            broken = result.is_err();
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
    stats.done.store(1, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::record::tests_support::record;

    /// A sink that takes a second per write: a stalled pipe.
    struct Stalled;

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_secs(1));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_sink_never_holds_the_caller_up() {
        let export = RecordExport::to_stream(Box::new(Stalled)).unwrap();
        let r = Arc::new(record("c1", "2026-12-01T10:00:00Z".parse().unwrap(), "b1"));
        let started = Instant::now();
        for _ in 0..(QUEUE + 1000) {
            export.offer(r.clone());
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "offering {} records took {:?}",
            QUEUE + 1000,
            started.elapsed()
        );
        assert!(
            export.stats().dropped.load(Ordering::Relaxed) >= 999,
            "left out, counted"
        );
    }

    #[test]
    fn one_line_per_record_and_a_partial_line_is_closed_on_open() {
        let dir = std::env::temp_dir().join(format!("parkway-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("records.jsonl");
        // A crash mid-write left half a record.
        std::fs::write(&path, "{\"call\":\"half").unwrap();
        let export = RecordExport::open(&path).unwrap();
        for n in 0..3 {
            let at = "2026-12-01T10:00:00Z".parse().unwrap();
            export.offer(Arc::new(record(&format!("c{n}"), at, "b1")));
        }
        drop(export);
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.lines().count() >= 4 || Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "{\"call\":\"half", "the partial line stays alone");
        for line in &lines[1..] {
            let v: serde_json::Value = serde_json::from_str(line).expect("a whole record");
            assert!(v["call"].as_str().unwrap().starts_with('c'));
        }
        assert!(text.ends_with('\n'));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            RecordExport::open(Path::new("/dev/null")).is_err(),
            "not a regular file"
        );
    }
}
