//! Outbound mode against the simulated switch, with the real `connect` reply of FreeSWITCH
//! 1.10.12 (`captures/outbound_plain.recv`).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use parkway_esl::client::{ClientEvent, ClientOptions, CloseReason, ConnState, EventStream};
use parkway_esl::outbound::{OutboundListener, OutboundSession};
use parkway_sim::wire;
use parkway_sim::{PeerConfig, PeerHandle, TestPeer};

const UUID: &str = "9f4354e5-33d2-49c3-9db9-d2da1cf35e1b";
const CHANNEL: &str = "loopback/socket_8084-b";

async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("test took longer than 30 s")
}

fn capture() -> Vec<u8> {
    let path = format!(
        "{}/../../captures/outbound_plain.recv",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

/// The first frame FreeSWITCH sent: the reply to `connect`, with the channel data.
fn connect_reply() -> Bytes {
    let bytes = capture();
    Bytes::copy_from_slice(&bytes[..find(&bytes, b"\n\n") + 2])
}

/// The captured linger notice, byte for byte.
fn linger_notice() -> Bytes {
    let bytes = capture();
    let at = find(
        &bytes,
        b"Content-Type: text/disconnect-notice\nControlled-Session-UUID",
    );
    let len = find(&bytes[at..], b"\n\n") + 2;
    Bytes::copy_from_slice(&bytes[at..at + len])
}

async fn call() -> (PeerHandle, OutboundSession) {
    let listener = OutboundListener::bind("127.0.0.1:0", ClientOptions::default())
        .await
        .unwrap();
    let (_, peer) = TestPeer::start(PeerConfig::default()).await.unwrap();
    peer.place_call(listener.local_addr().unwrap(), connect_reply())
        .await
        .unwrap();
    let session = listener.accept().await.unwrap();
    (peer, session)
}

async fn next_notice(events: &mut EventStream) -> parkway_esl::message::DisconnectNotice {
    loop {
        match events.recv().await.expect("stream ended") {
            ClientEvent::Notice(n) => return n,
            ClientEvent::Event(..) => continue,
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn connect_decodes_the_channel_data_of_the_real_reply() {
    within(async {
        let (peer, session) = call().await;
        let ch = &session.channel;
        assert_eq!(ch.unique_id(), UUID);
        assert_eq!(ch.channel_name().as_deref(), Some(CHANNEL));
        assert_eq!(ch.caller_id_number().as_deref(), Some("+13055550123"));
        assert_eq!(ch.caller_id_name().as_deref(), Some("Maria Lopez"));
        assert_eq!(ch.destination_number().as_deref(), Some("socket_8084"));
        assert_eq!(ch.variable("sip_h_X-Campaign").as_deref(), Some("solar"));
        assert_eq!(
            ch.variable("parkway_call_id").as_deref(),
            Some("pk-2c5835c5-d701")
        );
        assert_eq!(ch.header("Reply-Text").as_deref(), Some("+OK\n"));
        assert_eq!(ch.header("Control").as_deref(), Some("full"));
        assert_eq!(ch.as_event().name(), "CHANNEL_DATA");
        assert_eq!(peer.lines_of(1), ["connect"]);
    })
    .await
}

#[tokio::test]
async fn linger_notice_keeps_the_socket_then_exit_gets_the_final_one() {
    within(async {
        let (peer, session) = call().await;
        let OutboundSession {
            client, mut events, ..
        } = session;
        client.myevents().await.unwrap();
        client.linger().await.unwrap();
        let app = client.execute(None, "answer", None).await.unwrap();
        let sent = peer.received_commands();
        let sendmsg = &sent.last().unwrap().command;
        assert_eq!(sendmsg.line(), "sendmsg");
        assert_eq!(sendmsg.header("Event-UUID"), Some(app.as_str()));
        assert_eq!(sendmsg.header("execute-app-name"), Some("answer"));

        // myevents: this channel's events only.
        let seq = peer.next_sequence();
        peer.emit_event(&wire::build_event(
            "CHANNEL_ANSWER",
            seq,
            &[("Unique-ID", "other")],
            None,
        ))
        .await;
        let seq = peer.next_sequence();
        peer.emit_event(&wire::build_event(
            "CHANNEL_ANSWER",
            seq,
            &[("Unique-ID", UUID)],
            None,
        ))
        .await;
        let event = events.next_event().await.unwrap();
        assert_eq!(event.unique_id().as_deref(), Some(UUID));

        // The channel hangs up: FreeSWITCH's own linger notice.
        peer.emit_raw(linger_notice()).await;
        let notice = next_notice(&mut events).await;
        assert!(notice.linger);
        assert_eq!(notice.linger_time, Some(-1));
        assert!(matches!(client.state(), ConnState::Lingering(_)));
        // Still usable while lingering.
        assert_eq!(client.api_text("echo still").await.unwrap(), "still");

        let bye = client.exit().await.unwrap();
        assert_eq!(bye.text(), "+OK bye");
        let last = next_notice(&mut events).await;
        assert!(!last.linger);
        assert!(matches!(client.closed().await, CloseReason::Notice(n) if !n.linger));
        assert!(events.recv().await.is_none());
    })
    .await
}

#[tokio::test]
async fn hangup_without_linger_is_final() {
    within(async {
        let (peer, session) = call().await;
        let OutboundSession {
            client, mut events, ..
        } = session;
        client.myevents().await.unwrap();
        peer.hangup().await;
        let notice = next_notice(&mut events).await;
        assert!(!notice.linger);
        assert_eq!(
            notice.headers.get("Controlled-Session-UUID").as_deref(),
            Some(UUID)
        );
        assert!(matches!(client.closed().await, CloseReason::Notice(_)));
        assert!(client.api("echo late").await.is_err());
    })
    .await
}

#[test]
fn the_peer_writes_the_linger_notice_as_freeswitch_does() {
    assert_eq!(
        wire::channel_notice(UUID, CHANNEL, Some(-1)),
        linger_notice()
    );
}

/// With a seed, each outbound session draws its ids from its own stream of it, so two calls'
/// sessions never repeat an Event-UUID.
#[tokio::test]
async fn seeded_sessions_get_their_own_id_streams() {
    let options = ClientOptions {
        uuid_seed: Some(3),
        ..ClientOptions::default()
    };
    let listener = OutboundListener::bind("127.0.0.1:0", options)
        .await
        .expect("binds");
    let seeds: Vec<Option<u64>> = (0..3)
        .map(|_| listener.session_options().uuid_seed)
        .collect();
    let expected: Vec<Option<u64>> = (0..3)
        .map(|n| Some(parkway_esl::splitmix::stream_seed(3, n)))
        .collect();
    assert_eq!(seeds, expected);
    assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2]);
}
