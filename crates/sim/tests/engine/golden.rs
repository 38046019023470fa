//! The engine's output, pinned: a fingerprint of every event (plain-encoded, byte for byte),
//! every CDR and the `connect` data of fixed runs. Work on how events are built (caching,
//! buffers) must leave these unchanged; a deliberate change of output updates them.

use std::hash::Hasher;

use bytes::BytesMut;

use parkway_esl::fasthash::FxHasher;
use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::{Behaviour, Cause, Engine, EngineConfig, MS, MsRange, SEC};

/// FNV-1a, 64 bit: stable across Rust versions, unlike `DefaultHasher`.
fn call(n: usize, sip: bool) -> InboundCall {
    InboundCall {
        caller_number: format!("+1305555{n:04}"),
        caller_name: "Maria Lopez".into(),
        destination: if n % 3 == 2 {
            "socket_8084".into()
        } else {
            "18005550199".into()
        },
        context: "public".into(),
        sip_headers: vec![("X-Campaign".into(), "solar".into())],
        variables: vec![("parkway_call_id".into(), format!("pk-{n}"))],
        sip: sip.then(|| ("parkway".into(), "127.0.0.1".into())),
    }
}

/// Calls through every kind of endpoint and outcome the engine has; returns the fingerprint
/// and the number of events.
fn run(seed: u64, calls: usize) -> (u64, usize) {
    let mut e = Engine::new(EngineConfig {
        seed,
        ..EngineConfig::default()
    });
    let d = e.dialplan_mut();
    d.add_behaviour(
        "acme",
        &Behaviour::Answer {
            ring_ms: 700,
            digits: vec![(100, '1')],
            talk_ms: 2_300,
        },
    );
    d.add_behaviour("+18175550123", &Behaviour::Busy);
    d.add_behaviour(
        "inbound",
        &Behaviour::Mix(vec![
            (
                3,
                Behaviour::AnswerWithin {
                    ring_ms: MsRange::between(200, 2_000),
                    digits: vec![(500, '1')],
                    talk_ms: MsRange::between(1_000, 9_000),
                },
            ),
            (
                1,
                Behaviour::RejectWithin {
                    after_ms: MsRange::between(100, 900),
                    cause: Cause::parse("CALL_REJECTED").expect("known"),
                },
            ),
            (1, Behaviour::NeverAnswer),
        ]),
    );
    let dials = [
        "{ignore_early_media=true}[leg_timeout=20]loopback/acme/buyers",
        "{originate_timeout=10,group_confirm_key=exec,group_confirm_file=playback tone_stream://%(500,0,440)}loopback/busy/buyers,loopback/acme/buyers",
        "[leg_timeout=3]loopback/no_answer/buyers|sofia/parkway/sip:inbound@acme-cc.example.com",
        "sofia/gateway/carrier/+18175550123|sofia/parkway/answer_dtmf@127.0.0.1:5080",
        "[leg_timeout=5]sofia/parkway/sip:inbound@acme-cc.example.com,loopback/slow_hangup/buyers",
        "sofia/parkway/sip:nobody@acme-cc.example.com",
    ];
    let mut out = FxHasher::default();
    let mut events = 0;
    let mut buf = BytesMut::new();
    for n in 0..calls {
        let c = e.inbound_call(&call(n, n % 2 == 1));
        if n % 3 == 2 {
            // The outbound socket extension: its connect data, then the session ends.
            for r in e.take_outbound_requests() {
                if let Some(data) = e.channel_data(&r.uuid) {
                    buf.clear();
                    data.encode_plain(&mut buf);
                    out.write(&buf);
                }
                e.outbound_closed(&r.uuid).expect("live");
            }
        } else {
            e.sendmsg_execute(&c.parked, "set", "hangup_after_bridge=true", None)
                .expect("parked");
            e.sendmsg_execute(&c.parked, "bridge", dials[n % dials.len()], Some("br"))
                .expect("parked");
            if n % 4 == 0 {
                e.schedule_dtmf(&c.phone, e.now() + 4 * SEC, "9")
                    .expect("live");
            }
            if n % 5 == 0 {
                e.schedule_hangup(&c.parked, e.now() + 6 * SEC, Cause::NORMAL_CLEARING)
                    .expect("live");
            }
        }
        e.api("show", "channels as json");
        e.bgapi("originate", "loopback/acme/buyers &park()", Some("job"));
        let until = e.now() + 120 * SEC;
        e.run_until_idle(until);
        for c in e
            .live_channels()
            .map(|c| c.uuid.clone())
            .collect::<Vec<_>>()
        {
            let _ = e.sendmsg_hangup(&c, None);
        }
        e.advance_by(MS);
        for ev in e.take_events() {
            buf.clear();
            ev.encode_plain(&mut buf);
            out.write(&buf);
            events += 1;
        }
        for cdr in e.take_cdrs() {
            out.write(cdr.to_string().as_bytes());
        }
    }
    (out.finish(), events)
}

#[test]
fn output_is_pinned() {
    // The long run destroys channels enough for the engine to sweep them several times.
    let got: Vec<(u64, usize)> = [(1, 18), (42, 18), (7, 120)]
        .map(|(seed, calls)| run(seed, calls))
        .to_vec();
    assert_eq!(
        got,
        [
            (7468630287757865397, 2282),
            (16272424201260469577, 2282),
            (203523722648668938, 15212)
        ],
        "fingerprints of the engine's output"
    );
}
