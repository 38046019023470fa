//! The store: counters, open calls and records outlive the daemon, and a call that ended while
//! parkway was down is billed on FreeSWITCH's talk time (its CDR), never on when parkway noticed.

use std::sync::LazyLock;

use parkway::calls::{Disposition, LegOutcome};

use crate::rig::{acme, answers, buyer_index, manual_rig, rig};

/// Converts on 8 s of talk; pays 10.00 per conversion.
static BODY: LazyLock<String> = LazyLock::new(|| {
    acme(
        r#"payout = { per = "conversion", amount = "10.00" }
conversion = { talk_seconds = 8 }"#,
    )
});

#[tokio::test]
async fn counters_and_records_survive_a_restart() {
    let mut rig = rig("store-restart", &BODY, &[("acme", answers(2, 20, &[]))]).await;
    for n in 0..3 {
        rig.campaign_call(&format!("+1310555010{n}"), "auto").await;
        let record = rig.record().await;
        assert_eq!(record.disposition, Disposition::Connected);
    }
    let before = rig.daemon.query(|b| b.ledger().snapshot().clone()).await;
    let totals = rig.buyer("acme").await;
    assert_eq!(
        (totals.attempts, totals.conversions, totals.revenue),
        (3, 3, 3000)
    );
    rig.restart_daemon().await;
    let after = rig.daemon.query(|b| b.ledger().snapshot().clone()).await;
    assert_eq!(
        after, before,
        "the counters routing reads are the same after the restart"
    );
    assert_eq!(rig.buyer("acme").await, totals);
    assert_eq!(rig.concurrency("acme").await, 0);
    // The records are in the store.
    let mut store = parkway::store::sqlite::SqliteStore::open(&rig.config.store.path).unwrap();
    let records = parkway::store::Store::records(&mut store, &Default::default()).unwrap();
    assert_eq!(records.len(), 3);
}

/// The issue's measurement: FreeSWITCH said 5 s of talk while parkway was away; a talk-time
/// rule of 8 s must not pay.
#[tokio::test]
async fn a_call_that_ended_while_parkway_was_down_is_billed_on_freeswitch_talk_time() {
    let mut rig = manual_rig("store-down", &BODY, &[("acme", answers(2, 5, &[]))]).await;
    let acme = buyer_index(&rig.config, "acme");
    let call = rig.campaign_call("+13105550100", "auto").await;
    rig.wait_for("acme dialled", move |b| b.ledger().concurrency(acme) == 1)
        .await;
    rig.advance(3).await;
    rig.wait_for("bridged", |b| b.totals().connected == 1).await;
    rig.daemon.shutdown();
    // The buyer hangs up 5 s after answering; parkway comes back 13 s later.
    rig.advance(18).await;
    rig.restart_daemon().await;
    let record = rig.record().await;
    assert_eq!(record.call, call.parked);
    assert_eq!(record.disposition, Disposition::Connected);
    assert_eq!(record.talk_secs, 5, "FreeSWITCH's talk time: {record:?}");
    assert_eq!(record.payout, 0, "5 s does not convert on an 8 s rule");
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    assert_eq!(
        record.attempts[0].hangup_cause.as_deref(),
        Some("NORMAL_CLEARING")
    );
    assert!(record.caller_hangup_cause.is_some(), "{record:?}");
    let a = rig.buyer("acme").await;
    assert_eq!((a.attempts, a.connections, a.conversions), (1, 1, 0));
    assert_eq!(rig.concurrency("acme").await, 0, "the lease is freed");
    assert_eq!(rig.daemon.query(|b| b.live_calls()).await, Some(0));
}

#[tokio::test]
async fn a_call_up_across_a_restart_keeps_its_lease_and_is_counted_at_its_hangup() {
    let mut rig = manual_rig("store-up", &BODY, &[("acme", answers(2, 30, &[]))]).await;
    let acme = buyer_index(&rig.config, "acme");
    rig.campaign_call("+13105550100", "auto").await;
    rig.wait_for("acme dialled", move |b| b.ledger().concurrency(acme) == 1)
        .await;
    rig.advance(3).await;
    rig.wait_for("bridged", |b| b.totals().connected == 1).await;
    rig.restart_daemon().await;
    rig.wait_for("reconciled", |b| b.live_calls() == 1).await;
    assert_eq!(
        rig.concurrency("acme").await,
        1,
        "the live leg keeps its lease"
    );
    rig.advance(40).await;
    let record = rig.record().await;
    assert_eq!(record.disposition, Disposition::Connected);
    assert_eq!(record.talk_secs, 30, "{record:?}");
    assert_eq!(record.payout, 1000);
    let a = rig.buyer("acme").await;
    assert_eq!(
        (a.attempts, a.connections, a.conversions, a.revenue),
        (1, 1, 1, 1000),
        "counted once across the restart"
    );
    assert_eq!(rig.concurrency("acme").await, 0);
}
