//! When answer, bridge, DTMF and hangup happen.

use parkway_esl::event::Event;
use std::collections::BTreeMap;

use super::capture::real_events;
use super::replay::replay;
use super::roles::roles_of;

/// Per channel, (event name, milliseconds since the scenario's first channel event).
pub(crate) fn timings(events: &[Event]) -> BTreeMap<String, Vec<(String, i64)>> {
    let roles = roles_of(events);
    let ts = |e: &Event| -> Option<i64> { e.header("Event-Date-Timestamp")?.parse().ok() };
    let start = events
        .iter()
        .filter(|e| e.channel_name().is_some())
        .filter_map(ts)
        .min()
        .unwrap_or(0);
    let mut out: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for e in events {
        let name = e.name();
        if !matches!(
            name.as_ref(),
            "CHANNEL_ANSWER" | "CHANNEL_BRIDGE" | "CHANNEL_UNBRIDGE" | "DTMF" | "CHANNEL_HANGUP"
        ) {
            continue;
        }
        // A digit crossing RTP arrives when its RFC 2833 end packet does, about 260 ms later
        // per SIP hop; the simulated switch relays it at once (see crates/sim/README.md).
        if e.header("DTMF-Source").as_deref() == Some("RTP") {
            continue;
        }
        if let (Some(u), Some(chan), Some(t)) = (e.unique_id(), e.channel_name(), ts(e)) {
            out.entry(roles[&format!("{u} {chan}")].clone())
                .or_default()
                .push((name.into_owned(), (t - start) / 1_000));
        }
    }
    out
}

/// Answer, bridge, DTMF and hangup happen when they did on the real switch (within 150 ms:
/// the real one adds thread and media latency; the simulated one only the scenario's delays).
#[test]
fn key_events_happen_at_the_real_times() {
    for name in [
        "inbound_json",
        "sip_leg",
        "dtmf_variants",
        "inbound_plain",
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
    ] {
        let real = timings(&real_events(name));
        let sim = timings(&replay(name, 1));
        for (role, events) in &real {
            let sim_events = &sim[role];
            assert_eq!(events.len(), sim_events.len(), "{name} {role}");
            for ((ev, r), (_, s)) in events.iter().zip(sim_events) {
                assert!(
                    (r - s).abs() <= 150,
                    "{name} {role} {ev}: real {r} ms, sim {s} ms"
                );
            }
        }
    }
}
