//! Conversion rules and payouts: keypress, `all`, per-minute, duplicate callers.

use parkway::billing::ConvertedBy;
use parkway::calls::{Disposition, LegOutcome};
use parkway_sim::engine::SEC;

use crate::rig::{acme, answers, dialled, ids, rig};

#[tokio::test]
async fn converts_when_the_buyer_presses_the_digit() {
    let body = acme(
        "conversion = { digit = \"1\" }\npayout = { per = \"conversion\", amount = \"25.00\" }",
    );
    // Presses 2 (not the digit) at 3 s, then 1 at 8 s; hangs up at 20 s.
    let buyer = answers(2, 20, &[(3, '2'), (8, '1')]);
    let mut rig = rig("keypress", &body, &[("acme", buyer)]).await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme"]));
    assert_eq!(rig.bridged_buyers(), ids(&[&["acme"]]));
    assert_eq!(record.disposition, Disposition::Connected);
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    let conversion = record.conversion.expect("evaluated");
    assert!(conversion.converted);
    assert_eq!(conversion.by, Some(ConvertedBy::Keypress));
    assert_eq!(record.payout, 2500);
    let acme = rig.buyer("acme").await;
    assert_eq!(
        (
            acme.attempts,
            acme.connections,
            acme.conversions,
            acme.revenue
        ),
        (1, 1, 1, 2500)
    );
    assert_eq!(rig.totals().await.converted, 1);
    assert_eq!(rig.concurrency("acme").await, 0);
}

#[tokio::test]
async fn a_wrong_digit_does_not_convert() {
    let body = acme(
        "conversion = { digit = \"1\" }\npayout = { per = \"conversion\", amount = \"25.00\" }",
    );
    let mut rig = rig(
        "keypress-wrong",
        &body,
        &[("acme", answers(2, 20, &[(3, '9')]))],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(record.disposition, Disposition::Connected);
    assert!(!record.conversion.expect("evaluated").converted);
    assert_eq!(record.payout, 0);
    let acme = rig.buyer("acme").await;
    assert_eq!(
        (acme.connections, acme.conversions, acme.revenue),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn all_rule_needs_both_talk_time_and_digit() {
    let body = acme(
        "conversion = { talk_seconds = 60, digit = \"1\", when = \"all\" }\n\
         payout = { per = \"conversion\", amount = \"45.00\" }",
    );
    // Long enough (95 s), but no digit.
    let mut rig = rig("all-rule", &body, &[("acme", answers(2, 95, &[]))]).await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme"]));
    assert_eq!(record.disposition, Disposition::Connected);
    assert!(
        (94..=96).contains(&record.talk_secs),
        "talk {}",
        record.talk_secs
    );
    let conversion = record.conversion.expect("evaluated");
    assert!(!conversion.converted);
    assert_eq!(conversion.by, None);
    assert_eq!(record.payout, 0);
    let acme = rig.buyer("acme").await;
    assert_eq!(
        (
            acme.attempts,
            acme.connections,
            acme.conversions,
            acme.revenue
        ),
        (1, 1, 0, 0)
    );
    assert_eq!(rig.totals().await.converted, 0);
}

#[tokio::test]
async fn all_rule_with_only_the_digit_does_not_convert() {
    let body = acme(
        "conversion = { talk_seconds = 60, digit = \"1\", when = \"all\" }\n\
         payout = { per = \"conversion\", amount = \"45.00\" }",
    );
    // Presses 1, but hangs up after 20 s.
    let mut rig = rig("all-digit", &body, &[("acme", answers(2, 20, &[(3, '1')]))]).await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme"]));
    assert!(
        (19..=21).contains(&record.talk_secs),
        "talk {}",
        record.talk_secs
    );
    assert!(!record.conversion.expect("evaluated").converted);
    assert_eq!(record.payout, 0);
    assert_eq!(rig.buyer("acme").await.conversions, 0);
}

#[tokio::test]
async fn all_rule_converts_when_both_hold() {
    let body = acme(
        "conversion = { talk_seconds = 60, digit = \"1\", when = \"all\" }\n\
         payout = { per = \"conversion\", amount = \"45.00\" }",
    );
    let mut rig = rig("all-both", &body, &[("acme", answers(2, 95, &[(10, '1')]))]).await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    let conversion = record.conversion.expect("evaluated");
    assert_eq!(conversion.by, Some(ConvertedBy::Both));
    assert_eq!(record.payout, 4500);
}

#[tokio::test]
async fn per_minute_pays_every_started_minute() {
    let body = acme("payout = { per = \"minute\", amount = \"0.45\" }");
    // 150 s of talk: 3 started minutes.
    let mut rig = rig("per-minute", &body, &[("acme", answers(2, 150, &[]))]).await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme"]));
    assert!(
        (149..=151).contains(&record.talk_secs),
        "talk {}",
        record.talk_secs
    );
    assert_eq!(record.payout, 3 * 45);
    assert_eq!(rig.buyer("acme").await.revenue, 135);
    assert_eq!(rig.totals().await.revenue, 135);
}

#[tokio::test]
async fn duplicate_conversion_pays_nothing_inside_the_window_and_again_after_it() {
    let body = acme(
        "conversion = { talk_seconds = 30 }\n\
         payout = { per = \"conversion\", amount = \"30.00\" }\n\
         duplicate = { scope = \"buyer\", window = \"1h\", action = \"no-pay\" }",
    );
    let mut rig = rig("duplicate", &body, &[("acme", answers(2, 40, &[]))]).await;
    rig.campaign_call("+13105550100", "auto").await;
    let first = rig.record().await;
    assert!(first.conversion.expect("evaluated").converted);
    assert_eq!(first.payout, 3000);
    assert_eq!(first.duplicate, None);

    // Same caller, a minute later: converted again, but a duplicate.
    rig.sim.advance_by(60 * SEC).await.expect("sim up");
    rig.campaign_call("+13105550100", "auto").await;
    let second = rig.record().await;
    assert_eq!(second.connected.as_deref(), Some("acme"));
    assert!(second.conversion.expect("evaluated").converted);
    assert_eq!(second.payout, 0);
    let dup = second.duplicate.clone().expect("a duplicate");
    assert_eq!(dup.window_secs, 3600);
    let (bridged, ended) = (
        first.bridged_at.expect("bridged"),
        first.ended_at.expect("ended"),
    );
    assert!(
        bridged < dup.previous_at && dup.previous_at <= ended,
        "points at the first conversion: {dup:?}"
    );

    // Another caller in the window is not a duplicate.
    rig.campaign_call("+13105550111", "auto").await;
    let other = rig.record().await;
    assert_eq!((other.payout, other.duplicate.is_none()), (3000, true));

    // The first caller again, past the window: pays again.
    rig.sim.advance_by(2 * 3600 * SEC).await.expect("sim up");
    rig.campaign_call("+13105550100", "auto").await;
    let third = rig.record().await;
    assert_eq!(third.payout, 3000);
    assert_eq!(third.duplicate, None);

    let acme = rig.buyer("acme").await;
    assert_eq!(
        (acme.connections, acme.conversions, acme.revenue),
        (4, 4, 9000)
    );
    assert_eq!(rig.bridges().len(), 4, "one bridge a call");
}

#[tokio::test]
async fn the_callers_keypress_does_not_convert() {
    let body = acme(
        "conversion = { digit = \"1\" }\npayout = { per = \"conversion\", amount = \"25.00\" }",
    );
    let mut rig = rig("keypress-caller", &body, &[("acme", answers(2, 20, &[]))]).await;
    let call = rig.campaign_call("+13105550100", "auto").await;
    // The caller presses 1 ten seconds in (the buyer answered at 2 s): DTMF on the caller's
    // channels, not on the buyer's leg.
    let phone = call.phone.clone();
    rig.sim
        .with(move |e| {
            let at = e.now() + 10 * SEC;
            e.schedule_dtmf(&phone, at, "1")
        })
        .await
        .expect("sim up")
        .expect("channel exists");
    let record = rig.record().await;
    assert_eq!(record.disposition, Disposition::Connected);
    assert!(!record.conversion.expect("evaluated").converted);
    assert_eq!(record.payout, 0);
    assert_eq!(rig.buyer("acme").await.conversions, 0);
}
