//! One buyer at a time: answer, convert, fail over.

use parkway::calls::{Disposition, LegOutcome};

use crate::rig::{answers, rig};

const ONE_ROUTER: &str = r#"
[[router]]
id = "auto"
match = { variable = "campaign", value = "auto" }
buyers = ["acme", "beacon"]
algorithm = "revenue"
fallback = { hangup = "NO_ROUTE_DESTINATION" }
max_wait = 60
"#;

fn buyers(acme_extra: &str, beacon_extra: &str) -> String {
    format!(
        r#"
[[buyer]]
id = "acme"
destination = {{ sip = "acme@buyers.example.com" }}
bid = "30.00"
ring_timeout = 15
{acme_extra}

[[buyer]]
id = "beacon"
destination = {{ sip = "beacon@buyers.example.com" }}
bid = "20.00"
ring_timeout = 15
{beacon_extra}
{ONE_ROUTER}"#
    )
}

#[tokio::test]
async fn answer_and_convert_on_duration() {
    let body = buyers(
        "conversion = { talk_seconds = 60 }\npayout = { per = \"conversion\", amount = \"30.00\" }",
        "",
    );
    let mut rig = rig("duration", &body, &[("acme", answers(3, 95, &[]))]).await;
    let call = rig
        .call("+13105550100", "18005550199", &[("campaign", "auto")])
        .await;
    let record = rig.record().await;
    assert_eq!(record.call, call.parked);
    assert_eq!(record.disposition, Disposition::Connected);
    assert_eq!(record.connected.as_deref(), Some("acme"));
    assert!(
        (94..=96).contains(&record.talk_secs),
        "talk {}",
        record.talk_secs
    );
    assert!(record.conversion.expect("evaluated").converted);
    assert_eq!(record.payout, 3000);
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    let executed = rig.executed();
    assert_eq!(executed[0], "set hangup_after_bridge=true");
    assert_eq!(executed[1], "set continue_on_fail=true");
    assert_eq!(executed[2], "set ringback=%(2000,4000,440,480)");
    // Every buyer leg is marked (`parkway_buyer`, and the SIP header naming the leg, which
    // survives a destination looping back into this switch) so that its far side is never
    // routed.
    let (parked, leg) = (&call.parked, &record.attempts[0].leg_uuid);
    assert_eq!(
        executed[3],
        format!(
            "bridge {{ignore_early_media=true,originate_timeout=20,parkway_call={parked},\
             parkway_router=auto}}[origination_uuid={leg},leg_timeout=15,parkway_buyer=acme,\
             parkway_attempt=1,sip_h_X-Parkway-Call={leg}]\
             sofia/external/acme@buyers.example.com"
        )
    );
    assert_eq!(rig.bridged_buyers(), vec![vec!["acme".to_string()]]);
    let acme = rig.buyer("acme").await;
    assert_eq!(
        (
            acme.attempts,
            acme.connections,
            acme.conversions,
            acme.revenue
        ),
        (1, 1, 1, 3000)
    );
    assert_eq!(rig.concurrency("acme").await, 0);
    let totals = rig.totals().await;
    assert_eq!(
        (
            totals.calls,
            totals.connected,
            totals.converted,
            totals.finished
        ),
        (1, 1, 1, 1)
    );
}

#[tokio::test]
async fn no_answer_goes_to_the_next_buyer() {
    let body = buyers("", "payout = { per = \"call\", amount = \"20.00\" }");
    let mut rig = rig(
        "noanswer",
        &body,
        &[
            ("acme", parkway_sim::engine::Behaviour::NeverAnswer),
            ("beacon", answers(2, 30, &[])),
        ],
    )
    .await;
    rig.call("+13105550100", "18005550199", &[("campaign", "auto")])
        .await;
    let record = rig.record().await;
    assert_eq!(
        rig.bridged_buyers(),
        vec![vec!["acme".to_string()], vec!["beacon".to_string()]]
    );
    eprintln!("{}", serde_json::to_string_pretty(&record).unwrap());
    assert_eq!(record.attempts[0].outcome, LegOutcome::NoAnswer);
    assert_eq!(record.attempts[1].outcome, LegOutcome::Connected);
    assert_eq!(record.connected.as_deref(), Some("beacon"));
    assert_eq!(record.payout, 2000);
    let acme = rig.buyer("acme").await;
    assert_eq!((acme.attempts, acme.connections), (1, 0));
    assert_eq!(rig.concurrency("acme").await, 0);
    assert_eq!(rig.concurrency("beacon").await, 0);
}

#[tokio::test]
async fn caller_abandons_while_ringing() {
    let body = buyers("", "");
    let mut rig = rig(
        "abandon-ring",
        &body,
        &[("acme", parkway_sim::engine::Behaviour::NeverAnswer)],
    )
    .await;
    let call = rig
        .call("+13105550100", "18005550199", &[("campaign", "auto")])
        .await;
    rig.caller_hangs_up(&call, 5 * parkway_sim::engine::SEC)
        .await;
    let record = rig.record().await;
    assert_eq!(record.disposition, Disposition::Abandoned);
    assert_eq!(
        record.attempts.len(),
        1,
        "nothing dialled after the caller left"
    );
    assert_eq!(record.attempts[0].outcome, LegOutcome::Cancelled);
    assert_eq!(
        record.attempts[0].hangup_cause.as_deref(),
        Some("ORIGINATOR_CANCEL")
    );
    assert_eq!(rig.concurrency("acme").await, 0);
    let acme = rig.buyer("acme").await;
    assert_eq!((acme.attempts, acme.connections), (1, 0));
    assert_eq!(rig.totals().await.abandoned, 1);
}

/// A `sip =` buyer is dialled through the Sofia profile it names, not always `external`.
#[tokio::test]
async fn a_sip_buyer_is_dialled_through_its_profile() {
    let body = buyers("", "").replace(
        r#"{ sip = "acme@buyers.example.com" }"#,
        r#"{ sip = "acme@buyers.example.com", profile = "carriers" }"#,
    );
    let mut rig = rig("sip-profile", &body, &[("acme", answers(1, 5, &[]))]).await;
    rig.call("+13105550100", "18005550199", &[("campaign", "auto")])
        .await;
    let record = rig.record().await;
    assert_eq!(record.connected.as_deref(), Some("acme"));
    let bridges = rig.bridges();
    assert!(
        bridges[0].contains("sofia/carriers/acme@buyers.example.com"),
        "{bridges:?}"
    );
}
