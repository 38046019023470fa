use std::collections::BTreeMap;

use chrono::Duration;

use super::*;
use crate::billing::Ledger;
use crate::config::Config;

// The ledger tests' config (b0 New York and b1 UTC in group g0, Los Angeles; b2 alone) and
// time parser.
use crate::billing::ledger::tests::{config, t};

fn opened(call: &str, at: DateTime<Utc>) -> Entry {
    Entry::Opened(OpenedCall {
        call: call.into(),
        router: Id::new("r1"),
        caller: Some("+15551230000".into()),
        destination: Some("8005550100".into()),
        tokens: BTreeMap::from([("campaign".to_owned(), "auto".to_owned())]),
        parked_at: at,
    })
}

/// A ledger that journals, with a few calls counted over two days and a window boundary.
fn busy_ledger(c: &Config) -> Ledger {
    let mut l = Ledger::new(c).journal();
    let day1 = t("2026-11-30T23:50:00Z");
    for i in 0..20 {
        let call = format!("call-{i}");
        let at = day1 + Duration::minutes(i * 7);
        let buyer = (i % 3) as usize;
        let leg = format!("leg-{i}");
        l.count_leg(c, &call, &leg, buyer, Count::Attempt, at);
        l.count_leg(c, &call, &leg, buyer, Count::LegUp, at);
        if i % 2 == 0 {
            l.count(c, &call, buyer, Count::Connection, at);
            l.count(c, &call, buyer, Count::Revenue(150 + i), at);
        }
        if i % 4 == 0 {
            l.count(c, &call, buyer, Count::Conversion, at);
        }
        if i < 17 {
            l.count_leg(
                c,
                &call,
                &leg,
                buyer,
                Count::LegDown,
                at + Duration::seconds(30),
            );
            l.finish_call(&call, at + Duration::seconds(31));
        }
    }
    l
}

fn commit_facts(store: &mut SqliteStore, facts: Vec<Fact>) {
    let batch: Vec<Entry> = facts.into_iter().map(Entry::Fact).collect();
    store.commit(&batch).unwrap();
}

#[test]
fn a_new_file_gets_the_schema_and_a_newer_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("parkway-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    drop(store);
    // Reopening migrates nothing and keeps the version.
    assert_eq!(
        SqliteStore::open(&path).unwrap().version().unwrap(),
        SCHEMA_VERSION
    );
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::Newer { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn counters_after_a_restart_equal_counters_before_it() {
    let c = config();
    let mut before = busy_ledger(&c);
    let mut store = SqliteStore::in_memory().unwrap();
    let facts = before.take_facts();
    assert!(!facts.is_empty());
    commit_facts(&mut store, facts.clone());
    // Open calls: the three not finished.
    let open_ids: Vec<String> = (17..20).map(|i| format!("call-{i}")).collect();
    let mut batch: Vec<Entry> = open_ids
        .iter()
        .map(|id| opened(id, t("2026-12-01T01:50:00Z")))
        .collect();
    // Committing the same facts again changes nothing (a retried batch).
    batch.extend(facts.into_iter().map(Entry::Fact));
    store.commit(&batch).unwrap();
    let restored = store
        .load(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC)
        .unwrap();
    assert_eq!(restored.open.len(), 3);
    let open: std::collections::HashSet<&str> = restored.open.iter().map(|o| &*o.call).collect();
    let mut after = Ledger::new(&c).journal();
    let counts = after.restore(&c, restored.facts.clone(), &|call| open.contains(call));
    assert_eq!(counts.unknown_buyer, 0);
    assert!(after.take_facts().is_empty(), "a restore journals nothing");
    assert_eq!(after.snapshot(), before.snapshot());
    for b in 0..3 {
        assert_eq!(after.totals(b), before.totals(b));
        assert_eq!(after.concurrency(b), before.concurrency(b), "buyer {b}");
    }
    // The open calls' keys came back: a replayed fact counts once.
    assert!(!after.count_leg(
        &c,
        "call-17",
        "leg-17",
        2,
        Count::Attempt,
        t("2026-12-01T02:00:00Z")
    ));
    assert!(after.count_leg(
        &c,
        "call-17",
        "leg-17",
        2,
        Count::LegDown,
        t("2026-12-01T02:00:00Z")
    ));
    assert_eq!(after.concurrency(2), before.concurrency(2) - 1);
}

#[test]
fn a_call_is_finished_once_and_records_are_queried() {
    let mut store = SqliteStore::in_memory().unwrap();
    let at = t("2026-12-01T10:00:00Z");
    store
        .commit(&[opened("c1", at), opened("c2", at + Duration::hours(1))])
        .unwrap();
    let record = |call: &str, parked: DateTime<Utc>, buyer: &str, note: &str| {
        let mut r = crate::calls::record::tests_support::record(call, parked, buyer);
        r.notes.push(note.into());
        Entry::Finished(std::sync::Arc::new(r))
    };
    store.commit(&[record("c1", at, "b1", "first")]).unwrap();
    store.commit(&[record("c1", at, "b1", "second")]).unwrap();
    store
        .commit(&[record("c2", at + Duration::hours(1), "b2", "x")])
        .unwrap();
    let one = record_of(&store, "c1").unwrap().unwrap();
    assert!(
        one.contains("first") && !one.contains("second"),
        "the first record stays"
    );
    let all = store.records(&RecordQuery::default()).unwrap();
    assert_eq!(all.len(), 2);
    let by_buyer = store
        .records(&RecordQuery {
            buyer: Some("b2".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_buyer.len(), 1);
    assert!(by_buyer[0].contains("\"c2\""));
    let since = store
        .records(&RecordQuery {
            since: Some(at + Duration::minutes(1)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(since.len(), 1);
    let router = store
        .records(&RecordQuery {
            router: Some("nope".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(router.is_empty());
    assert!(store.load(at, at).unwrap().open.is_empty(), "both finished");
}

#[test]
fn compaction_folds_old_facts_into_totals_and_keeps_the_counters() {
    let c = config();
    let mut before = busy_ledger(&c);
    let mut store = SqliteStore::in_memory().unwrap();
    commit_facts(&mut store, before.take_facts());
    let n = store.fact_count().unwrap();
    // Everything before midnight of day 2 is folded (the open calls' facts stay).
    let folded = store
        .compact(t("2026-12-01T01:00:00Z"), None, t("2026-11-01T00:00:00Z"))
        .unwrap();
    assert!(folded > 0);
    assert_eq!(store.fact_count().unwrap(), n - folded);
    let restored = store
        .load(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC)
        .unwrap();
    let mut after = Ledger::new(&c);
    after.restore_compacted(&c, &restored.compacted);
    after.restore(&c, restored.facts, &|_| false);
    for b in 0..3 {
        assert_eq!(
            after.totals(b),
            before.totals(b),
            "buyer {b}: all-time totals"
        );
        let (x, y) = (
            after.snapshot().buyer(&c.buyers[b].id),
            before.snapshot().buyer(&c.buyers[b].id),
        );
        let total = |u: Option<&crate::routing::usage::Usage>, m| {
            u.and_then(|u| u.window(crate::routing::zonetime::Window::Total).get(m))
                .map(|c| c.value)
        };
        for m in [
            crate::routing::Metric::Attempts,
            crate::routing::Metric::Revenue,
        ] {
            assert_eq!(total(x, m), total(y, m), "buyer {b} {m:?}");
        }
    }
    // Compacting again folds nothing new.
    let again = store
        .compact(t("2026-12-01T01:00:00Z"), None, t("2026-11-01T00:00:00Z"))
        .unwrap();
    assert_eq!(again, 0);
}

#[test]
fn conversions_come_back_inside_their_window() {
    let mut store = SqliteStore::in_memory().unwrap();
    let seen = |call: &str, at: &str| {
        Entry::Converted(ConversionSeen {
            call: call.into(),
            caller: 15551230000,
            buyer: Id::new("b1"),
            router: Id::new("r1"),
            at: t(at),
        })
    };
    store
        .commit(&[
            seen("c1", "2026-11-01T00:00:00Z"),
            seen("c2", "2026-12-01T00:00:00Z"),
            seen("c2", "2026-12-02T00:00:00Z"),
        ])
        .unwrap();
    let got = store
        .load(t("2026-12-01T00:00:00Z"), t("2026-11-15T00:00:00Z"))
        .unwrap();
    assert_eq!(got.conversions.len(), 1, "one old, one repeat");
    assert_eq!(got.conversions[0].at, t("2026-12-01T00:00:00Z"));
}
