//! Behaviour mixes on the engine: each dial of a destination draws one behaviour (and its
//! times) from a seeded stream apart from the ids.

use std::collections::BTreeMap;

use parkway_esl::event::Event;
use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::{Behaviour, Cause, Engine, EngineConfig, MsRange, SEC};

fn engine(seed: u64) -> Engine {
    Engine::new(EngineConfig {
        seed,
        ..EngineConfig::default()
    })
}

fn call(n: usize) -> InboundCall {
    InboundCall::new(format!("+1305555{n:04}"), "Caller", "18005550199")
}

/// The demo's mix: 60 % answer after 2–8 s ringing, talking 20–300 s (half of them press 1
/// at 30 s), 15 % no answer, 10 % busy, 10 % CALL_REJECTED, 5 % unreachable.
fn demo_mix() -> Behaviour {
    let answer = |digits: Vec<(u64, char)>| Behaviour::AnswerWithin {
        ring_ms: MsRange::between(2_000, 8_000),
        digits,
        talk_ms: MsRange::between(20_000, 300_000),
    };
    Behaviour::Mix(vec![
        (30, answer(vec![(30_000, '1')])),
        (30, answer(vec![])),
        (15, Behaviour::NeverAnswer),
        (10, Behaviour::Busy),
        (
            10,
            Behaviour::RejectWithin {
                after_ms: MsRange::between(1_000, 4_000),
                cause: Cause::parse("CALL_REJECTED").expect("known"),
            },
        ),
        (5, Behaviour::Unreachable),
    ])
}

fn h(e: &Event, name: &str) -> String {
    e.header(name).map(|v| v.into_owned()).unwrap_or_default()
}

/// One call after another to `dial`; per call the bridge's disposition and the buyer leg's
/// answer-to-hangup time in whole seconds (if it answered). Also every event's bytes.
fn run(seed: u64, dial: &str, calls: usize) -> (Vec<(String, Option<u64>)>, Vec<String>) {
    let mut e = engine(seed);
    e.dialplan_mut().add_behaviour("inbound", &demo_mix());
    e.dialplan_mut().add_behaviour("+18175550123", &demo_mix());
    let mut outcomes = Vec::new();
    let mut stream = Vec::new();
    for n in 0..calls {
        let c = e.inbound_call(&call(n));
        e.sendmsg_execute(&c.parked, "set", "hangup_after_bridge=true", None)
            .expect("parked");
        e.sendmsg_execute(
            &c.parked,
            "bridge",
            &format!("{{originate_timeout=30}}[leg_timeout=20]{dial}"),
            Some("br"),
        )
        .expect("parked");
        let until = e.now() + 400 * SEC;
        e.run_until_idle(until);
        // The caller stays when the dial fails softly (NO_ANSWER): let it go.
        if e.channel(&c.parked).is_some() {
            e.sendmsg_hangup(&c.parked, None).expect("live");
            e.run_until_idle(until);
        }
        assert_eq!(e.live_channels().count(), 0, "call {n} ends");
        let events = e.take_events();
        let done = events
            .iter()
            .find(|ev| {
                ev.name() == "CHANNEL_EXECUTE_COMPLETE"
                    && ev.application_uuid().as_deref() == Some("br")
            })
            .expect("bridge completes");
        let disposition = done
            .variable("originate_disposition")
            .map(|v| v.into_owned())
            .unwrap_or_default();
        let leg = events
            .iter()
            .find(|ev| {
                ev.name() == "CHANNEL_HANGUP_COMPLETE"
                    && h(ev, "Channel-Name").starts_with("sofia/")
            })
            .expect("buyer leg ends");
        let billsec = leg
            .variable("billsec")
            .and_then(|v| v.parse().ok())
            .filter(|_| disposition == "SUCCESS");
        outcomes.push((disposition, billsec));
        stream.extend(events.iter().map(|ev| format!("{:?}", ev.headers())));
    }
    (outcomes, stream)
}

#[test]
fn a_mix_gives_realistic_outcomes_in_its_proportions() {
    for dial in [
        "sofia/parkway/sip:inbound@acme-cc.example.com",
        "sofia/gateway/carrier/+18175550123",
    ] {
        let (outcomes, _) = run(11, dial, 400);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (d, _) in &outcomes {
            *counts.entry(d.as_str()).or_default() += 1;
        }
        let share = |d: &str| counts.get(d).copied().unwrap_or(0) as f64 / 400.0;
        // 400 draws: a share within ±0.08 of its weight (over 3 standard deviations).
        assert!((share("SUCCESS") - 0.60).abs() < 0.08, "{dial}: {counts:?}");
        // Never answering runs into leg_timeout=20.
        assert!(
            (share("ALLOTTED_TIMEOUT") - 0.15).abs() < 0.06,
            "{counts:?}"
        );
        assert!((share("USER_BUSY") - 0.10).abs() < 0.05, "{counts:?}");
        assert!((share("CALL_REJECTED") - 0.10).abs() < 0.05, "{counts:?}");
        assert!(
            (share("DESTINATION_OUT_OF_ORDER") - 0.05).abs() < 0.04,
            "{counts:?}"
        );
        let talks: Vec<u64> = outcomes.iter().filter_map(|(_, t)| *t).collect();
        assert!(talks.iter().all(|t| (20..=300).contains(t)), "{talks:?}");
        let distinct: std::collections::BTreeSet<_> = talks.iter().collect();
        assert!(distinct.len() > 50, "talk times vary: {distinct:?}");
    }
}

#[test]
fn same_seed_same_draws_other_seed_other_draws() {
    let dial = "sofia/gateway/carrier/+18175550123";
    let (a, stream_a) = run(3, dial, 40);
    let (b, stream_b) = run(3, dial, 40);
    assert_eq!(a, b);
    assert_eq!(stream_a, stream_b, "byte for byte");
    let (c, _) = run(4, dial, 40);
    assert_ne!(a, c);
}

#[test]
fn draws_take_no_ids() {
    // A one-entry mix draws from its own stream; the events are those of the fixed behaviour.
    let events = |behaviour: &Behaviour| {
        let mut e = engine(5);
        e.dialplan_mut().add_behaviour("acme", behaviour);
        let c = e.inbound_call(&call(0));
        e.sendmsg_execute(&c.parked, "bridge", "loopback/acme/buyers", Some("br"))
            .expect("parked");
        e.run_until_idle(60 * SEC);
        let events: Vec<String> = e
            .take_events()
            .iter()
            .map(|ev| format!("{:?}", ev.headers()))
            .collect();
        (events, e.take_cdrs())
    };
    let fixed = Behaviour::Answer {
        ring_ms: 1_000,
        digits: vec![(500, '1')],
        talk_ms: 3_000,
    };
    let (plain, plain_cdrs) = events(&fixed);
    let (mixed, mixed_cdrs) = events(&Behaviour::Mix(vec![(0, Behaviour::Busy), (7, fixed)]));
    assert_eq!(plain, mixed);
    assert_eq!(plain_cdrs, mixed_cdrs, "the CDR shows the drawn extension");
}
