//! Durable state: every fact the ledger counted, the calls parkway took, the conversions the
//! duplicate rules look back on, and every call record, kept in a store that survives restarts
//! and crashes.
//!
//! The running daemon keeps its counters in memory ([`crate::billing::Ledger`]); the store is
//! their journal. The switchboard hands the engine what it counted and decided as [`Entry`]s
//! after each input; the engine passes them to the [`writer::StoreWriter`], one thread that
//! batches them into transactions, so the call path never waits on the disk. At start the
//! daemon reads the store back ([`Store::load`]): counters for every window, EPC, the duplicate
//! history and the calls that were still open are rebuilt from it.
//!
//! Every entry is written once under its key, however often it is written: a fact under
//! `(call, buyer, leg, kind)` (the leg's uuid for attempts and legs, empty for the per-buyer
//! kinds), a call under its uuid (the first record written for it stays), a conversion under
//! `(call, buyer)`. A replayed event, a fact journalled again after a restart, or a batch
//! committed twice after a failed commit changes nothing.
//!
//! [`Store`] is what a ledger backend provides. The embedded one is SQLite ([`sqlite`]); the
//! cluster's Redis ledger implements the same trait, with reservations made atomically in Redis
//! ([`Store::reserve`] / [`Store::release`]), where a single node keeps them in memory (its
//! ledger's holds) and SQLite has nothing to do for them.
//!
//! Files: `sqlite` (the embedded store, its schema and migrations), `writer` (the batching
//! writer thread), `cdr` (FreeSWITCH's JSON CDRs, read to recover outcomes), `export` (the
//! `--records` JSON-lines file).

pub mod cdr;
pub mod export;
pub mod sqlite;
pub mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::billing::ledger::Fact;
use crate::calls::CallRecord;
use crate::routing::Id;

/// A call parkway took (a park that matched a router): what the driver needs to finish it
/// after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedCall {
    pub call: Arc<str>,
    pub router: Id,
    pub caller: Option<String>,
    pub destination: Option<String>,
    /// The tokens it was routed on (the ones its record keeps).
    pub tokens: BTreeMap<String, String>,
    pub parked_at: DateTime<Utc>,
}

/// A paid conversion, as the duplicate rules look back on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionSeen {
    pub call: Arc<str>,
    /// The caller's normalised number.
    pub caller: u64,
    pub buyer: Id,
    pub router: Id,
    pub at: DateTime<Utc>,
}

/// One thing to write.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A count the ledger took.
    Fact(Fact),
    /// A call was taken.
    Opened(OpenedCall),
    /// A paid conversion (for the duplicate rules).
    Converted(ConversionSeen),
    /// The call is over: its record.
    /// Shared with the records export: one record, never copied.
    Finished(Arc<CallRecord>),
}

/// What a store holds, read back at start.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// Facts still inside the longest window, in the order they were counted.
    pub facts: Vec<Fact>,
    /// Counts compacted out of `facts` (older than the longest window), per buyer: what they
    /// added to the all-time totals.
    pub compacted: Vec<(Id, crate::billing::Totals)>,
    /// Calls taken and not finished.
    pub open: Vec<OpenedCall>,
    /// Paid conversions inside the longest duplicate window.
    pub conversions: Vec<ConversionSeen>,
    /// When the last fact was counted: FreeSWITCH's CDRs written since (less a margin) may
    /// hold legs and calls whose facts never reached the store.
    pub last_fact_at: Option<DateTime<Utc>>,
    /// Calls finished since a little before `last_fact_at` (their CDRs are not news).
    pub recently_finished: Vec<Arc<str>>,
}

/// The newest fact's time and the calls finished shortly before it ([`Store::recent`]).
#[derive(Debug, Clone, Default)]
pub struct Recent {
    pub last_fact_at: Option<DateTime<Utc>>,
    pub finished: Vec<Arc<str>>,
}

/// Which call records to read.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    /// Calls parked at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Calls parked before this time.
    pub until: Option<DateTime<Utc>>,
    pub buyer: Option<String>,
    pub router: Option<String>,
}

/// A store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("store: {path} has schema version {found}; this parkway knows up to {known}")]
    Newer {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("store: a stored value has the wrong type: {0}")]
    Type(#[from] rusqlite::types::FromSqlError),
    #[error("store: a stored value is not valid: {0}")]
    Corrupt(String),
}

/// A ledger backend: where counted facts, calls and records live beyond the process.
pub trait Store: Send {
    /// Everything a restart needs: facts newer than `since` (older ones come compacted), open
    /// calls, and conversions newer than `conversions_since`.
    fn load(
        &mut self,
        since: DateTime<Utc>,
        conversions_since: DateTime<Utc>,
    ) -> Result<Restored, StoreError>;

    /// Writes a batch, each entry once under its key (see the module docs); all or nothing.
    fn commit(&mut self, batch: &[Entry]) -> Result<(), StoreError>;

    /// Takes a reservation (a hold) for `buyer` on `call`. A single node holds in memory (its
    /// ledger's holds): the embedded store accepts every reservation. A shared store decides
    /// here whether the buyer still has headroom across nodes.
    fn reserve(&mut self, _call: &str, _buyer: &Id) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Gives a reservation back (the leg ended without the count it held).
    fn release(&mut self, _call: &str, _buyer: &Id) -> Result<(), StoreError> {
        Ok(())
    }

    /// When the newest fact was counted, and the calls finished since `margin` before it.
    fn recent(&mut self, margin: chrono::Duration) -> Result<Recent, StoreError>;

    /// Call records, as JSON documents, oldest park first.
    fn records(&mut self, query: &RecordQuery) -> Result<Vec<String>, StoreError>;

    /// Folds facts of finished calls dated before `before` into per-buyer totals, and drops
    /// records parked before `records_before` and conversions before `conversions_before`.
    /// Returns how many facts were folded.
    fn compact(
        &mut self,
        before: DateTime<Utc>,
        records_before: Option<DateTime<Utc>>,
        conversions_before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Opens the config's store (`[store] path`), folds what is older than the longest window into
/// totals, drops records older than `[store] record_days`, and reads back what a restart needs.
pub fn open(
    config: &crate::config::Config,
    now: DateTime<Utc>,
) -> Result<(sqlite::SqliteStore, Restored), StoreError> {
    let mut store = sqlite::SqliteStore::open(&config.store.path)?;
    let duplicates = now - config.longest_duplicate_window();
    store.compact(
        now - longest_window(config),
        (config.store.record_days > 0)
            .then(|| now - chrono::Duration::days(config.store.record_days.into())),
        duplicates,
    )?;
    let mut restored = store.load(DateTime::<Utc>::MIN_UTC, duplicates)?;
    let recent = store.recent(SWEEP_MARGIN * 2)?;
    (restored.last_fact_at, restored.recently_finished) = (recent.last_fact_at, recent.finished);
    if restored.last_fact_at.is_none() {
        // A store with no fact yet: a run may have died before its first commit; what it
        // dialled is no older than the file.
        restored.last_fact_at = std::fs::metadata(&config.store.path)
            .and_then(|m| m.created().or_else(|_| m.modified()))
            .ok()
            .map(DateTime::<Utc>::from)
            .or(Some(now));
    }
    Ok((store, restored))
}

/// How far before the last fact FreeSWITCH's CDRs are read again after a restart (clocks of
/// two hosts, commits in flight when the process died).
pub const SWEEP_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// Since when FreeSWITCH's CDR files are read at start: the last fact (or the new store's
/// creation) less [`SWEEP_MARGIN`]; `None` when the store was not read.
pub fn sweep_since(restored: &Restored) -> Option<DateTime<Utc>> {
    restored.last_fact_at.map(|t| t - SWEEP_MARGIN)
}

/// The counters and the duplicate history a store's contents stand for, as the daemon would
/// rebuild them (`parkway explain --db`).
pub fn rebuild(
    config: &crate::config::Config,
    restored: &Restored,
) -> (crate::billing::Ledger, crate::billing::DuplicateHistory) {
    let mut ledger = crate::billing::Ledger::new(config);
    let mut duplicates = crate::billing::DuplicateHistory::default();
    restore_into(config, restored, &mut ledger, &mut duplicates);
    (ledger, duplicates)
}

/// Replays what a store holds into `ledger` (compacted totals, then every fact, the open
/// calls' with their keys and leases) and `duplicates` (the paid conversions): the daemon's
/// start and [`rebuild`] alike.
pub fn restore_into(
    config: &crate::config::Config,
    restored: &Restored,
    ledger: &mut crate::billing::Ledger,
    duplicates: &mut crate::billing::DuplicateHistory,
) {
    ledger.restore_compacted(config, &restored.compacted);
    let open: std::collections::HashSet<&str> = restored.open.iter().map(|c| &*c.call).collect();
    ledger.restore(config, restored.facts.iter().cloned(), &|c| {
        open.contains(c)
    });
    for c in &restored.conversions {
        duplicates.record_conversion(c.caller, &c.buyer, &c.router, c.at);
    }
}

/// How far back counters reach: a month (the longest resetting window, with a margin for its
/// zone) or the EPC window and a day, whichever is longer. Older facts only add to totals.
pub fn longest_window(config: &crate::config::Config) -> chrono::Duration {
    let month = chrono::Duration::days(32);
    let epc = config
        .epc
        .window
        .checked_add(&chrono::Duration::days(1))
        .unwrap_or(month);
    month.max(epc)
}
