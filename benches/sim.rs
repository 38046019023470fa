//! Simulated switch benchmarks: complete call lifecycles per second the engine drives on one
//! core — a caller arrives and parks, is bridged (`sendmsg` execute `bridge`) to a buyer that
//! answers, presses a key and hangs up after a short talk; every channel is destroyed and its
//! CDR recorded. Measured with the events only drained, with every event also encoded as
//! plain text (what the server writes to a subscriber of `ALL`), and with the CDRs also
//! rendered as JSON documents (what the server does when it writes CDR files).
//!
//! Run: `cargo bench --bench sim`. A custom loop prints lifecycles/s and events per lifecycle
//! first (`SIM_BENCH_LIFECYCLES=n` sets its length, 20,000 by default; 0 skips it, e.g. to
//! profile criterion's run alone; `SIM_BENCH_OUTPUT=drain`, `plain` or `json` runs one of its
//! variants, e.g. to count instructions under `valgrind --tool=cachegrind`); then criterion
//! measures the mean time per lifecycle.

#![allow(clippy::disallowed_methods, reason = "a benchmark times itself")]

use std::hint::black_box;
use std::time::Instant;

use bytes::BytesMut;
use criterion::{Criterion, Throughput};

use parkway_sim::engine::api::InboundCall;
use parkway_sim::engine::{Behaviour, Engine, EngineConfig, MS, SEC};

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig {
        seed: 42,
        ..EngineConfig::default()
    });
    e.dialplan_mut().add_behaviour(
        "acme",
        &Behaviour::Answer {
            ring_ms: 0,
            digits: vec![(100, '1')],
            talk_ms: 300,
        },
    );
    e
}

fn call() -> InboundCall {
    InboundCall {
        sip_headers: vec![("X-Campaign".into(), "solar".into())],
        variables: vec![("parkway_call_id".into(), "pk-1".into())],
        ..InboundCall::new("+13055550123", "Maria Lopez", "18005550199")
    }
}

/// What a lifecycle does with the engine's output besides draining it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Drain,
    /// Every event encoded plain.
    Plain,
    /// Every CDR rendered as a JSON document.
    JsonCdrs,
}

/// One lifecycle; returns (events, bytes encoded).
fn lifecycle(
    e: &mut Engine,
    call: &InboundCall,
    output: Output,
    buf: &mut BytesMut,
) -> (usize, usize) {
    let handles = e.inbound_call(call);
    e.sendmsg_execute(&handles.parked, "set", "hangup_after_bridge=true", None)
        .expect("parked");
    e.sendmsg_execute(
        &handles.parked,
        "bridge",
        "{ignore_early_media=true}[leg_timeout=20]loopback/acme/buyers",
        Some("b1"),
    )
    .expect("parked");
    let limit = e.now() + 10 * SEC;
    e.run_until_idle(limit);
    e.advance_by(MS);
    let events = e.take_events();
    if output == Output::JsonCdrs {
        black_box(e.take_cdrs());
    } else {
        black_box(e.take_cdr_records());
    }
    let mut bytes = 0;
    if output == Output::Plain {
        for ev in &events {
            buf.clear();
            ev.encode_plain(buf);
            bytes += buf.len();
        }
    }
    (events.len(), bytes)
}

fn report() {
    let call = call();
    // `SIM_BENCH_OUTPUT=drain|plain|json` runs one variant (e.g. under valgrind).
    let only = std::env::var("SIM_BENCH_OUTPUT").ok();
    for (output, name) in [
        (Output::Drain, "drain"),
        (Output::Plain, "plain"),
        (Output::JsonCdrs, "json"),
    ] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let mut e = engine();
        let mut buf = BytesMut::with_capacity(8192);
        let n: usize = std::env::var("SIM_BENCH_LIFECYCLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        if n == 0 {
            return;
        }
        let (mut events, mut bytes) = (0, 0);
        let start = Instant::now();
        for _ in 0..n {
            let (ev, b) = lifecycle(&mut e, &call, output, &mut buf);
            events += ev;
            bytes += b;
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(e.live_channels().count(), 0, "every call is over");
        println!(
            "sim engine{}: {n} lifecycles in {secs:.3} s = {:.0} lifecycles/s, {} events each{}",
            match output {
                Output::Drain => "",
                Output::Plain => " + plain encoding",
                Output::JsonCdrs => " + JSON CDRs",
            },
            n as f64 / secs,
            events / n,
            if output == Output::Plain {
                format!(", {} bytes each", bytes / n)
            } else {
                String::new()
            }
        );
    }
}

fn main() {
    report();
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("sim_engine");
    group.throughput(Throughput::Elements(1));
    let call = call();
    let mut buf = BytesMut::with_capacity(8192);
    for (name, output) in [
        ("lifecycle", Output::Drain),
        ("lifecycle_plain_encoded", Output::Plain),
        ("lifecycle_json_cdrs", Output::JsonCdrs),
    ] {
        let mut e = engine();
        group.bench_function(name, |b| {
            b.iter(|| lifecycle(&mut e, &call, output, &mut buf))
        });
    }
    group.finish();
    c.final_summary();
}
