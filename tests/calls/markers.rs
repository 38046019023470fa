//! The marker of parkway's own buyer legs (`X-Parkway-Call`) cannot be forged by a caller: it
//! must name a leg parkway is dialling.

use parkway::calls::Disposition;
use parkway_sim::engine::api::InboundCall;

use crate::rig::{acme, answers, rig};

#[tokio::test]
async fn a_caller_sending_the_marker_header_is_routed() {
    let body = acme(r#"payout = { per = "call", amount = "10.00" }"#);
    let mut rig = rig("forged-marker", &body, &[("acme", answers(2, 30, &[]))]).await;
    let call = InboundCall {
        sip_headers: vec![("X-Parkway-Call".into(), "anything".into())],
        variables: vec![("campaign".into(), "auto".into())],
        ..InboundCall::new("+13105550100", "Test Caller", "18005550199")
    };
    let handles = rig.sim.place_call(call).await.expect("sim up");
    rig.wait_for("the park judged", |b| {
        let t = b.totals();
        t.calls + t.own_legs_parked > 0
    })
    .await;
    let totals = rig.totals().await;
    assert_eq!(
        (totals.calls, totals.own_legs_parked, totals.forged_markers),
        (1, 0, 1),
        "routed as a call, the marker counted as forged"
    );
    let record = rig.record().await;
    assert_eq!(record.call, handles.parked);
    assert_eq!(record.disposition, Disposition::Connected);
    assert_eq!(record.connected.as_deref(), Some("acme"));
}

#[tokio::test]
async fn a_buyer_leg_looping_back_into_the_switch_is_still_ours() {
    // acme's destination comes back into this switch's public context, whose catch-all parks
    // it: the far side carries the marker with the leg's uuid and is left alone.
    let body = r#"
[[buyer]]
id = "acme"
destination = { dial_string = "loopback/5550100/public" }
bid = "30.00"
ring_timeout = 5

[[router]]
id = "auto"
match = { variable = "campaign", value = "auto" }
buyers = ["acme"]
algorithm = "revenue"
fallback = { hangup = "NO_ROUTE_DESTINATION" }
max_wait = 60
"#;
    let mut rig = rig("looped-leg", body, &[]).await;
    rig.campaign_call("+13105550100", "auto").await;
    rig.wait_for("the looped leg parked", |b| b.totals().own_legs_parked > 0)
        .await;
    let record = rig.record().await;
    let totals = rig.totals().await;
    assert_eq!((totals.calls, totals.forged_markers), (1, 0));
    assert_eq!(record.attempts.len(), 1);
}
