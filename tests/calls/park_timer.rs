//! FreeSWITCH's park timer: `park` takes `park_timeout` off the channel before CHANNEL_PARK, so
//! parkway reads the dialplan's copy in `parkway_park_timeout`; it never rings a buyer past
//! the timer, and the record says what FreeSWITCH did when the timer ended the call.

use parkway::calls::{Disposition, FallbackReason};
use parkway_sim::engine::channel::AppCall;
use parkway_sim::engine::{Behaviour, MS, SEC};

use crate::rig::{Rig, manual_rig, within};

/// acme never answers and may ring 26 s; the router would wait 50 s.
const BODY: &str = r#"
[[buyer]]
id = "acme"
destination = { sip = "acme@buyers.example.com" }
bid = "30.00"
ring_timeout = 26

[[router]]
id = "auto"
match = { variable = "campaign", value = "auto" }
buyers = ["acme"]
algorithm = "revenue"
fallback = { hangup = "NO_ROUTE_DESTINATION" }
max_wait = 50
"#;

/// The switch's dialplan for the campaign's number runs these `set`s, then `park`.
async fn dialplan(rig: &Rig, sets: &[&str]) {
    let mut apps: Vec<AppCall> = sets.iter().map(|s| AppCall::new("set", s)).collect();
    apps.push(AppCall::new("park", ""));
    rig.sim
        .with(move |e| e.dialplan_mut().add("public", "18005550199", apps))
        .await
        .expect("sim up");
}

/// The `leg_timeout` of the first bridge parkway sent, once it is sent.
async fn first_leg_timeout(rig: &Rig) -> u32 {
    let bridge = within(async {
        loop {
            if let Some(b) = rig.bridges().into_iter().next() {
                return b;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
    let ds = parkway_esl::dialstring::DialString::parse_app_arg(&bridge).expect("dial string");
    ds.legs()
        .filter_map(|l| l.vars.iter().find(|(k, _)| k == "leg_timeout"))
        .map(|(_, v)| v.parse::<u32>().expect("seconds"))
        .max()
        .expect("a leg_timeout")
}

#[tokio::test]
async fn the_dialplans_copy_of_park_timeout_bounds_the_ringing() {
    let mut rig = manual_rig("park-timer", BODY, &[("acme", Behaviour::NeverAnswer)]).await;
    // As dialplan/parkway.xml does it (the simulated switch does not expand `${…}`).
    dialplan(
        &rig,
        &[
            "parkway_park_timeout=10:NORMAL_TEMPORARY_FAILURE",
            "park_timeout=10:NORMAL_TEMPORARY_FAILURE",
        ],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let ring = first_leg_timeout(&rig).await;
    assert!(ring < 10, "rings past the park timer: {:?}", rig.bridges());
    // acme's leg times out; parkway's fallback reaches the caller before the park timer.
    // Time moves in small steps, each giving parkway the moment it needs to answer.
    for _ in 0..200 {
        if rig.executed().iter().any(|c| c.starts_with("hangup")) {
            break;
        }
        rig.sim.advance_by(100 * MS).await.expect("sim up");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    rig.sim.advance_by(100 * MS).await.expect("sim up");
    let record = rig.record().await;
    // The step ended before the park timer: the fallback ran, and ended the call.
    assert_eq!(record.disposition, Disposition::Fallback);
    assert_eq!(
        record.fallback.as_ref().map(|f| f.reason),
        Some(FallbackReason::WaitBudgetSpent)
    );
    assert_eq!(
        record.caller_hangup_cause.as_deref(),
        Some("NO_ROUTE_DESTINATION")
    );
}

#[tokio::test]
async fn a_caller_the_park_timer_hung_up_gets_no_fallback_in_the_record() {
    // The dialplan sets only park_timeout: parkway cannot see it (gone from CHANNEL_PARK) and
    // plans 26 s; FreeSWITCH hangs the caller up as the bridge returns, before the fallback.
    let mut rig = manual_rig(
        "park-timer-unseen",
        BODY,
        &[("acme", Behaviour::NeverAnswer)],
    )
    .await;
    dialplan(&rig, &["park_timeout=10:NORMAL_TEMPORARY_FAILURE"]).await;
    rig.campaign_call("+13105550100", "auto").await;
    assert_eq!(first_leg_timeout(&rig).await, 26);
    rig.sim
        .advance_by(26 * SEC + 500 * MS)
        .await
        .expect("sim up");
    rig.advance(1).await;
    let record = rig.record().await;
    assert_eq!(
        record.caller_hangup_cause.as_deref(),
        Some("NORMAL_TEMPORARY_FAILURE")
    );
    assert_eq!(record.fallback, None, "the fallback never ran");
    assert_ne!(record.disposition, Disposition::Fallback);
    assert!(
        record.notes.iter().any(|n| n.contains("never ran")),
        "{:?}",
        record.notes
    );
    assert_eq!(rig.totals().await.fallbacks, 0);
}
