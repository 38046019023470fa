//! Edges: a caller gone before parkway's commands reach FreeSWITCH; every step failing.

use std::sync::LazyLock;

use parkway::calls::{Disposition, FallbackReason, LegOutcome};
use parkway_sim::engine::Behaviour;

use crate::rig::{acme, answers, buyer_index, dialled, manual_rig};

static BODY: LazyLock<String> = LazyLock::new(|| acme(""));

#[tokio::test]
async fn caller_gone_before_the_bridge_arrives() {
    let mut rig = manual_rig("gone-early", &BODY, &[("acme", answers(2, 30, &[]))]).await;
    let acme = buyer_index(&rig.config, "acme");
    let call = rig.campaign_call("+13105550100", "auto").await;
    // The caller hangs up at once, in the same instant as the park.
    rig.caller_hangs_up(&call, 0).await;
    rig.advance(1).await;
    let record = rig.record().await;
    assert_eq!(record.disposition, Disposition::Abandoned);
    assert_eq!(rig.commands(), dialled(&["acme"]));
    assert_eq!(
        record.caller_hangup_cause.as_deref(),
        Some("NORMAL_CLEARING")
    );
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].outcome, LegOutcome::Cancelled);
    assert_eq!(record.connected, None);
    assert_eq!(rig.concurrency("acme").await, 0);
    rig.wait_for("no live call", move |b| {
        b.live_calls() == 0 && b.ledger().concurrency(acme) == 0
    })
    .await;
    let totals = rig.totals().await;
    assert_eq!((totals.finished, totals.connected), (1, 0));
}

#[tokio::test]
async fn every_step_fails_then_the_fallback_plays() {
    let body = format!(
        "{}\n[[buyer]]\nid = \"beacon\"\ndestination = {{ sip = \"beacon@buyers.example.com\" }}\nbid = \"20.00\"\nring_timeout = 15\n",
        BODY.replace("buyers = [\"acme\"]", "buyers = [\"acme\", \"beacon\"]")
            .replace(
                "fallback = { hangup = \"NO_ROUTE_DESTINATION\" }",
                "fallback = { play = \"ivr/ivr-all_circuits_busy.wav\", cause = \"NORMAL_TEMPORARY_FAILURE\" }"
            )
    );
    let mut rig = crate::rig::rig(
        "all-fail",
        &body,
        &[
            ("acme", Behaviour::Busy),
            ("beacon", Behaviour::NeverAnswer),
        ],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    let mut expected = dialled(&["acme", "beacon"]);
    expected.extend(
        [
            "answer",
            "playback ivr/ivr-all_circuits_busy.wav",
            "hangup NORMAL_TEMPORARY_FAILURE",
        ]
        .map(String::from),
    );
    assert_eq!(rig.commands(), expected);
    assert_eq!(record.disposition, Disposition::Fallback);
    let used = record.fallback.clone().expect("a fallback");
    assert_eq!(used.reason, FallbackReason::AllStepsFailed);
    let outcomes: Vec<_> = record.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [LegOutcome::Busy, LegOutcome::NoAnswer]);
    assert_eq!(rig.concurrency("acme").await, 0);
    assert_eq!(rig.concurrency("beacon").await, 0);
    let totals = rig.totals().await;
    assert_eq!(
        (totals.routed, totals.fallbacks, totals.connected),
        (1, 1, 0)
    );
}

/// Two daemons started with one seed (two `parkway run --seed 7`) dial different leg uuids:
/// FreeSWITCH names its CDR files after them, and a second run would overwrite the first's.
#[tokio::test]
async fn two_runs_with_one_seed_dial_different_leg_uuids() {
    let mut legs = Vec::new();
    for run in 0..2 {
        let mut rig = crate::rig::rig(
            &format!("seed-run-{run}"),
            &BODY,
            &[("acme", answers(1, 5, &[]))],
        )
        .await;
        rig.campaign_call("+13105550100", "auto").await;
        let record = rig.record().await;
        assert_eq!(record.attempts.len(), 1);
        legs.push(record.attempts[0].leg_uuid.clone());
    }
    assert_ne!(legs[0], legs[1], "the same leg uuid in two runs");
}
