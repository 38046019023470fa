//! The endpoints a call driver dials, on the engine alone: `sofia/<profile>/sip:user@host`,
//! `sofia/gateway/<gw>/<number>`, and destinations that have no extension.

use parkway_esl::event::Event;
use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::{Behaviour, Engine, EngineConfig, SEC};

fn engine(seed: u64) -> Engine {
    Engine::new(EngineConfig {
        seed,
        ..EngineConfig::default()
    })
}

fn call() -> InboundCall {
    InboundCall::new("+13055550123", "Maria Lopez", "18005550199")
}

fn h(e: &Event, name: &str) -> String {
    e.header(name).map(|v| v.into_owned()).unwrap_or_default()
}

fn talker() -> Behaviour {
    Behaviour::Answer {
        ring_ms: 1000,
        digits: vec![(500, '1')],
        talk_ms: 3000,
    }
}

/// Bridges a fresh caller to `dial` and runs the call out; returns every event.
fn bridge(e: &mut Engine, dial: &str) -> Vec<Event> {
    let c = e.inbound_call(&call());
    e.sendmsg_execute(&c.parked, "bridge", dial, Some("br"))
        .expect("parked caller");
    e.run_until_idle(120 * SEC);
    let events = e.take_events();
    assert_eq!(e.live_channels().count(), 0, "every channel ends");
    events
}

fn bridge_done(events: &[Event]) -> &Event {
    events
        .iter()
        .find(|ev| {
            ev.name() == "CHANNEL_EXECUTE_COMPLETE"
                && ev.application_uuid().as_deref() == Some("br")
        })
        .expect("bridge completes")
}

fn var(e: &Event, name: &str) -> String {
    e.variable(name).map(|v| v.into_owned()).unwrap_or_default()
}

#[test]
fn sip_uri_destination_runs_the_user_part() {
    for (scheme, seed) in [("sip:", 1), ("sips:", 2), ("SIP:", 3)] {
        let mut e = engine(seed);
        e.dialplan_mut().add_behaviour("inbound", &talker());
        let dest = format!("{scheme}inbound@acme-cc.example.com");
        let events = bridge(&mut e, &format!("sofia/parkway/{dest};transport=tls"));
        let done = bridge_done(&events);
        assert_eq!(var(done, "originate_disposition"), "SUCCESS", "{scheme}");
        let answer = events
            .iter()
            .find(|ev| ev.name() == "CHANNEL_ANSWER" && h(ev, "Call-Direction") == "outbound")
            .expect("buyer answers");
        // mod_sofia names the leg after the destination as written, up to its parameters.
        assert_eq!(h(answer, "Channel-Name"), format!("sofia/parkway/{dest}"));
        let dtmf = events
            .iter()
            .find(|ev| ev.name() == "DTMF")
            .expect("buyer presses 1");
        assert_eq!(h(dtmf, "DTMF-Digit"), "1");
    }
}

#[test]
fn gateway_number_runs_its_extension_with_or_without_plus() {
    for (registered, dialled) in [
        ("+18175550123", "+18175550123"),
        ("18175550123", "+18175550123"),
        ("18175550123", "18175550123"),
    ] {
        let mut e = engine(4);
        e.dialplan_mut().add_behaviour(registered, &talker());
        let events = bridge(
            &mut e,
            &format!("[leg_timeout=20]sofia/gateway/carrier/{dialled}"),
        );
        let done = bridge_done(&events);
        assert_eq!(
            var(done, "originate_disposition"),
            "SUCCESS",
            "{registered} dialled as {dialled}"
        );
        let leg = events
            .iter()
            .find(|ev| ev.name() == "CHANNEL_ANSWER" && h(ev, "Call-Direction") == "outbound")
            .expect("buyer answers");
        assert_eq!(
            h(leg, "Channel-Name"),
            format!("sofia/carrier/{dialled}@carrier")
        );
        assert_eq!(h(leg, "Caller-Source"), "mod_sofia");
        assert_eq!(var(leg, "sip_gateway_name"), "carrier");
        assert_eq!(var(leg, "originate_endpoint"), "sofia");
    }
}

#[test]
fn gateway_prefers_the_sip_context() {
    let mut e = engine(5);
    e.dialplan_mut()
        .add_behaviour("18175550123", &Behaviour::Busy);
    let mut sip = talker().extension();
    sip.retain(|a| a.name != "send_dtmf");
    e.dialplan_mut().add("sip", "18175550123", sip);
    let events = bridge(&mut e, "sofia/gateway/carrier/+18175550123");
    assert_eq!(
        var(bridge_done(&events), "originate_disposition"),
        "SUCCESS"
    );
}

#[test]
fn unknown_sip_user_fails_the_leg_as_unallocated() {
    for dial in [
        "sofia/parkway/sip:nobody@acme-cc.example.com",
        "sofia/parkway/nobody@192.0.2.10:5080",
        "sofia/gateway/carrier/+18175550100",
    ] {
        let mut e = engine(6);
        let events = bridge(&mut e, &format!("[leg_timeout=20]{dial}"));
        let done = bridge_done(&events);
        assert_eq!(
            var(done, "originate_disposition"),
            "UNALLOCATED_NUMBER",
            "{dial}"
        );
        assert_eq!(var(done, "DIALSTATUS"), "UNALLOCATED_NUMBER");
        let hangups: Vec<_> = events
            .iter()
            .filter(|ev| {
                ev.name() == "CHANNEL_HANGUP" && h(ev, "Channel-Name").starts_with("sofia/")
            })
            .map(|ev| h(ev, "Hangup-Cause"))
            .collect();
        assert_eq!(hangups, ["UNALLOCATED_NUMBER"], "{dial}");
    }
}

#[test]
fn unknown_loopback_extension_fails_with_no_route() {
    let mut e = engine(7);
    let events = bridge(&mut e, "loopback/nobody/buyers");
    assert_eq!(
        var(bridge_done(&events), "originate_disposition"),
        "NO_ROUTE_DESTINATION"
    );
}

#[test]
fn unknown_destination_then_next_group_answers() {
    let mut e = engine(8);
    e.dialplan_mut().add_behaviour("inbound", &talker());
    let events = bridge(
        &mut e,
        "sofia/gateway/carrier/+18175550100|sofia/parkway/sip:inbound@acme-cc.example.com",
    );
    let done = bridge_done(&events);
    assert_eq!(var(done, "originate_disposition"), "SUCCESS");
    assert!(var(done, "originate_causes").contains(";UNALLOCATED_NUMBER|:"));
}

#[test]
fn originate_api_to_unknown_user_reports_the_cause() {
    let mut e = engine(9);
    e.bgapi(
        "originate",
        "sofia/parkway/sip:nobody@acme-cc.example.com &park()",
        Some("job-1"),
    );
    e.run_until_idle(60 * SEC);
    let events = e.take_events();
    let job = events
        .iter()
        .find(|ev| ev.name() == "BACKGROUND_JOB")
        .expect("job result");
    assert_eq!(
        job.body_text().map(|b| b.into_owned()),
        Some("-ERR UNALLOCATED_NUMBER\n".to_owned())
    );
    assert_eq!(e.live_channels().count(), 0);
}
