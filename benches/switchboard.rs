//! The call state machine alone: how many complete calls one core can route and account for,
//! without sockets or a switch — CHANNEL_PARK (with FreeSWITCH's ~150 headers) → decision over
//! 20 buyers → `bridge`, then the leg's CREATE, ANSWER, BRIDGE, DTMF and HANGUP_COMPLETE, the
//! bridge's EXECUTE_COMPLETE and the caller's HANGUP_COMPLETE → conversion, payout, counters,
//! record. Event construction is inside the timed loop (the figure is a lower bound).
//!
//! Run: `cargo bench --bench switchboard`.

use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parkway::calls::{Action, App, Switchboard};
use parkway::config::{self, Config};
use parkway_esl::dialstring::DialString;
use parkway_esl::event::Event;
use parkway_esl::headers::Headers;

fn config() -> Config {
    let mut text = String::from("currency = \"USD\"\ntimezone = \"UTC\"\n");
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(format!("\"b{i}\""));
        text.push_str(&format!(
            "[[buyer]]\nid = \"b{i}\"\ndestination = {{ sip = \"b{i}@buyers.example.com\" }}\n\
             tier = {}\nbid = \"10.00\"\nfilters = [{{ token = \"campaign\", op = \"==\", value = \"auto\" }}]\n\
             conversion = {{ digit = \"1\" }}\npayout = {{ per = \"conversion\", amount = \"10.00\" }}\n\
             [buyer.caps]\ndaily = {{ connections = 100000000 }}\nconcurrency = 100000\n",
            1 + i % 2
        ));
    }
    text.push_str(&format!(
        "[[router]]\nid = \"r\"\nmatch = {{ variable = \"campaign\", value = \"auto\" }}\nbuyers = [{}]\n\
         algorithm = \"tier\"\nfallback = {{ hangup = \"NO_ROUTE_DESTINATION\" }}\n",
        ids.join(", ")
    ));
    config::parse(&text, std::path::Path::new("bench.toml"), &|p| {
        std::fs::read_to_string(p)
    })
    .unwrap_or_else(|e| panic!("{:?}", e.0))
}

fn event(name: &str, uuid: &str, at: DateTime<Utc>, extra: &[(&str, &str)], filler: bool) -> Event {
    let ts = at.timestamp_micros().to_string();
    let mut pairs: Vec<(String, String)> = vec![
        ("Event-Name".into(), name.into()),
        ("Event-Date-Timestamp".into(), ts),
        ("Unique-ID".into(), uuid.into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if filler {
        // A park's other headers and variables, as FreeSWITCH sends them.
        for i in 0..140 {
            pairs.push((format!("variable_fs_var_{i}"), format!("value-{i}")));
        }
    }
    Event::new(
        Headers::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        None,
    )
}

/// One call through the switchboard; returns the number of actions.
fn one_call(board: &mut Switchboard, n: u64, t0: DateTime<Utc>) -> usize {
    let caller = format!("caller-{n}");
    let at = |ms: i64| t0 + Duration::milliseconds(ms);
    let park = event(
        "CHANNEL_PARK",
        &caller,
        at(0),
        &[
            ("Call-Direction", "inbound"),
            ("Caller-Caller-ID-Number", "+12145550123"),
            ("Caller-Destination-Number", "18005550199"),
            ("variable_campaign", "auto"),
        ],
        true,
    );
    let mut actions = board.on_event(&park, t0);
    let (leg, app_uuid) = actions
        .iter()
        .find_map(|a| match a {
            Action::Execute {
                app: App::Bridge,
                arg,
                event_uuid,
                ..
            } => {
                let ds = DialString::parse_app_arg(arg).ok()?;
                let leg = ds.legs().next()?;
                let uuid = leg.vars.iter().find(|(k, _)| k == "origination_uuid")?;
                Some((uuid.1.clone(), event_uuid.clone()))
            }
            _ => None,
        })
        .expect("a bridge");
    let mut count = actions.len();
    let steps = [
        event("CHANNEL_CREATE", &leg, at(1), &[], false),
        event("CHANNEL_ANSWER", &leg, at(20), &[], false),
        event(
            "CHANNEL_BRIDGE",
            &caller,
            at(21),
            &[
                ("Bridge-A-Unique-ID", caller.as_str()),
                ("Bridge-B-Unique-ID", leg.as_str()),
            ],
            false,
        ),
        event("DTMF", &leg, at(30), &[("DTMF-Digit", "1")], false),
        event(
            "CHANNEL_HANGUP_COMPLETE",
            &leg,
            at(120),
            &[("Hangup-Cause", "NORMAL_CLEARING")],
            false,
        ),
        event(
            "CHANNEL_EXECUTE_COMPLETE",
            &caller,
            at(121),
            &[
                ("Application", "bridge"),
                ("Application-UUID", app_uuid.as_str()),
            ],
            false,
        ),
        event(
            "CHANNEL_HANGUP_COMPLETE",
            &caller,
            at(122),
            &[("Hangup-Cause", "NORMAL_CLEARING")],
            false,
        ),
    ];
    for ev in &steps {
        actions = board.on_event(ev, t0);
        count += actions.len();
    }
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Record(r) if r.payout == 1000)),
        "the call converts and pays"
    );
    count
}

fn switchboard(c: &mut Criterion) {
    let config = Arc::new(config());
    let mut board = Switchboard::new(config, 1, false);
    let t0: DateTime<Utc> = "2026-11-25T15:00:00Z".parse().expect("time");
    let mut n = 0u64;
    let mut g = c.benchmark_group("switchboard");
    g.throughput(Throughput::Elements(1));
    g.bench_function("call_lifecycle_20_buyers", |b| {
        b.iter(|| {
            n += 1;
            black_box(one_call(
                &mut board,
                n,
                t0 + Duration::milliseconds(n as i64),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, switchboard);
criterion_main!(benches);
