//! Behaviour of the simulated switch's engine on its own (no captures): parking and park
//! timeouts, api replies, applications, dial-string outcomes, buyer behaviours, CDRs, faults.

use parkway_esl::event::Event;
use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::{Behaviour, Cause, Engine, EngineConfig, MS, SEC};

fn engine(seed: u64) -> Engine {
    Engine::new(EngineConfig {
        seed,
        ..EngineConfig::default()
    })
}

fn call() -> InboundCall {
    InboundCall {
        sip_headers: vec![("X-Campaign".into(), "solar".into())],
        variables: vec![("parkway_call_id".into(), "pk-1".into())],
        ..InboundCall::new("+13055550123", "Maria Lopez", "18005550199")
    }
}

fn h(e: &Event, name: &str) -> String {
    e.header(name).map(|v| v.into_owned()).unwrap_or_default()
}

/// (Event-Name, extra) for the events of one channel.
fn of(events: &[Event], uuid: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.unique_id().as_deref() == Some(uuid))
        .map(|e| {
            let name = h(e, "Event-Name");
            match name.as_str() {
                "CHANNEL_EXECUTE" | "CHANNEL_EXECUTE_COMPLETE" => {
                    format!("{name}({})", h(e, "Application"))
                }
                "CHANNEL_HANGUP" => format!("{name}({})", h(e, "Hangup-Cause")),
                "DTMF" => format!("{name}({})", h(e, "DTMF-Digit")),
                _ => name,
            }
        })
        .collect()
}

#[test]
fn inbound_call_parks_with_its_variables() {
    let mut e = engine(1);
    let c = e.inbound_call(&call());
    let events = e.take_events();
    let park = events
        .iter()
        .find(|ev| ev.name() == "CHANNEL_PARK")
        .expect("parked");
    assert_eq!(park.unique_id().as_deref(), Some(c.parked.as_str()));
    assert_eq!(
        park.call_direction(),
        Some(parkway_esl::event::Direction::Inbound)
    );
    assert_eq!(park.variable("sip_h_X-Campaign").as_deref(), Some("solar"));
    assert_eq!(park.variable("parkway_call_id").as_deref(), Some("pk-1"));
    assert_eq!(park.caller_id_name().as_deref(), Some("Maria Lopez"));
    assert_eq!(h(park, "Answer-State"), "ringing");
    assert_eq!(h(park, "Channel-Name"), "loopback/18005550199-b");
    assert_eq!(
        e.api("uuid_getvar", &format!("{} parkway_call_id", c.parked)),
        "pk-1"
    );
    assert_eq!(
        e.api("uuid_getvar", &format!("{} nope", c.parked)),
        "_undef_"
    );
    assert_eq!(e.api("uuid_exists", &c.parked), "true");
    assert_eq!(e.api("uuid_exists", "no-such"), "false");
}

#[test]
fn park_timeout_hangs_up_with_its_cause() {
    let mut e = engine(2);
    e.dialplan_mut().add(
        "public",
        "*",
        vec![
            parkway_sim::engine::channel::AppCall::new("set", "park_timeout=5:USER_BUSY"),
            parkway_sim::engine::channel::AppCall::new("park", ""),
        ],
    );
    let c = e.inbound_call(&call());
    e.advance_to(4 * SEC);
    assert_eq!(e.api("uuid_exists", &c.parked), "true");
    e.advance_to(6 * SEC);
    let events = e.take_events();
    let seq = of(&events, &c.parked);
    assert!(
        seq.contains(&"CHANNEL_HANGUP(USER_BUSY)".to_owned()),
        "{seq:?}"
    );
    assert_eq!(seq.last().map(String::as_str), Some("CHANNEL_STATE"));
    assert_eq!(e.api("uuid_exists", &c.parked), "false");
    // The phone leg follows its loopback partner.
    assert!(of(&events, &c.phone).contains(&"CHANNEL_HANGUP(USER_BUSY)".to_owned()));
}

#[test]
fn park_takes_park_timeout_before_channel_park() {
    // inbound_plain.recv: `variable_park_timeout` is on the `park` CHANNEL_EXECUTE, not on
    // CHANNEL_PARK, and uuid_getvar finds nothing afterwards (switch_ivr_park clears it).
    let mut e = engine(5);
    let c = e.inbound_call(&call());
    let events = e.take_events();
    let execute = events
        .iter()
        .find(|ev| ev.name() == "CHANNEL_EXECUTE" && h(ev, "Application") == "park")
        .expect("park executed");
    assert_eq!(
        execute.variable("park_timeout").as_deref(),
        Some("60:NORMAL_CLEARING")
    );
    let park = events
        .iter()
        .find(|ev| ev.name() == "CHANNEL_PARK")
        .expect("parked");
    assert_eq!(park.variable("park_timeout"), None);
    assert_eq!(
        e.api("uuid_getvar", &format!("{} park_timeout", c.parked)),
        "_undef_"
    );
}

#[test]
fn park_timeout_during_a_bridge_hangs_up_when_the_bridge_returns() {
    // switch_ivr_park checks its timer between the commands it runs: a bridge ringing past
    // the timeout is not cut, but the caller is hung up with the timeout's cause as soon as
    // it returns, before a command queued meanwhile runs.
    let mut e = engine(6);
    e.dialplan_mut().add(
        "public",
        "*",
        vec![
            parkway_sim::engine::channel::AppCall::new(
                "set",
                "park_timeout=10:NORMAL_TEMPORARY_FAILURE",
            ),
            parkway_sim::engine::channel::AppCall::new("set", "continue_on_fail=true"),
            parkway_sim::engine::channel::AppCall::new("park", ""),
        ],
    );
    let c = e.inbound_call(&call());
    e.sendmsg_execute(
        &c.parked,
        "bridge",
        "[leg_timeout=20]loopback/no_answer/buyers",
        Some("ev-bridge"),
    )
    .expect("channel");
    e.advance_to(15 * SEC);
    assert_eq!(
        e.api("uuid_exists", &c.parked),
        "true",
        "the bridge still rings"
    );
    e.advance_to(21 * SEC);
    e.sendmsg_execute(
        &c.parked,
        "hangup",
        "NO_ROUTE_DESTINATION",
        Some("ev-fallback"),
    )
    .ok();
    e.advance_to(22 * SEC);
    let events = e.take_events();
    let seq = of(&events, &c.parked);
    assert!(
        seq.contains(&"CHANNEL_HANGUP(NORMAL_TEMPORARY_FAILURE)".to_owned()),
        "{seq:?}"
    );
    assert!(
        !seq.contains(&"CHANNEL_EXECUTE(hangup)".to_owned()),
        "the fallback never ran: {seq:?}"
    );
    assert_eq!(e.api("uuid_exists", &c.parked), "false");
}

#[test]
fn api_replies_like_freeswitch() {
    let mut e = engine(3);
    assert_eq!(
        e.api("parkway_no_such_command", ""),
        "-ERR parkway_no_such_command Command not found!\n"
    );
    assert_eq!(e.api("global_getvar", "domain"), "127.0.0.1");
    assert_eq!(e.api("show", "channels as json"), "{\"row_count\": 0}\n");
    e.advance_to(3_218_205);
    assert!(e.api("status", "").starts_with(
        "UP 0 years, 0 days, 0 hours, 0 minutes, 3 seconds, 218 milliseconds, 205 microseconds\n"
    ));
    assert_eq!(e.api("uuid_kill", "nope"), "-ERR No such channel!\n");
    let c = e.inbound_call(&call());
    let rows: serde_json::Value =
        serde_json::from_str(&e.api("show", "channels as json")).expect("json");
    assert_eq!(rows["row_count"], 2);
    assert_eq!(rows["rows"][1]["application"], "park");
    assert_eq!(e.api("uuid_setvar", &format!("{} k v", c.parked)), "+OK\n");
    assert_eq!(e.api("uuid_getvar", &format!("{} k", c.parked)), "v");
    assert_eq!(e.api("uuid_kill", &c.parked), "+OK\n");
    assert_eq!(e.api("uuid_exists", &c.phone), "false");
}

#[test]
fn unknown_application_and_missing_file() {
    let mut e = engine(4);
    let c = e.inbound_call(&call());
    e.take_events();
    e.sendmsg_execute(&c.parked, "playback", "missing.wav", Some("ev-1"))
        .expect("channel");
    let events = e.take_events();
    let done = events
        .iter()
        .find(|ev| ev.name() == "CHANNEL_EXECUTE_COMPLETE")
        .expect("completes");
    assert_eq!(
        done.application_response().as_deref(),
        Some("FILE NOT FOUND")
    );
    assert_eq!(done.application_uuid().as_deref(), Some("ev-1"));
    assert!(!events.iter().any(|ev| ev.name() == "PLAYBACK_START"));
    e.sendmsg_execute(&c.parked, "no_such_app", "", None)
        .expect("channel");
    let events = e.take_events();
    assert!(!events.iter().any(|ev| ev.name() == "CHANNEL_EXECUTE"));
    assert!(
        of(&events, &c.parked).contains(&"CHANNEL_HANGUP(DESTINATION_OUT_OF_ORDER)".to_owned())
    );
    assert_eq!(
        e.sendmsg_execute(&c.parked, "answer", "", None),
        Err(parkway_sim::engine::EngineError::NoSuchChannel)
    );
}

#[test]
fn configured_buyer_answers_presses_and_hangs_up() {
    let mut e = engine(5);
    e.dialplan_mut().add_behaviour(
        "acme",
        &Behaviour::Answer {
            ring_ms: 1500,
            digits: vec![(1000, '7')],
            talk_ms: 3000,
        },
    );
    let c = e.inbound_call(&call());
    e.sendmsg_execute(&c.parked, "set", "hangup_after_bridge=true", None)
        .unwrap();
    e.sendmsg_execute(
        &c.parked,
        "bridge",
        "[parkway_buyer=b9]loopback/acme/buyers",
        Some("br"),
    )
    .unwrap();
    e.run_until_idle(60 * SEC);
    let events = e.take_events();
    let answer = events
        .iter()
        .find(|ev| ev.name() == "CHANNEL_ANSWER" && h(ev, "Channel-Name") == "loopback/acme-a")
        .expect("buyer answers");
    assert_eq!(
        h(answer, "Event-Date-Timestamp"),
        (EngineConfig::default().epoch_us + 1500 * MS).to_string()
    );
    let dtmf: Vec<_> = events.iter().filter(|ev| ev.name() == "DTMF").collect();
    assert_eq!(
        dtmf.len(),
        2,
        "on the bridge's B leg and on the caller's phone"
    );
    assert_eq!(h(dtmf[0], "Channel-Name"), "loopback/acme-a");
    assert_eq!(dtmf[1].unique_id().as_deref(), Some(c.phone.as_str()));
    let done = events
        .iter()
        .find(|ev| {
            ev.name() == "CHANNEL_EXECUTE_COMPLETE"
                && ev.application_uuid().as_deref() == Some("br")
        })
        .expect("bridge completes");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("SUCCESS")
    );
    assert_eq!(
        done.variable("bridge_hangup_cause").as_deref(),
        Some("NORMAL_CLEARING")
    );
    assert_eq!(e.live_channels().count(), 0);
    let cdrs = e.take_cdrs();
    assert_eq!(cdrs.len(), 4, "one CDR per channel");
    let parked = cdrs
        .iter()
        .find(|d| d["file"] == format!("a_{}.cdr.json", c.parked))
        .expect("parked leg's CDR");
    // Answered when the buyer answered (1.5 s), ended when the buyer hung up (4.5 s).
    assert_eq!(parked["cdr"]["variables"]["billsec"], "3");
}

#[test]
fn simultaneous_reject_and_timeout_fail_with_causes() {
    let mut e = engine(6);
    e.dialplan_mut().add_behaviour(
        "rejecter",
        &Behaviour::Reject {
            after_ms: 500,
            cause: Cause::parse("CALL_REJECTED").unwrap(),
        },
    );
    e.dialplan_mut()
        .add_behaviour("ringer", &Behaviour::NeverAnswer);
    let c = e.inbound_call(&call());
    e.sendmsg_execute(
        &c.parked,
        "bridge",
        "{originate_timeout=10}loopback/rejecter/buyers,loopback/ringer/buyers",
        Some("br"),
    )
    .unwrap();
    e.advance_to(20 * SEC);
    let events = e.take_events();
    let done = events
        .iter()
        .find(|ev| {
            ev.application_uuid().as_deref() == Some("br")
                && ev.name() == "CHANNEL_EXECUTE_COMPLETE"
        })
        .expect("bridge completes");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("NO_ANSWER")
    );
    assert_eq!(done.variable("DIALSTATUS").as_deref(), Some("NOANSWER"));
    let causes = done
        .headers()
        .get_array("variable_originate_causes")
        .unwrap();
    assert!(
        causes[0].ends_with(";CALL_REJECTED") && causes[1].ends_with(";NO_ANSWER"),
        "{causes:?}"
    );
    // NO_ANSWER leaves the caller up (no continue_on_fail needed), still parked.
    assert_eq!(e.api("uuid_exists", &c.parked), "true");
    // originate_timeout counts whole epoch seconds and fires once more than 10 have passed:
    // started on a second boundary, that is 11 s later.
    assert_eq!(
        done.header("Event-Date-Timestamp")
            .unwrap()
            .parse::<u64>()
            .unwrap(),
        EngineConfig::default().epoch_us + 11 * SEC
    );
}

#[test]
fn bgapi_originate_reports_busy_and_success() {
    let mut e = engine(7);
    e.bgapi(
        "originate",
        "{origination_uuid=u-busy}loopback/busy/buyers &park()",
        Some("job-1"),
    );
    e.bgapi(
        "originate",
        "loopback/answer_talk/buyers &park()",
        Some("job-2"),
    );
    e.bgapi("uuid_exists", "u-busy", Some("job-3"));
    let events = e.take_events();
    let jobs: Vec<(String, String)> = events
        .iter()
        .filter(|ev| ev.name() == "BACKGROUND_JOB")
        .map(|ev| (h(ev, "Job-UUID"), ev.body_text().unwrap().into_owned()))
        .collect();
    assert_eq!(jobs[0], ("job-1".into(), "-ERR USER_BUSY\n".into()));
    assert_eq!(jobs[1].0, "job-2");
    assert!(jobs[1].1.starts_with("+OK ") && jobs[1].1.ends_with('\n'));
    assert_eq!(jobs[2], ("job-3".into(), "false".into()));
    let leg = jobs[1].1.trim_end().trim_start_matches("+OK ").to_owned();
    assert!(of(&events, &leg).contains(&"CHANNEL_PARK".to_owned()));
}

#[test]
fn restart_draws_a_new_core_uuid() {
    let mut e = engine(8);
    let first = e.core_uuid().to_owned();
    e.inbound_call(&call());
    e.restart(true);
    assert_ne!(e.core_uuid(), first);
    assert_eq!(e.live_channels().count(), 2);
    e.restart(false);
    assert_eq!(e.live_channels().count(), 0);
}

#[test]
fn sip_caller_and_sip_buyer() {
    let mut e = engine(9);
    let c = e.inbound_call(&InboundCall {
        sip: Some(("parkway".into(), "127.0.0.1".into())),
        ..call()
    });
    let events = e.take_events();
    let park = events
        .iter()
        .find(|ev| ev.name() == "CHANNEL_PARK")
        .expect("parked");
    assert_eq!(
        h(park, "Channel-Name"),
        "sofia/parkway/+13055550123@127.0.0.1"
    );
    assert_eq!(h(park, "Caller-Source"), "mod_sofia");
    assert_eq!(park.variable("sip_h_X-Campaign").as_deref(), Some("solar"));
    // The caller's user agent is not a channel of the switch.
    assert!(
        events
            .iter()
            .all(|ev| ev.unique_id().as_deref() != Some(c.phone.as_str()))
    );
    assert_eq!(e.api("uuid_exists", &c.phone), "false");
    e.sendmsg_execute(&c.parked, "set", "hangup_after_bridge=true", None)
        .unwrap();
    e.sendmsg_execute(
        &c.parked,
        "bridge",
        "{ignore_early_media=true}[parkway_buyer=b1]sofia/parkway/answer_dtmf@198.51.100.7:5060",
        Some("br"),
    )
    .unwrap();
    e.run_until_idle(30 * SEC);
    let events = e.take_events();
    let dtmf: Vec<_> = events.iter().filter(|ev| ev.name() == "DTMF").collect();
    assert_eq!(
        dtmf.len(),
        1,
        "read on the SIP leg; the caller's agent is not a channel"
    );
    assert_eq!(
        h(dtmf[0], "Channel-Name"),
        "sofia/parkway/answer_dtmf@198.51.100.7:5060"
    );
    assert_eq!(h(dtmf[0], "DTMF-Source"), "RTP");
    let bridge = events
        .iter()
        .find(|ev| ev.name() == "CHANNEL_BRIDGE")
        .expect("bridged");
    assert_eq!(
        h(bridge, "Other-Leg-Channel-Name"),
        "sofia/parkway/answer_dtmf@198.51.100.7:5060"
    );
    let done = events
        .iter()
        .find(|ev| {
            ev.name() == "CHANNEL_EXECUTE_COMPLETE"
                && ev.application_uuid().as_deref() == Some("br")
        })
        .expect("bridge completes");
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("SUCCESS")
    );
    assert_eq!(e.live_channels().count(), 0);
    assert_eq!(
        e.take_cdrs().len(),
        2,
        "no CDR for user agents outside the switch"
    );
}

#[test]
fn a_caller_pressing_a_key_is_heard_on_the_parked_leg() {
    let sip = Some(("parkway".to_owned(), "127.0.0.1".to_owned()));
    for (sip, source) in [(None, "UNKNOWN"), (sip, "RTP")] {
        let mut e = engine(10);
        let c = e.inbound_call(&InboundCall { sip, ..call() });
        e.schedule_dtmf(&c.phone, 2 * SEC, "5").expect("phone");
        e.advance_to(3 * SEC);
        let events = e.take_events();
        let dtmf: Vec<_> = events.iter().filter(|ev| ev.name() == "DTMF").collect();
        assert_eq!(dtmf.len(), 1);
        assert_eq!(dtmf[0].unique_id().as_deref(), Some(c.parked.as_str()));
        assert_eq!(h(dtmf[0], "DTMF-Digit"), "5");
        assert_eq!(h(dtmf[0], "DTMF-Source"), source);
    }
}
