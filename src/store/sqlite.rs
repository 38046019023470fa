//! The embedded store: one SQLite file in WAL mode.
//!
//! Schema (version [`SCHEMA_VERSION`], kept in `PRAGMA user_version`; older files migrate
//! forward when opened, newer ones are refused):
//!
//! - `facts(seq, call, buyer, leg, kind, amount, at)`: one row per counted fact, unique on
//!   `(call, buyer, leg, kind)`; `seq` keeps the order they were counted in; `at` in
//!   microseconds since the epoch; `kind` 1 attempt, 2 connection, 3 conversion, 4 revenue
//!   (`amount` in minor units), 5 leg up, 6 leg down.
//! - `calls(call, router, caller, destination, tokens, parked_at, finished_at, record)`: one row
//!   per call taken; `record` (the call record's JSON) and `finished_at` are set once, when it
//!   ends. Open calls are the rows without `finished_at`.
//! - `conversions(call, buyer, caller, router, at)`: paid conversions, for the duplicate rules.
//! - `totals(buyer, kind, value)`: facts compacted out of `facts`.
//!
//! Durability: `synchronous = NORMAL` in WAL mode, so a committed transaction survives the
//! process being killed (it is in the WAL, written before the commit returns); a power loss may
//! take the last transactions since a checkpoint, which FreeSWITCH's CDRs then recover.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{ConversionSeen, Entry, OpenedCall, Recent, RecordQuery, Restored, Store, StoreError};
use crate::billing::Count;
use crate::billing::ledger::Fact;
use crate::routing::Id;

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// The embedded store.
pub struct SqliteStore {
    conn: Connection,
    path: String,
}

const SCHEMA_V1: &str = "
CREATE TABLE facts(
    seq INTEGER PRIMARY KEY,
    call TEXT NOT NULL,
    buyer TEXT NOT NULL,
    leg TEXT NOT NULL,
    kind INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE UNIQUE INDEX facts_key ON facts(call, buyer, leg, kind);
CREATE INDEX facts_at ON facts(at);
CREATE TABLE calls(
    call TEXT PRIMARY KEY,
    router TEXT NOT NULL,
    caller TEXT,
    destination TEXT,
    tokens TEXT NOT NULL,
    parked_at INTEGER NOT NULL,
    finished_at INTEGER,
    record TEXT
);
CREATE INDEX calls_parked ON calls(parked_at);
CREATE INDEX calls_open ON calls(call) WHERE finished_at IS NULL;
CREATE TABLE conversions(
    call TEXT NOT NULL,
    buyer TEXT NOT NULL,
    caller INTEGER NOT NULL,
    router TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY(call, buyer)
);
CREATE INDEX conversions_at ON conversions(at);
CREATE TABLE totals(
    buyer TEXT NOT NULL,
    kind INTEGER NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY(buyer, kind)
);
";

/// Each migration takes the schema from its index to the next version.
const MIGRATIONS: &[&str] = &[SCHEMA_V1];

fn kind_code(kind: Count) -> (i64, i64) {
    match kind {
        Count::Attempt => (1, 1),
        Count::Connection => (2, 1),
        Count::Conversion => (3, 1),
        Count::Revenue(amount) => (4, amount),
        Count::LegUp => (5, 0),
        Count::LegDown => (6, 0),
    }
}

fn kind_of(code: i64, amount: i64) -> Option<Count> {
    Some(match code {
        1 => Count::Attempt,
        2 => Count::Connection,
        3 => Count::Conversion,
        4 => Count::Revenue(amount),
        5 => Count::LegUp,
        6 => Count::LegDown,
        _ => return None,
    })
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_micros(us)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("time {us}")))
}

impl SqliteStore {
    /// Opens (creating it if needed) the store at `path` and migrates it to [`SCHEMA_VERSION`].
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
        SqliteStore::setup(conn, shown)
    }

    /// Opens an existing store to read it beside a running daemon (`parkway explain`,
    /// `parkway calls`): nothing is created, migrated or written.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = SqliteStore { conn, path: shown };
        let found = store.version()?;
        if found != SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: store.path.clone(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        Ok(store)
    }

    /// A store in memory (tests).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::setup(Connection::open_in_memory()?, ":memory:".into())
    }

    fn setup(conn: Connection, path: String) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // `journal_mode` answers with the mode it took (`memory` for an in-memory database).
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;")?;
        let mut store = SqliteStore { conn, path };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if found > known {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version of the open file.
    pub fn version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Facts stored (not yet compacted).
    pub fn fact_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM facts", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Writes a harmless row and takes it back: whether the file can be written now.
    pub fn writable(&mut self) -> bool {
        self.conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
            .is_ok()
    }
}

impl Store for SqliteStore {
    fn load(
        &mut self,
        since: DateTime<Utc>,
        conversions_since: DateTime<Utc>,
    ) -> Result<Restored, StoreError> {
        let mut restored = Restored::default();
        {
            let mut stmt = self.conn.prepare(
                "SELECT call, buyer, leg, kind, amount, at FROM facts WHERE at >= ?1 \
                 OR call IN (SELECT call FROM calls WHERE finished_at IS NULL) ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![micros(since)])?;
            // Calls and buyers repeat: share one allocation per distinct id.
            let mut last_call: Option<std::sync::Arc<str>> = None;
            let mut buyers: parkway_esl::fasthash::FxHashMap<String, Id> = Default::default();
            while let Some(row) = rows.next()? {
                let call = row.get_ref(0)?.as_str()?;
                let call = match &last_call {
                    Some(c) if &**c == call => c.clone(),
                    _ => {
                        let c: std::sync::Arc<str> = call.into();
                        last_call = Some(c.clone());
                        c
                    }
                };
                let buyer = row.get_ref(1)?.as_str()?;
                let buyer = match buyers.get(buyer) {
                    Some(id) => id.clone(),
                    None => {
                        let id = Id::new(buyer);
                        buyers.insert(buyer.to_owned(), id.clone());
                        id
                    }
                };
                let leg = row.get_ref(2)?.as_str()?;
                let (code, amount): (i64, i64) = (row.get(3)?, row.get(4)?);
                let kind = kind_of(code, amount)
                    .ok_or_else(|| StoreError::Corrupt(format!("fact kind {code}")))?;
                restored.facts.push(Fact {
                    call,
                    buyer,
                    leg: (!leg.is_empty()).then(|| leg.into()),
                    kind,
                    at: time(row.get(5)?)?,
                });
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare("SELECT buyer, kind, value FROM totals ORDER BY buyer")?;
            let mut rows = stmt.query([])?;
            let mut current: Option<(Id, crate::billing::Totals)> = None;
            while let Some(row) = rows.next()? {
                let buyer: String = row.get(0)?;
                let (code, value): (i64, i64) = (row.get(1)?, row.get(2)?);
                if current.as_ref().is_none_or(|(id, _)| id.as_str() != buyer) {
                    restored.compacted.extend(current.take());
                    current = Some((Id::new(&buyer), Default::default()));
                }
                if let Some((_, t)) = &mut current {
                    let n = u64::try_from(value).unwrap_or(0);
                    match code {
                        1 => t.attempts = n,
                        2 => t.connections = n,
                        3 => t.conversions = n,
                        4 => t.revenue = value,
                        _ => {}
                    }
                }
            }
            restored.compacted.extend(current);
        }
        {
            let mut stmt = self.conn.prepare(
                "SELECT call, router, caller, destination, tokens, parked_at FROM calls \
                 WHERE finished_at IS NULL ORDER BY parked_at",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let tokens: String = row.get(4)?;
                let tokens = serde_json::from_str(&tokens)
                    .map_err(|e| StoreError::Corrupt(format!("tokens: {e}")))?;
                restored.open.push(OpenedCall {
                    call: row.get::<_, String>(0)?.into(),
                    router: Id::new(&row.get::<_, String>(1)?),
                    caller: row.get(2)?,
                    destination: row.get(3)?,
                    tokens,
                    parked_at: time(row.get(5)?)?,
                });
            }
        }
        {
            let mut stmt = self.conn.prepare(
                "SELECT call, buyer, caller, router, at FROM conversions WHERE at >= ?1 \
                 ORDER BY at",
            )?;
            let mut rows = stmt.query(params![micros(conversions_since)])?;
            while let Some(row) = rows.next()? {
                restored.conversions.push(ConversionSeen {
                    call: row.get::<_, String>(0)?.into(),
                    buyer: Id::new(&row.get::<_, String>(1)?),
                    caller: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    router: Id::new(&row.get::<_, String>(3)?),
                    at: time(row.get(4)?)?,
                });
            }
        }
        Ok(restored)
    }

    fn commit(&mut self, batch: &[Entry]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut fact = tx.prepare_cached(
                "INSERT OR IGNORE INTO facts(call, buyer, leg, kind, amount, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut opened = tx.prepare_cached(
                "INSERT OR IGNORE INTO calls(call, router, caller, destination, tokens, parked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut finished = tx.prepare_cached(
                "INSERT INTO calls(call, router, caller, destination, tokens, parked_at, \
                 finished_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT(call) DO UPDATE SET finished_at = excluded.finished_at, \
                 record = excluded.record WHERE calls.finished_at IS NULL",
            )?;
            let mut converted = tx.prepare_cached(
                "INSERT OR IGNORE INTO conversions(call, buyer, caller, router, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for entry in batch {
                match entry {
                    Entry::Fact(f) => {
                        let (code, amount) = kind_code(f.kind);
                        fact.execute(params![
                            &*f.call,
                            f.buyer.as_str(),
                            f.leg.as_deref().unwrap_or(""),
                            code,
                            amount,
                            micros(f.at)
                        ])?;
                    }
                    Entry::Opened(c) => {
                        let tokens = serde_json::to_string(&c.tokens)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        opened.execute(params![
                            &*c.call,
                            c.router.as_str(),
                            c.caller,
                            c.destination,
                            tokens,
                            micros(c.parked_at)
                        ])?;
                    }
                    Entry::Converted(c) => {
                        converted.execute(params![
                            &*c.call,
                            c.buyer.as_str(),
                            i64::try_from(c.caller).unwrap_or(i64::MAX),
                            c.router.as_str(),
                            micros(c.at)
                        ])?;
                    }
                    Entry::Finished(r) => {
                        let json = serde_json::to_string(&**r)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        let tokens = serde_json::to_string(&r.tokens)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        let ended = r.ended_at.unwrap_or(r.parked_at);
                        finished.execute(params![
                            r.call,
                            r.router.as_str(),
                            r.caller,
                            r.destination,
                            tokens,
                            micros(r.parked_at),
                            micros(ended),
                            json
                        ])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn recent(&mut self, margin: chrono::Duration) -> Result<Recent, StoreError> {
        let last: Option<i64> = self
            .conn
            .query_row("SELECT MAX(at) FROM facts", [], |r| r.get(0))?;
        let Some(last) = last else {
            return Ok(Recent::default());
        };
        let last = time(last)?;
        let mut stmt = self
            .conn
            .prepare("SELECT call FROM calls WHERE finished_at >= ?1")?;
        let calls = stmt
            .query_map(params![micros(last - margin)], |r| r.get::<_, String>(0))?
            .map(|c| c.map(Into::into))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Recent {
            last_fact_at: Some(last),
            finished: calls,
        })
    }

    fn records(&mut self, query: &RecordQuery) -> Result<Vec<String>, StoreError> {
        let mut sql = String::from(
            "SELECT record FROM calls WHERE record IS NOT NULL AND parked_at >= ?1 \
             AND parked_at < ?2 AND (?3 IS NULL OR router = ?3)",
        );
        // A call is the buyer's when the buyer was dialled for it.
        sql.push_str(
            " AND (?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(record, '$.attempts') \
             WHERE json_extract(value, '$.buyer') = ?4)) ORDER BY parked_at, call",
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let since = query.since.map_or(i64::MIN, micros);
        let until = query.until.map_or(i64::MAX, micros);
        let rows = stmt.query_map(params![since, until, query.router, query.buyer], |r| {
            r.get::<_, String>(0)
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn compact(
        &mut self,
        before: DateTime<Utc>,
        records_before: Option<DateTime<Utc>>,
        conversions_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let cutoff = micros(before);
        let done = "call IN (SELECT call FROM calls WHERE finished_at IS NOT NULL) \
                    OR call NOT IN (SELECT call FROM calls)";
        tx.execute(
            &format!(
                "INSERT INTO totals(buyer, kind, value) \
                 SELECT buyer, kind, SUM(amount) FROM facts \
                 WHERE at < ?1 AND kind <= 4 AND ({done}) GROUP BY buyer, kind \
                 ON CONFLICT(buyer, kind) DO UPDATE SET value = value + excluded.value"
            ),
            params![cutoff],
        )?;
        let folded = tx.execute(
            &format!("DELETE FROM facts WHERE at < ?1 AND ({done})"),
            params![cutoff],
        )?;
        if let Some(t) = records_before {
            tx.execute(
                "DELETE FROM calls WHERE finished_at IS NOT NULL AND parked_at < ?1",
                params![micros(t)],
            )?;
        }
        tx.execute(
            "DELETE FROM conversions WHERE at < ?1",
            params![micros(conversions_before)],
        )?;
        tx.commit()?;
        Ok(u64::try_from(folded).unwrap_or(0))
    }
}

/// The record of one call, if it is stored (tests and `parkway calls`).
pub fn record_of(store: &SqliteStore, call: &str) -> Result<Option<String>, StoreError> {
    Ok(store
        .conn
        .query_row(
            "SELECT record FROM calls WHERE call = ?1 AND record IS NOT NULL",
            params![call],
            |r| r.get(0),
        )
        .optional()?)
}

#[cfg(test)]
mod tests;
