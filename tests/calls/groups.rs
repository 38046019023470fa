//! Failing over and dialling groups: busy → next buyer, simultaneous (`,`) and sequential (`|`).

use parkway::calls::{Disposition, LegOutcome};
use parkway_esl::dialstring::DialString;
use parkway_sim::engine::Behaviour;

use crate::rig::{Rig, answers, dialled, ids, rig};

/// Buyers `acme` (bid 30) and `beacon` (bid 20), both paying 10.00 a call, and `routing`
/// (groups and the router's buyer list).
fn config(routing: &str) -> String {
    format!(
        r#"
[[buyer]]
id = "acme"
destination = {{ sip = "acme@buyers.example.com" }}
bid = "30.00"
ring_timeout = 15
payout = {{ per = "call", amount = "10.00" }}

[[buyer]]
id = "beacon"
destination = {{ sip = "beacon@buyers.example.com" }}
bid = "20.00"
ring_timeout = 15
payout = {{ per = "call", amount = "10.00" }}
{routing}
fallback = {{ hangup = "NO_ROUTE_DESTINATION" }}
max_wait = 60
algorithm = "revenue"
"#
    )
}

fn group(mode: &str) -> String {
    format!(
        r#"
[[group]]
id = "pair"
members = ["acme", "beacon"]
mode = "{mode}"

[[router]]
id = "auto"
match = {{ variable = "campaign", value = "auto" }}
groups = ["pair"]"#
    )
}

/// The groups (`|`-separated) of the only bridge, each as its legs' buyers.
fn bridge_groups(rig: &Rig) -> Vec<Vec<String>> {
    let bridges = rig.bridges();
    assert_eq!(bridges.len(), 1, "one bridge: {bridges:?}");
    let ds = DialString::parse_app_arg(&bridges[0]).expect("dial string");
    assert_eq!(ds.branches.len(), 1);
    ds.branches[0]
        .groups
        .iter()
        .map(|g| {
            g.legs
                .iter()
                .filter_map(|l| l.vars.iter().find(|(k, _)| k == "parkway_buyer"))
                .map(|(_, v)| v.clone())
                .collect()
        })
        .collect()
}

async fn both_idle(rig: &Rig) {
    assert_eq!(rig.concurrency("acme").await, 0);
    assert_eq!(rig.concurrency("beacon").await, 0);
}

#[tokio::test]
async fn busy_goes_to_the_next_buyer() {
    let routing = r#"
[[router]]
id = "auto"
match = { variable = "campaign", value = "auto" }
buyers = ["acme", "beacon"]"#;
    let mut rig = rig(
        "busy",
        &config(routing),
        &[("acme", Behaviour::Busy), ("beacon", answers(2, 30, &[]))],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme", "beacon"]));
    assert_eq!(rig.bridged_buyers(), ids(&[&["acme"], &["beacon"]]));
    assert_eq!(record.attempts.len(), 2);
    assert_eq!(record.attempts[0].outcome, LegOutcome::Busy);
    assert_eq!(
        record.attempts[0].hangup_cause.as_deref(),
        Some("USER_BUSY")
    );
    assert_eq!(record.attempts[0].answered_at, None);
    assert_eq!(record.attempts[1].outcome, LegOutcome::Connected);
    assert_eq!(record.attempts[1].step, 2);
    assert_eq!(record.connected.as_deref(), Some("beacon"));
    assert_eq!(record.disposition, Disposition::Connected);
    assert_eq!(record.payout, 1000);
    let (acme, beacon) = (rig.buyer("acme").await, rig.buyer("beacon").await);
    assert_eq!((acme.attempts, acme.connections, acme.revenue), (1, 0, 0));
    assert_eq!(
        (beacon.attempts, beacon.connections, beacon.revenue),
        (1, 1, 1000)
    );
    both_idle(&rig).await;
}

#[tokio::test]
async fn simultaneous_group_second_buyer_answers_first() {
    let mut rig = rig(
        "simultaneous",
        &config(&group("simultaneous")),
        &[
            ("acme", answers(8, 30, &[])),
            ("beacon", answers(3, 30, &[])),
        ],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme,beacon"]));
    // One step: both legs at once, joined by `,`.
    assert_eq!(bridge_groups(&rig), ids(&[&["acme", "beacon"]]));
    assert!(
        rig.bridges()[0].contains(",[origination_uuid="),
        "{:?}",
        rig.bridges()
    );
    assert_eq!(record.attempts.len(), 2);
    let by = |id: &str| {
        record
            .attempts
            .iter()
            .find(|a| a.buyer.as_str() == id)
            .expect("attempt")
    };
    assert_eq!(by("acme").outcome, LegOutcome::LostRace);
    assert_eq!(by("acme").hangup_cause.as_deref(), Some("LOSE_RACE"));
    assert_eq!(by("acme").group.as_ref().map(|g| g.as_str()), Some("pair"));
    assert_eq!(by("beacon").outcome, LegOutcome::Connected);
    assert_eq!(record.connected.as_deref(), Some("beacon"));
    assert_eq!(record.disposition, Disposition::Connected);
    assert!(
        (29..=31).contains(&record.talk_secs),
        "talk {}",
        record.talk_secs
    );
    assert_eq!(record.payout, 1000);
    let (acme, beacon) = (rig.buyer("acme").await, rig.buyer("beacon").await);
    assert_eq!((acme.attempts, acme.connections), (1, 0));
    assert_eq!(
        (beacon.attempts, beacon.connections, beacon.revenue),
        (1, 1, 1000)
    );
    both_idle(&rig).await;
    assert_eq!(rig.totals().await.connected, 1);
}

#[tokio::test]
async fn sequential_group_first_member_fails_second_connects() {
    let mut rig = rig(
        "sequential",
        &config(&group("sequential")),
        &[("acme", Behaviour::Busy), ("beacon", answers(2, 30, &[]))],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme|beacon"]));
    // One bridge, the members one after the other (`|`).
    assert_eq!(bridge_groups(&rig), ids(&[&["acme"], &["beacon"]]));
    assert!(
        rig.bridges()[0].contains("|[origination_uuid="),
        "{:?}",
        rig.bridges()
    );
    assert_eq!(record.attempts.len(), 2);
    assert_eq!(record.attempts[0].buyer.as_str(), "acme");
    assert_eq!(record.attempts[0].outcome, LegOutcome::Busy);
    assert_eq!(
        record.attempts[0].hangup_cause.as_deref(),
        Some("USER_BUSY")
    );
    assert_eq!(record.attempts[1].buyer.as_str(), "beacon");
    assert_eq!(record.attempts[1].outcome, LegOutcome::Connected);
    assert_eq!(record.connected.as_deref(), Some("beacon"));
    assert_eq!(record.payout, 1000);
    let (acme, beacon) = (rig.buyer("acme").await, rig.buyer("beacon").await);
    assert_eq!((acme.attempts, acme.connections), (1, 0));
    assert_eq!(
        (beacon.attempts, beacon.connections, beacon.revenue),
        (1, 1, 1000)
    );
    both_idle(&rig).await;
}

#[tokio::test]
async fn sequential_group_first_member_connects_second_never_dialled() {
    let mut rig = rig(
        "sequential-first",
        &config(&group("sequential")),
        &[
            ("acme", answers(2, 30, &[])),
            ("beacon", answers(2, 30, &[])),
        ],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme|beacon"]));
    assert_eq!(bridge_groups(&rig), ids(&[&["acme"], &["beacon"]]));
    assert_eq!(record.connected.as_deref(), Some("acme"));
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    assert_eq!(record.payout, 1000);
    let (acme, beacon) = (rig.buyer("acme").await, rig.buyer("beacon").await);
    assert_eq!((acme.attempts, acme.connections), (1, 1));
    assert_eq!(
        (beacon.attempts, beacon.connections),
        (0, 0),
        "beacon never rang"
    );
    both_idle(&rig).await;
    assert_eq!(rig.daemon.query(|b| b.live_calls()).await, Some(0));
}

#[tokio::test]
async fn caller_leaves_while_the_first_sequential_member_rings() {
    let mut rig = rig(
        "sequential-abandon",
        &config(&group("sequential")),
        &[
            ("acme", Behaviour::NeverAnswer),
            ("beacon", answers(2, 30, &[])),
        ],
    )
    .await;
    let call = rig.campaign_call("+13105550100", "auto").await;
    rig.caller_hangs_up(&call, 5 * parkway_sim::engine::SEC)
        .await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme|beacon"]));
    assert_eq!(record.disposition, Disposition::Abandoned);
    assert_eq!(
        record.attempts.len(),
        1,
        "beacon never rang: {:?}",
        record.attempts
    );
    assert_eq!(record.attempts[0].buyer.as_str(), "acme");
    assert_eq!(record.attempts[0].outcome, LegOutcome::Cancelled);
    let (acme, beacon) = (rig.buyer("acme").await, rig.buyer("beacon").await);
    assert_eq!((acme.attempts, beacon.attempts), (1, 0));
    both_idle(&rig).await;
}
