//! Invariants of the simulated switch over random scenarios: every channel is created, hung up,
//! reported and destroyed exactly once; every application that starts completes; every bridge
//! reports its disposition; nothing is left running once the timers are exhausted.

use std::collections::HashMap;

use parkway_esl::event::Event;
use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::{Behaviour, Cause, Engine, EngineConfig, MS, SEC};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Leg {
    buyer: usize,
    leg_timeout: Option<u64>,
}

#[derive(Debug, Clone)]
struct Caller {
    groups: Vec<Vec<Leg>>,
    whisper: bool,
    abandon_ms: Option<u64>,
    delay_ms: u64,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        (0u64..3000, 0u64..2000, 1000u64..8000).prop_map(|(ring_ms, at, talk_ms)| {
            Behaviour::Answer {
                ring_ms,
                digits: vec![(at, '1')],
                talk_ms,
            }
        }),
        Just(Behaviour::Busy),
        (0u64..3000).prop_map(|after_ms| Behaviour::Reject {
            after_ms,
            cause: Cause::NORMAL_TEMPORARY_FAILURE,
        }),
        Just(Behaviour::NeverAnswer),
        Just(Behaviour::Unreachable),
    ]
}

fn caller(buyers: usize) -> impl Strategy<Value = Caller> {
    let leg = (0..buyers, proptest::option::of(1u64..8))
        .prop_map(|(buyer, leg_timeout)| Leg { buyer, leg_timeout });
    (
        proptest::collection::vec(proptest::collection::vec(leg, 1..3), 1..3),
        any::<bool>(),
        proptest::option::of(0u64..15_000),
        0u64..2000,
    )
        .prop_map(|(groups, whisper, abandon_ms, delay_ms)| Caller {
            groups,
            whisper,
            abandon_ms,
            delay_ms,
        })
}

fn dial(c: &Caller) -> String {
    let mut global = vec![
        "ignore_early_media=true".to_owned(),
        "originate_timeout=20".into(),
    ];
    if c.whisper {
        global.push("group_confirm_key=exec".into());
        global.push("group_confirm_file=playback tone_stream://%(500,0,440)".into());
    }
    let groups: Vec<String> = c
        .groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|l| match l.leg_timeout {
                    Some(t) => format!("[leg_timeout={t}]loopback/buyer{}/buyers", l.buyer),
                    None => format!("loopback/buyer{}/buyers", l.buyer),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    format!("{{{}}}{}", global.join(","), groups.join("|"))
}

fn check(events: &[Event]) -> Result<(), String> {
    let mut per: HashMap<String, Vec<&Event>> = HashMap::new();
    for e in events {
        if let Some(u) = e.unique_id() {
            per.entry(u.into_owned()).or_default().push(e);
        }
    }
    for (uuid, evs) in &per {
        let count = |n: &str| evs.iter().filter(|e| e.name() == n).count();
        for n in [
            "CHANNEL_CREATE",
            "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE",
            "CHANNEL_DESTROY",
        ] {
            if count(n) != 1 {
                return Err(format!("{uuid}: {n} x{}", count(n)));
            }
        }
        let last = evs
            .last()
            .map(|e| e.header("Channel-State").unwrap_or_default().into_owned());
        if last.as_deref() != Some("CS_DESTROY") {
            return Err(format!("{uuid}: ends in {last:?}"));
        }
        let mut open: HashMap<String, String> = HashMap::new();
        for e in evs {
            let app_uuid = e
                .application_uuid()
                .map(|u| u.into_owned())
                .unwrap_or_default();
            match e.name().as_ref() {
                "CHANNEL_EXECUTE" if e.application().as_deref() != Some("uuid_bridge") => {
                    open.insert(app_uuid, e.application().unwrap_or_default().into_owned());
                }
                "CHANNEL_EXECUTE_COMPLETE" => {
                    if open.remove(&app_uuid).is_none() {
                        return Err(format!("{uuid}: completion without start {app_uuid}"));
                    }
                    if e.application().as_deref() == Some("bridge")
                        && e.variable("originate_disposition").is_none()
                    {
                        return Err(format!("{uuid}: bridge without disposition"));
                    }
                }
                _ => {}
            }
        }
        if !open.is_empty() {
            return Err(format!("{uuid}: never completed {open:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_scenarios_keep_the_invariants(
        seed in any::<u64>(),
        buyers in proptest::collection::vec(behaviour(), 1..4),
        callers in proptest::collection::vec(caller(3), 1..4),
    ) {
        let mut e = Engine::new(EngineConfig { seed, ..EngineConfig::default() });
        for (i, b) in buyers.iter().enumerate() {
            e.dialplan_mut().add_behaviour(&format!("buyer{i}"), b);
        }
        let mut events = Vec::new();
        for (i, c) in callers.iter().enumerate() {
            let c = Caller { groups: c.groups.iter().map(|g| g.iter().map(|l| Leg { buyer: l.buyer % buyers.len(), ..l.clone() }).collect()).collect(), ..c.clone() };
            e.advance_by(c.delay_ms * MS);
            let h = e.inbound_call(&InboundCall::new(format!("+1305555{i:04}"), "Caller", "18005550199"));
            if let Some(ms) = c.abandon_ms {
                e.schedule_hangup(&h.phone, e.now() + ms * MS, Cause::NORMAL_CLEARING).unwrap();
            }
            e.sendmsg_execute(&h.parked, "set", "hangup_after_bridge=true", None).unwrap();
            e.sendmsg_execute(&h.parked, "bridge", &dial(&c), None).unwrap();
            events.extend(e.take_events());
        }
        e.run_until_idle(e.now() + 3 * 86_400 * SEC);
        events.extend(e.take_events());
        prop_assert_eq!(e.live_channels().count(), 0);
        prop_assert!(e.next_deadline().is_none());
        if let Err(why) = check(&events) {
            prop_assert!(false, "{}", why);
        }
    }
}
