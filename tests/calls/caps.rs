//! Nobody to dial: the router's fallback; and a buyer at its concurrency cap left out.

use parkway::calls::{Disposition, FallbackReason, LegOutcome};
use parkway::config::Fallback;
use parkway::routing::{Metric, Reason, Scope};
use parkway_sim::engine::SEC;

use crate::rig::{answers, buyer_index, dialled, ids, manual_rig, rig};

/// Buyers `acme` (bid 30) and `beacon` (bid 20) with `extra` on each, and router `auto` with
/// `fallback`.
fn config(extra: &str, fallback: &str) -> String {
    format!(
        r#"
[[buyer]]
id = "acme"
destination = {{ sip = "acme@buyers.example.com" }}
bid = "30.00"
ring_timeout = 15
payout = {{ per = "call", amount = "10.00" }}
{extra}

[[buyer]]
id = "beacon"
destination = {{ sip = "beacon@buyers.example.com" }}
bid = "20.00"
ring_timeout = 15
payout = {{ per = "call", amount = "10.00" }}
{extra}

[[router]]
id = "auto"
match = {{ variable = "campaign", value = "auto" }}
buyers = ["acme", "beacon"]
algorithm = "revenue"
fallback = {{ {fallback} }}
max_wait = 60
"#
    )
}

/// Every buyer is filtered out (age 16, both want over 17): the fallback runs alone, and the
/// record says why each buyer was left out.
async fn nothing_eligible(tag: &str, fallback: &str, expected: &[&str], action: Fallback) {
    let filter = "filters = [{ token = \"age\", op = \">\", value = 17 }]";
    let body = config(filter, fallback);
    let mut rig = rig(
        tag,
        &body,
        &[
            ("acme", answers(1, 30, &[])),
            ("beacon", answers(1, 30, &[])),
        ],
    )
    .await;
    let call = rig
        .call(
            "+13105550100",
            "18005550199",
            &[("campaign", "auto"), ("age", "16")],
        )
        .await;
    // A transferred caller is still on the line somewhere: they leave after a while.
    rig.caller_hangs_up(&call, 30 * SEC).await;
    let record = rig.record().await;
    assert_eq!(
        rig.executed(),
        expected,
        "the fallback's commands, nothing else"
    );
    assert_eq!(record.disposition, Disposition::Fallback);
    let used = record.fallback.clone().expect("a fallback");
    assert_eq!(used.reason, FallbackReason::NothingEligible);
    assert_eq!(used.action, action);
    assert!(record.attempts.is_empty());
    assert!(record.decision.plan.is_empty());
    let mut left: Vec<_> = record
        .decision
        .left_out
        .iter()
        .map(|l| (l.buyer.as_str().to_owned(), l.reason.clone()))
        .collect();
    left.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(left.len(), 2, "{left:?}");
    for (buyer, (id, reason)) in ["acme", "beacon"].iter().zip(&left) {
        assert_eq!(id, buyer);
        match reason {
            Reason::TokenMismatch { token, actual, .. } => {
                assert_eq!((&**token, actual.as_deref()), ("age", Some("16")));
            }
            other => panic!("{buyer} left out for {other:?}"),
        }
    }
    let totals = rig.totals().await;
    assert_eq!((totals.calls, totals.routed, totals.fallbacks), (1, 0, 1));
    assert_eq!(rig.buyer("acme").await.attempts, 0);
}

#[tokio::test]
async fn nothing_eligible_hangs_up_with_the_cause() {
    nothing_eligible(
        "fallback-hangup",
        "hangup = \"NO_ROUTE_DESTINATION\"",
        &["hangup NO_ROUTE_DESTINATION"],
        Fallback::Hangup {
            cause: "NO_ROUTE_DESTINATION".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn nothing_eligible_plays_a_file_then_hangs_up() {
    nothing_eligible(
        "fallback-play",
        "play = \"ivr/ivr-all_circuits_busy.wav\", cause = \"NORMAL_TEMPORARY_FAILURE\"",
        &[
            "answer",
            "playback ivr/ivr-all_circuits_busy.wav",
            "hangup NORMAL_TEMPORARY_FAILURE",
        ],
        Fallback::Play {
            file: "ivr/ivr-all_circuits_busy.wav".into(),
            cause: "NORMAL_TEMPORARY_FAILURE".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn nothing_eligible_transfers() {
    nothing_eligible(
        "fallback-transfer",
        "transfer = \"9000 XML default\"",
        &["transfer 9000 XML default"],
        Fallback::Transfer {
            extension: "9000 XML default".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn concurrency_cap_skips_the_buyer_until_its_call_ends() {
    let body = config("", "hangup = \"NO_ROUTE_DESTINATION\"").replacen(
        "{ per = \"call\", amount = \"10.00\" }\n",
        "{ per = \"call\", amount = \"10.00\" }\n[buyer.caps]\nconcurrency = 1\n",
        1,
    );
    let mut rig = manual_rig(
        "concurrency",
        &body,
        &[
            ("acme", answers(2, 120, &[])),
            ("beacon", answers(2, 20, &[])),
        ],
    )
    .await;
    let acme = buyer_index(&rig.config, "acme");
    let beacon = buyer_index(&rig.config, "beacon");

    // Call 1 goes to acme and is bridged.
    let first = rig.campaign_call("+13105550101", "auto").await;
    rig.wait_for("acme dialled", move |b| b.ledger().concurrency(acme) == 1)
        .await;
    rig.advance(3).await;
    rig.wait_for("call 1 bridged", |b| b.totals().connected == 1)
        .await;

    // Call 2 while call 1 is up: acme is at its cap, beacon gets it.
    let second = rig.campaign_call("+13105550102", "auto").await;
    rig.wait_for("beacon dialled", move |b| {
        b.ledger().concurrency(beacon) == 1
    })
    .await;
    rig.advance(3).await;
    rig.wait_for("call 2 bridged", |b| b.totals().connected == 2)
        .await;
    assert_eq!(rig.concurrency("acme").await, 1, "call 1 still up");
    rig.advance(25).await;
    let record = rig.record().await;
    assert_eq!(record.call, second.parked);
    assert_eq!(record.connected.as_deref(), Some("beacon"));
    assert_eq!(record.attempts.len(), 1, "acme not dialled");
    let left: Vec<_> = record.decision.left_out.iter().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].buyer.as_str(), "acme");
    match &left[0].reason {
        Reason::OverCap {
            scope,
            metric,
            window,
            used,
            limit,
            ..
        } => {
            assert_eq!(scope, &Scope::Buyer);
            assert_eq!(
                (*metric, *window, *used, *limit),
                (Metric::Concurrency, None, 1, 1)
            );
        }
        other => panic!("acme left out for {other:?}"),
    }

    // Call 1 ends: acme is free again, and call 3 reaches it.
    rig.advance(120).await;
    let record = rig.record().await;
    assert_eq!(record.call, first.parked);
    assert_eq!(record.connected.as_deref(), Some("acme"));
    assert_eq!(rig.concurrency("acme").await, 0);
    let third = rig.campaign_call("+13105550103", "auto").await;
    rig.wait_for("acme dialled again", move |b| {
        b.ledger().concurrency(acme) == 1
    })
    .await;
    rig.advance(3).await;
    rig.advance(130).await;
    let record = rig.record().await;
    assert_eq!(record.call, third.parked);
    assert_eq!(record.connected.as_deref(), Some("acme"));
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    assert!(record.decision.left_out.is_empty());

    let mut commands = dialled(&["acme"]);
    commands.extend(dialled(&["beacon"]));
    commands.extend(dialled(&["acme"]));
    assert_eq!(rig.commands(), commands);
    assert_eq!(
        rig.bridged_buyers(),
        ids(&[&["acme"], &["beacon"], &["acme"]])
    );
    let (a, b) = (rig.buyer("acme").await, rig.buyer("beacon").await);
    assert_eq!((a.attempts, a.connections, a.revenue), (2, 2, 2000));
    assert_eq!((b.attempts, b.connections, b.revenue), (1, 1, 1000));
    assert_eq!(rig.concurrency("acme").await, 0);
    assert_eq!(rig.concurrency("beacon").await, 0);
}
