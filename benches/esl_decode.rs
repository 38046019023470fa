//! Decoding the real captured streams: framing plus `Message::from_frame`, reading each event's
//! name and Unique-ID, on one core. `cargo bench --bench esl_decode` (see BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use parkway_esl::codec::EslCodec;
use parkway_esl::message::Message;
use tokio_util::codec::Decoder;

/// The two captures measured: `burst` (plain events) and `inbound_json` (json events).
const STREAMS: [(&str, &str); 2] = [("plain", "burst"), ("json", "inbound_json")];

fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/captures/{name}.recv", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes a whole stream; returns (events, a checksum of what was read so nothing is elided).
fn decode_all(mut buf: BytesMut) -> (usize, usize) {
    let mut codec = EslCodec::new();
    let (mut events, mut sum) = (0, 0);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        if let Ok(Message::Event(e)) = Message::from_frame(frame) {
            events += 1;
            sum += e.name().len() + e.unique_id().map_or(0, |u| u.len());
        }
    }
    (events, sum)
}

fn bench(c: &mut Criterion) {
    let streams: Vec<(&str, Vec<u8>, usize)> = STREAMS
        .iter()
        .map(|&(label, name)| {
            let bytes = capture(name);
            let (events, _) = decode_all(BytesMut::from(&bytes[..]));
            (label, bytes, events)
        })
        .collect();
    for (unit, per_event) in [("bytes", false), ("events", true)] {
        let mut group = c.benchmark_group(format!("esl_decode_{unit}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for (label, bytes, events) in &streams {
            group.throughput(if per_event {
                Throughput::Elements(*events as u64)
            } else {
                Throughput::Bytes(bytes.len() as u64)
            });
            group.bench_function(*label, |b| {
                b.iter_batched(
                    || BytesMut::from(&bytes[..]),
                    |buf| black_box(decode_all(buf)),
                    BatchSize::LargeInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
