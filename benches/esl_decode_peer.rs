//! parkway's decoder against the best Rust peer, `freeswitch-esl-tokio` 2.8, measured alike.
//!
//! The peer's codec is private (`pub(crate) mod protocol`), so both are measured the only way the
//! peer allows: a client reading the captured event stream from a loopback socket. A scripted
//! switch on 127.0.0.1:0 sends `auth/request`, reads `auth`, answers `+OK accepted`, writes every
//! event frame of the capture (`burst.recv` plain, `inbound_json.recv` json) and closes. The peer
//! is `EslClient::connect_with_options` + `EslEventStream::recv`; parkway is
//! `tokio_util::codec::FramedRead<TcpStream, EslCodec>` + `Message::from_frame`. Each reads every
//! event's name and Unique-ID. Everything (switch, clients, the peer's reader task) runs on one
//! current-thread runtime: one core.
//!
//! `cargo bench --features bench-peer --bench esl_decode_peer` (see BENCHMARKS.md).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use freeswitch_esl_tokio::{EslClient, EslConnectOptions, EventHeader, HeaderLookup};
use futures_util::StreamExt;
use parkway_esl::codec::EslCodec;
use parkway_esl::message::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_util::codec::{Decoder, FramedRead};

const STREAMS: [(&str, &str); 2] = [("plain", "burst"), ("json", "inbound_json")];

fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/captures/{name}.recv", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The event frames of a capture, byte for byte, and how many there are (replies and notices
/// are left out: without the commands that asked for them a client would rightly reject them).
fn events_only(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        let is_event = frame
            .content_type()
            .is_some_and(|t| t.starts_with("text/event-"));
        frames.push((frame.offset as usize, is_event));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut events = 0;
    for (i, &(start, is_event)) in frames.iter().enumerate() {
        let end = frames.get(i + 1).map_or(bytes.len(), |f| f.0);
        if is_event {
            out.extend_from_slice(&bytes[start..end]);
            events += 1;
        }
    }
    (out, events)
}

/// The scripted switch: one connection, auth, the stream, close.
async fn serve(listener: &TcpListener, stream: Arc<Vec<u8>>) {
    let Ok((mut sock, _)) = listener.accept().await else {
        return;
    };
    let _ = sock.set_nodelay(true);
    if sock
        .write_all(b"Content-Type: auth/request\n\n")
        .await
        .is_err()
    {
        return;
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    while !got.windows(2).any(|w| w == b"\n\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    let reply = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n";
    if sock.write_all(reply).await.is_ok() && sock.write_all(&stream).await.is_ok() {
        let _ = sock.shutdown().await;
    }
}

/// The peer: connect, authenticate, read events until the stream ends.
async fn peer(addr: SocketAddr) -> (usize, usize) {
    let options = EslConnectOptions::new().with_event_queue_size(8192);
    let (client, mut events) =
        EslClient::connect_with_options("127.0.0.1", addr.port(), "ClueCon", options)
            .await
            .expect("peer connects");
    let (mut n, mut sum) = (0, 0);
    while let Some(Ok(event)) = events.recv().await {
        n += 1;
        sum += event.header(EventHeader::EventName).map_or(0, str::len)
            + event.unique_id().map_or(0, str::len);
    }
    drop(client);
    (n, sum)
}

/// parkway, read the same way: a framed socket, auth, then events until the stream ends.
async fn parkway(addr: SocketAddr) -> (usize, usize) {
    let sock = TcpStream::connect(addr).await.expect("connect");
    let _ = sock.set_nodelay(true);
    let (read, mut write) = sock.into_split();
    let mut frames = FramedRead::with_capacity(read, EslCodec::new(), 64 * 1024);
    let (mut n, mut sum) = (0, 0);
    let mut authed = false;
    while let Some(Ok(frame)) = frames.next().await {
        match Message::from_frame(frame) {
            Ok(Message::AuthRequest) => {
                write.write_all(b"auth ClueCon\n\n").await.expect("auth");
            }
            Ok(Message::CommandReply(reply)) => authed = reply.is_ok(),
            Ok(Message::Event(e)) => {
                n += 1;
                sum += e.name().len() + e.unique_id().map_or(0, |u| u.len());
            }
            _ => {}
        }
    }
    assert!(authed);
    (n, sum)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("loopback listener");
    let addr = listener.local_addr().expect("address");
    let listener = Arc::new(listener);
    let streams: Vec<(&str, Arc<Vec<u8>>, usize)> = STREAMS
        .iter()
        .map(|&(label, name)| {
            let (bytes, events) = events_only(&capture(name));
            (label, Arc::new(bytes), events)
        })
        .collect();

    let run = |rt: &Runtime, stream: &Arc<Vec<u8>>, peer_side: bool| {
        let (listener, stream) = (listener.clone(), stream.clone());
        rt.block_on(async move {
            let server = tokio::spawn(async move { serve(&listener, stream).await });
            let got = if peer_side {
                peer(addr).await
            } else {
                parkway(addr).await
            };
            let _ = server.await;
            got
        })
    };
    // Both sides see every event before anything is timed.
    for (label, stream, events) in &streams {
        for peer_side in [false, true] {
            let (n, _) = run(&rt, stream, peer_side);
            assert_eq!(n, *events, "{label}: peer={peer_side}");
        }
    }

    for (unit, per_event) in [("bytes", false), ("events", true)] {
        let mut group = c.benchmark_group(format!("esl_loopback_{unit}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for (label, stream, events) in &streams {
            group.throughput(if per_event {
                Throughput::Elements(*events as u64)
            } else {
                Throughput::Bytes(stream.len() as u64)
            });
            for (side, peer_side) in [("parkway", false), ("freeswitch-esl-tokio", true)] {
                group.bench_function(format!("{label}/{side}"), |b| {
                    b.iter(|| black_box(run(&rt, stream, peer_side)))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
