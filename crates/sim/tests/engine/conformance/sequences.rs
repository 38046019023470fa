//! Each channel's sequence of events, scenario by scenario, and the BACKGROUND_JOB bodies.

use bytes::BytesMut;
use parkway_esl::event::Event;
use parkway_sim::engine::Engine;
use parkway_sim::engine::EngineConfig;
use parkway_sim::engine::SEC;

use super::capture::real_events;
use super::races::{Races, forgive};
use super::replay::replay;
use super::roles::{by_role, render};

pub(crate) fn conforms(name: &str) {
    conforms_with(name, &[]);
}

pub(crate) fn conforms_with(name: &str, races: &[Races]) {
    let (mut real, real_jobs) = by_role(&real_events(name));
    let (mut sim, sim_jobs) = by_role(&replay(name, 1));
    forgive(&mut real, races);
    forgive(&mut sim, races);
    let mut report = String::new();
    let roles: std::collections::BTreeSet<&String> = real.keys().chain(sim.keys()).collect();
    for role in roles {
        let (r, s) = (real.get(role), sim.get(role));
        if r != s {
            report.push_str(&format!(
                "\n=== {role}\n--- real\n{}\n--- sim\n{}\n",
                render(r.map_or(&[][..], Vec::as_slice)),
                render(s.map_or(&[][..], Vec::as_slice))
            ));
        }
    }
    if real_jobs != sim_jobs {
        report.push_str(&format!(
            "\n=== jobs\nreal {real_jobs:?}\nsim  {sim_jobs:?}\n"
        ));
    }
    assert!(report.is_empty(), "{name} differs:{report}");
}

#[test]
fn inbound_plain_conforms() {
    conforms("inbound_plain");
}

#[test]
fn group_simultaneous_conforms() {
    conforms("group_simultaneous");
}

#[test]
fn group_sequential_conforms() {
    conforms("group_sequential");
}

#[test]
fn all_fail_conforms() {
    conforms("all_fail");
}

#[test]
fn caller_abandon_conforms() {
    conforms("caller_abandon");
}

#[test]
fn inbound_json_conforms() {
    conforms_with("inbound_json", &[Races::CallerAnswer]);
}

#[test]
fn sip_leg_conforms() {
    conforms("sip_leg");
}

#[test]
fn dtmf_variants_conforms() {
    conforms_with("dtmf_variants", &[Races::PeerKilled]);
}

#[test]
fn same_seed_same_bytes() {
    let encode = |events: Vec<Event>| {
        let mut out = BytesMut::new();
        for e in events {
            e.encode_plain(&mut out);
        }
        out
    };
    let a = encode(replay("group_simultaneous", 42));
    let b = encode(replay("group_simultaneous", 42));
    assert!(!a.is_empty());
    assert_eq!(a, b);
    let c = encode(replay("group_simultaneous", 43));
    assert_ne!(a, c, "a different seed draws different ids");
}

#[test]
fn originate_uuid_bridge_conforms() {
    conforms_with("originate_uuid_bridge", &[Races::LegStart]);
}

#[test]
fn uuid_bridge_unanswered_conforms() {
    conforms_with("uuid_bridge_unanswered", &[Races::LegStart]);
}

/// A caller that leaves mid-bridge ends the bridge: its dial was won, so the bridge's
/// `originate_disposition` stays SUCCESS (`dtmf_variants` call 3: `uuid_kill` of the bridged
/// parked leg), and CHANNEL_UNBRIDGE comes before the bridge's EXECUTE_COMPLETE. Only a caller
/// leaving while the buyer still rings cancels it (ORIGINATOR_CANCEL, `caller_abandon`).
#[test]
fn a_caller_leaving_mid_bridge_keeps_success() {
    use parkway_sim::engine::Cause;
    use parkway_sim::engine::api::InboundCall;
    // (who leaves, how, after how long, the disposition)
    for (phone, kill, after, disposition) in [
        (false, true, 3, "SUCCESS"),
        (true, false, 3, "SUCCESS"),
        (true, false, 0, "ORIGINATOR_CANCEL"),
    ] {
        let mut e = Engine::new(EngineConfig::default());
        let c = e.inbound_call(&InboundCall::new(
            "+13055550123",
            "Maria Lopez",
            "18005550199",
        ));
        e.sendmsg_execute(&c.parked, "set", "hangup_after_bridge=true", None)
            .expect("parked");
        // slow_hangup answers at once; no_answer rings until cancelled.
        let buyer = if after > 0 {
            "slow_hangup"
        } else {
            "no_answer"
        };
        e.sendmsg_execute(
            &c.parked,
            "bridge",
            &format!("loopback/{buyer}/buyers"),
            Some("br"),
        )
        .expect("parked");
        e.advance_to(e.now() + 1 + after * SEC);
        let leaving = if phone { &c.phone } else { &c.parked };
        if kill {
            assert_eq!(e.api("uuid_kill", leaving), "+OK\n");
        } else {
            e.schedule_hangup(leaving, e.now() + 1, Cause::NORMAL_CLEARING)
                .expect("live");
        }
        e.run_until_idle(e.now() + 60 * SEC);
        let events: Vec<Event> = e
            .take_events()
            .into_iter()
            .filter(|ev| ev.unique_id().as_deref() == Some(c.parked.as_str()))
            .collect();
        let names: Vec<String> = events.iter().map(|ev| ev.name().into_owned()).collect();
        let done = events
            .iter()
            .position(|ev| {
                ev.application_uuid().as_deref() == Some("br")
                    && ev.name() == "CHANNEL_EXECUTE_COMPLETE"
            })
            .expect("bridge completes");
        let case = format!("phone {phone}, kill {kill}, after {after} s");
        assert_eq!(
            events[done].variable("originate_disposition").as_deref(),
            Some(disposition),
            "{case}"
        );
        let hangup = events
            .iter()
            .find(|ev| ev.name() == "CHANNEL_HANGUP")
            .expect("hung up");
        assert_eq!(
            hangup.header("Hangup-Cause").as_deref(),
            Some("NORMAL_CLEARING"),
            "{case}"
        );
        if disposition == "SUCCESS" {
            assert_eq!(names[done - 1], "CHANNEL_UNBRIDGE", "{case}: {names:?}");
        }
    }
}
