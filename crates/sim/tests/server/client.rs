//! The event-socket client against the simulated switch on 127.0.0.1:0.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use parkway_esl::client::{
    AuthFailurePolicy, ClientEvent, ClientOptions, CloseReason, EslClient, EslError, EventStream,
    Heartbeat, JobResult, SupervisorConfig, connect, connect_supervised,
};
use parkway_esl::command::{Command, EventFormat};
use parkway_sim::wire;
use parkway_sim::{
    Behaviour, DropMode, JobOrder, PeerConfig, PeerHandle, SimConfig, SimSwitch, TestPeer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Every test is bounded: a hang is a failure, not a stuck CI job.
async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("test took longer than 30 s")
}

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/../../captures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn peer() -> (SocketAddr, PeerHandle) {
    TestPeer::start(PeerConfig::default()).await.unwrap()
}

async fn peer_with(behaviour: Behaviour) -> (SocketAddr, PeerHandle) {
    TestPeer::start(PeerConfig {
        behaviour,
        ..PeerConfig::default()
    })
    .await
    .unwrap()
}

fn options() -> ClientOptions {
    ClientOptions {
        uuid_seed: Some(7),
        ..ClientOptions::default()
    }
}

async fn connected(addr: SocketAddr) -> (EslClient, EventStream) {
    connect(addr, "ClueCon", options()).await.unwrap()
}

#[tokio::test]
async fn auth_ok_then_api_and_the_peer_saw_both() {
    within(async {
        let (addr, peer) = peer().await;
        let (client, _events) = connected(addr).await;
        let status = client.api_text("status").await.unwrap();
        assert!(status.starts_with("UP 0 years"), "{status}");
        let unknown = client.api_text("no_such_thing").await.unwrap();
        assert_eq!(unknown, "-ERR no_such_thing Command not found!\n");
        assert_eq!(
            peer.lines_of(1),
            ["auth ClueCon", "api status", "api no_such_thing"]
        );
    })
    .await
}

#[tokio::test]
async fn wrong_password_rejection_and_notice_are_distinct_errors() {
    within(async {
        let (addr, peer) = peer().await;
        let err = connect(addr, "WrongPassword", options()).await.unwrap_err();
        assert!(
            matches!(&err, EslError::AuthFailed { reply } if reply == "-ERR invalid"),
            "{err:?}"
        );
        assert_eq!(peer.lines_of(1), ["auth WrongPassword"]);

        let (addr, _peer) = peer_with(Behaviour {
            reject: true,
            ..Behaviour::default()
        })
        .await;
        let err = connect(addr, "ClueCon", options()).await.unwrap_err();
        assert!(
            matches!(&err, EslError::Rejected { text } if text == "Access Denied, go away."),
            "{err:?}"
        );

        let (addr, _peer) = peer_with(Behaviour {
            notice_on_accept: true,
            ..Behaviour::default()
        })
        .await;
        let err = connect(addr, "ClueCon", options()).await.unwrap_err();
        assert!(
            matches!(&err, EslError::DisconnectNotice { notice } if !notice.linger),
            "{err:?}"
        );
    })
    .await
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

async fn read_to_end(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn peer_speaks_the_captured_bytes_for_auth_failure_and_commands_before_auth() {
    within(async {
        let (addr, _peer) = peer().await;
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(b"auth WrongPassword\n\n").await.unwrap();
        assert_eq!(read_to_end(&mut raw).await, data("auth_fail.recv"));

        // Before auth every command is "not found"; then auth works (noauth_command.sent).
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(b"api status\n\nevent plain ALL\n\nbgapi status\n\nauth ClueCon\n\nexit\n\n")
            .await
            .unwrap();
        let got = read_to_end(&mut raw).await;
        let capture = data("noauth_command.recv");
        let api_at = find(&capture, b"Content-Type: api/response");
        let bye_at =
            find(&capture, b"Reply-Text: +OK bye\n") - "Content-Type: command/reply\n".len();
        let mut expected = capture[..api_at].to_vec();
        expected.extend_from_slice(&capture[bye_at..]);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
    })
    .await
}

/// 1,000 concurrent callers, each asking `api echo <n>`. Some give up after their command was
/// sent (their future is dropped), some time out; nobody else's answer may shift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_replies_match_in_order_under_1000_callers_with_some_giving_up() {
    within(async {
        let (addr, peer) = peer().await;
        let (client, _events) = connected(addr).await;
        peer.hold_output().await;
        let give_up = CancellationToken::new();
        let abandons = |n: u32| n % 5 == 0;
        let times_out = |n: u32| !abandons(n) && n % 7 == 0;
        let mut abandoned = Vec::new();
        let mut timed = Vec::new();
        let mut answered = Vec::new();
        for n in 0..1000u32 {
            let client = client.clone();
            if abandons(n) {
                let give_up = give_up.clone();
                abandoned.push(tokio::spawn(async move {
                    let cmd = format!("echo {n}");
                    tokio::select! {
                        r = client.api(&cmd) => panic!("answered while held: {r:?}"),
                        _ = give_up.cancelled() => {}
                    }
                }));
            } else if times_out(n) {
                timed.push(tokio::spawn(async move {
                    let r = tokio::time::timeout(
                        Duration::from_millis(1),
                        client.api(&format!("echo {n}")),
                    )
                    .await;
                    assert!(r.is_err(), "caller {n} answered while output was held");
                }));
            } else {
                answered.push(tokio::spawn(async move {
                    let body = client.api(&format!("echo {n}")).await.unwrap();
                    assert_eq!(
                        body,
                        Bytes::from(n.to_string()),
                        "caller {n} got another's answer"
                    );
                }));
            }
        }
        // Every abandoning caller's command is on the wire before it gives up.
        let n_abandon = (0..1000).filter(|&n| abandons(n)).count();
        peer.wait_for_commands(n_abandon, |c| {
            c.command
                .line()
                .strip_prefix("api echo ")
                .and_then(|n| n.parse().ok())
                .is_some_and(abandons)
        })
        .await;
        give_up.cancel();
        for task in abandoned.into_iter().chain(timed) {
            task.await.unwrap();
        }
        peer.release_output().await;
        let n_answered = answered.len();
        for task in answered {
            task.await.unwrap();
        }
        assert_eq!(
            n_answered,
            1000 - n_abandon - (0..1000).filter(|&n| times_out(n)).count()
        );
        // Still in step afterwards.
        assert_eq!(client.api_text("echo last").await.unwrap(), "last");
        assert!(!client.is_closed());
    })
    .await
}

#[tokio::test]
async fn bgapi_results_match_by_job_uuid_in_any_order() {
    within(async {
        let (addr, peer) = peer_with(Behaviour {
            hold_jobs: true,
            ..Behaviour::default()
        })
        .await;
        let (client, mut events) = connected(addr).await;
        client
            .subscribe(&["BACKGROUND_JOB", "CHANNEL_PARK"])
            .await
            .unwrap();
        for order in [JobOrder::Reversed, JobOrder::Shuffled] {
            let mut jobs = Vec::new();
            for n in 0..20 {
                jobs.push((n, client.bgapi_job(&format!("echo job {n}")).await.unwrap()));
            }
            let ids: std::collections::HashSet<_> =
                jobs.iter().map(|(_, j)| j.job_uuid().to_owned()).collect();
            assert_eq!(ids.len(), 20);
            // The Job-UUID went out as a header of the bgapi command.
            let sent = peer.received_commands();
            for (_, job) in &jobs {
                assert!(
                    sent.iter()
                        .any(|c| c.command.header("Job-UUID") == Some(job.job_uuid()))
                );
            }
            peer.release_jobs(order).await;
            for (n, job) in jobs {
                assert_eq!(
                    job.result().await.unwrap(),
                    JobResult::Ok(format!("job {n}"))
                );
            }
        }
        // The results were consumed by their jobs, not delivered as events.
        peer.emit_event(&wire::build_event("CHANNEL_PARK", 1, &[], None))
            .await;
        let first = events.next_event().await.unwrap();
        assert_eq!(first.name(), "CHANNEL_PARK");
        assert_eq!(client.stats().events_received, 41);
    })
    .await
}

#[tokio::test]
async fn full_event_queue_drops_and_counts_while_api_still_answers() {
    within(async {
        let (addr, peer) = peer().await;
        let (client, mut events) = connect(
            addr,
            "ClueCon",
            ClientOptions {
                event_capacity: 8,
                ..options()
            },
        )
        .await
        .unwrap();
        client.subscribe(&["ALL"]).await.unwrap();
        for seq in 1..=50 {
            let e = wire::build_event("CHANNEL_STATE", seq, &[("Unique-ID", "u1")], None);
            peer.emit_event(&e).await;
        }
        // Nobody reads the stream, yet the reader answers api calls (sent after the events).
        assert_eq!(client.api_text("echo alive").await.unwrap(), "alive");
        assert_eq!(client.dropped_events(), 42);
        let stats = client.stats();
        assert_eq!((stats.events_received, stats.events_dropped), (50, 42));
        // The queue kept the oldest events, in order.
        for seq in 1..=8 {
            assert_eq!(events.next_event().await.unwrap().sequence(), Some(seq));
        }
        assert!(events.try_recv().is_none());
    })
    .await
}

#[tokio::test]
async fn a_reply_nobody_waits_for_fails_the_connection_as_out_of_step() {
    within(async {
        let (addr, peer) = peer().await;
        let (client, _events) = connected(addr).await;
        peer.emit_raw(wire::reply("+OK", &[])).await;
        let reason = client.closed().await;
        assert!(
            matches!(reason, CloseReason::Error(EslError::OutOfStep { .. })),
            "{reason:?}"
        );
        assert!(matches!(
            client.api("echo x").await,
            Err(EslError::Disconnected)
        ));
    })
    .await
}

#[tokio::test]
async fn garbage_from_the_switch_fails_pending_calls() {
    within(async {
        let (addr, peer) = peer_with(Behaviour {
            api_delay: Duration::from_secs(3600),
            ..Behaviour::default()
        })
        .await;
        let (client, _events) = connected(addr).await;
        let pending = tokio::spawn({
            let client = client.clone();
            async move { client.api("echo never").await }
        });
        peer.wait_for_commands(1, |c| c.command.line() == "api echo never")
            .await;
        peer.drop_connections(DropMode::Clean);
        assert!(matches!(
            pending.await.unwrap(),
            Err(EslError::Disconnected)
        ));
        assert!(matches!(client.closed().await, CloseReason::Eof));

        let (addr, peer) = self::peer().await;
        let (client, _events) = connected(addr).await;
        peer.emit_raw(Bytes::from_static(b"this is not a header\n\n"))
            .await;
        let reason = client.closed().await;
        assert!(
            matches!(reason, CloseReason::Error(EslError::Codec(_))),
            "{reason:?}"
        );
    })
    .await
}

fn supervisor_config(addr: SocketAddr, password: &str) -> SupervisorConfig {
    let mut config = SupervisorConfig::new(addr.to_string(), password);
    config.subscriptions = vec![
        Command::event(EventFormat::Plain, &["CHANNEL_PARK", "BACKGROUND_JOB"]).unwrap(),
        Command::filter("Event-Name", "CHANNEL_PARK").unwrap(),
        Command::filter("Event-Name", "BACKGROUND_JOB").unwrap(),
    ];
    config.backoff_base = Duration::from_millis(5);
    config.backoff_max = Duration::from_millis(40);
    config.rng_seed = Some(11);
    config.options = options();
    config
}

async fn next_marker(events: &mut EventStream) -> ClientEvent {
    loop {
        match events.recv().await.expect("stream ended") {
            ClientEvent::Event(..) => continue,
            other => return other,
        }
    }
}

/// The socket drops mid-frame: pending api calls and a pending bgapi fail with Disconnected; the
/// supervisor reconnects, replays the subscriptions and announces the new generation.
#[tokio::test]
async fn mid_frame_drop_fails_pending_calls_then_supervisor_reconnects_and_resubscribes() {
    within(async {
        let (addr, peer) = peer_with(Behaviour {
            hold_jobs: true,
            ..Behaviour::default()
        })
        .await;
        let (supervisor, mut events) = connect_supervised(supervisor_config(addr, "ClueCon"));
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Connected { generation: 1 }
        ));
        let client = supervisor.wait_connected().await.unwrap();
        let job = client.bgapi_job("echo lost").await.unwrap();
        peer.set_behaviour(Behaviour {
            api_delay: Duration::from_secs(3600),
            ..Behaviour::default()
        });
        let calls: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|s| {
                let client = client.clone();
                tokio::spawn(async move { client.api(&format!("echo {s}")).await })
            })
            .collect();
        // The switch is inside the first api when it dies.
        peer.wait_for_commands(1, |c| c.command.line().starts_with("api echo"))
            .await;
        peer.set_behaviour(Behaviour::default());
        peer.drop_connections(DropMode::MidFrame);
        for call in calls {
            assert!(matches!(call.await.unwrap(), Err(EslError::Disconnected)));
        }
        assert!(matches!(job.result().await, Err(EslError::Disconnected)));
        match next_marker(&mut events).await {
            ClientEvent::Disconnected {
                generation: 1,
                reason: CloseReason::Error(EslError::Codec(_)),
            } => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Connected { generation: 2 }
        ));
        let client = supervisor.wait_connected().await.unwrap();
        assert_eq!(supervisor.generation(), 2);
        // Answered after the replayed subscriptions, which were queued first.
        assert_eq!(client.api_text("echo again").await.unwrap(), "again");
        let subscriptions = [
            "auth ClueCon",
            "event plain CHANNEL_PARK BACKGROUND_JOB",
            "filter Event-Name CHANNEL_PARK",
            "filter Event-Name BACKGROUND_JOB",
        ];
        assert_eq!(peer.lines_of(2)[..4], subscriptions);
        assert_eq!(peer.lines_of(2)[4], "api echo again");
        assert_eq!(&peer.lines_of(1)[..4], subscriptions);
        assert_eq!(
            supervisor.bgapi("echo job").await.unwrap(),
            JobResult::Ok("job".into())
        );
        peer.emit_event(&wire::build_event("CHANNEL_PARK", 9, &[], None))
            .await;
        assert_eq!(events.next_event().await.unwrap().sequence(), Some(9));
        assert_eq!(supervisor.stats().reconnects, 1);

        supervisor.shutdown();
        match next_marker(&mut events).await {
            ClientEvent::Disconnected {
                generation: 2,
                reason: CloseReason::Shutdown,
            } => {}
            other => panic!("{other:?}"),
        }
        assert!(events.recv().await.is_none());
    })
    .await
}

#[tokio::test]
async fn supervisor_backs_off_to_max_on_wrong_password_or_stops_when_told() {
    within(async {
        let (addr, peer) = peer().await;
        let (supervisor, mut events) = connect_supervised(supervisor_config(addr, "nope"));
        for attempt in 1..=2 {
            match next_marker(&mut events).await {
                ClientEvent::ConnectFailed {
                    attempt: a,
                    error: EslError::AuthFailed { .. },
                    retry_in,
                } => {
                    assert_eq!(a, attempt);
                    assert_eq!(retry_in, Duration::from_millis(40));
                }
                other => panic!("{other:?}"),
            }
        }
        supervisor.shutdown();
        assert!(events.recv().await.is_none());
        let tries = peer.connections();

        let mut config = supervisor_config(addr, "nope");
        config.auth_failure = AuthFailurePolicy::Stop;
        let (_supervisor, mut events) = connect_supervised(config);
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::ConnectFailed {
                error: EslError::AuthFailed { .. },
                ..
            }
        ));
        assert!(events.recv().await.is_none());
        assert_eq!(peer.connections(), tries + 1);
    })
    .await
}

#[tokio::test]
async fn supervisor_retries_while_nothing_listens() {
    within(async {
        // Bind then free a port: connecting to it is refused.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let (supervisor, mut events) = connect_supervised(supervisor_config(addr, "ClueCon"));
        let mut waits = Vec::new();
        for attempt in 1..=4u32 {
            match next_marker(&mut events).await {
                ClientEvent::ConnectFailed {
                    attempt: a,
                    error: EslError::Io(_),
                    retry_in,
                } => {
                    assert_eq!(a, attempt);
                    waits.push(retry_in);
                }
                other => panic!("{other:?}"),
            }
        }
        // base 5 ms doubling, each in [d/2, d], capped at 40 ms.
        for (i, w) in waits.iter().enumerate() {
            let d = Duration::from_millis(5 << i).min(Duration::from_millis(40));
            assert!(*w >= d / 2 && *w <= d, "{i}: {w:?}");
        }
        supervisor.shutdown();
    })
    .await
}

/// Waits for the next `Connected` and says how long it took.
async fn reconnected_within(events: &mut EventStream, generation: u64) -> Duration {
    let cut = std::time::Instant::now();
    loop {
        match next_marker(events).await {
            ClientEvent::Disconnected { .. } => continue,
            ClientEvent::Connected { generation: g } if g == generation => return cut.elapsed(),
            other => panic!("waiting for generation {generation}: {other:?}"),
        }
    }
}

/// Two socket cuts in quick succession (FreeSWITCH's `reload mod_event_socket` accepts again
/// within about 0.1 s): the supervisor is back right after each one. The first retry after a
/// drop is immediate, and a connection that authenticated and subscribed restarts the backoff;
/// it does not take a connection that stayed up for long.
#[tokio::test]
async fn after_a_cut_the_first_retry_is_immediate_and_subscribing_resets_the_backoff() {
    within(async {
        let (addr, sim) = SimSwitch::start(SimConfig::default()).await.unwrap();
        let mut config = supervisor_config(addr, "ClueCon");
        // A backoff long enough to tell from an immediate retry.
        config.backoff_base = Duration::from_secs(4);
        config.backoff_max = Duration::from_secs(8);
        config.stable_after = Duration::from_millis(50);
        let (supervisor, mut events) = connect_supervised(config);
        reconnected_within(&mut events, 1).await;
        for generation in 2..=4 {
            // Answered after the subscriptions: this generation has subscribed.
            supervisor.api("status").await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            sim.peer().drop_connections(DropMode::Clean);
            let took = reconnected_within(&mut events, generation).await;
            assert!(
                took < Duration::from_secs(1),
                "generation {generation} came {took:?} after the cut"
            );
        }
        supervisor.shutdown();
        sim.shutdown().await;
    })
    .await
}

/// A switch that drops every connection as soon as it has subscribed does not get a tight loop of
/// reconnects: such flaps back off like failed attempts.
#[tokio::test]
async fn a_connection_dropped_right_after_subscribing_is_followed_by_a_backoff() {
    within(async {
        let (addr, peer) = peer().await;
        let mut config = supervisor_config(addr, "ClueCon");
        config.backoff_base = Duration::from_millis(400);
        config.backoff_max = Duration::from_secs(2);
        config.stable_after = Duration::from_secs(10);
        let (supervisor, mut events) = connect_supervised(config);
        reconnected_within(&mut events, 1).await;
        supervisor.api("status").await.unwrap();
        peer.drop_connections(DropMode::Clean);
        let took = reconnected_within(&mut events, 2).await;
        assert!(took >= Duration::from_millis(200), "{took:?}");
        supervisor.shutdown();
    })
    .await
}

/// Every event frame of a real capture, decoded and written again by the peer, is the same bytes.
#[test]
fn peer_event_frames_match_the_capture_byte_for_byte() {
    use bytes::BytesMut;
    use parkway_esl::codec::Framer;
    use parkway_esl::event::Event;
    for name in ["inbound_plain.recv", "outbound_plain.recv"] {
        let capture = data(name);
        let mut buf = BytesMut::from(&capture[..]);
        let mut framer = Framer::default();
        let mut checked = 0;
        while let Some(raw) = framer.next_frame(&mut buf).unwrap() {
            if !raw.head.ends_with(b"Content-Type: text/event-plain\n") {
                continue;
            }
            let start = raw.offset as usize;
            let end = start + raw.head.len() + 1 + raw.body.as_ref().map_or(0, |b| b.len());
            let event = Event::parse_plain(raw.body.clone().unwrap()).unwrap();
            let ours = wire::event(&event, EventFormat::Plain);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&capture[start..end]),
                "{name} at {start}"
            );
            checked += 1;
        }
        assert!(checked >= 18, "{name}: {checked}");
    }
}

#[tokio::test]
async fn a_caller_that_times_out_on_a_stalled_switch_does_not_shift_the_next_answer() {
    within(async {
        let (addr, peer) = peer().await;
        let (client, _events) = connected(addr).await;
        peer.stall().await;
        let first = tokio::time::timeout(Duration::from_millis(20), client.api("echo first")).await;
        assert!(first.is_err(), "answered by a stalled switch");
        let second = tokio::spawn({
            let client = client.clone();
            async move { client.api_text("echo second").await }
        });
        peer.resume().await;
        assert_eq!(second.await.unwrap().unwrap(), "second");
    })
    .await
}

#[tokio::test]
async fn json_events_arrive_like_plain_ones() {
    within(async {
        let (addr, peer) = peer().await;
        let (client, mut events) = connected(addr).await;
        let reply = client
            .command_ok(Command::event(EventFormat::Json, &["CHANNEL_PARK"]).unwrap())
            .await
            .unwrap();
        assert_eq!(reply.text(), "+OK event listener enabled json");
        let sent = wire::build_event(
            "CHANNEL_PARK",
            5,
            &[
                ("Unique-ID", "u-1"),
                ("variable_sip_h_X-Campaign", "solar & wind: 100%"),
            ],
            Some("a body\n"),
        );
        peer.emit_event(&wire::build_event("CHANNEL_STATE", 4, &[], None))
            .await;
        peer.emit_event(&sent).await;
        let got = events.next_event().await.unwrap();
        assert_eq!(got.name(), "CHANNEL_PARK");
        assert_eq!(got.sequence(), Some(5));
        assert_eq!(
            got.variable("sip_h_X-Campaign").as_deref(),
            Some("solar & wind: 100%")
        );
        assert_eq!(got.body_text().as_deref(), Some("a body\n"));
    })
    .await
}

/// A frozen switch (socket open, nothing read or written) is found by the heartbeat and replaced.
#[tokio::test]
async fn heartbeat_drops_a_frozen_connection_and_the_supervisor_replaces_it() {
    within(async {
        let (addr, peer) = peer().await;
        let mut config = supervisor_config(addr, "ClueCon");
        config.heartbeat = Some(Heartbeat {
            every: Duration::from_millis(20),
            timeout: Duration::from_millis(100),
        });
        let (supervisor, mut events) = connect_supervised(config);
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Connected { generation: 1 }
        ));
        supervisor.wait_connected().await.unwrap();
        // Heartbeats are answered while the switch is alive.
        peer.wait_for_commands(2, |c| c.conn == 1 && c.command.line() == "api status")
            .await;
        peer.stall().await;
        match next_marker(&mut events).await {
            ClientEvent::Disconnected {
                generation: 1,
                reason: CloseReason::Error(EslError::Timeout { stage: "heartbeat" }),
            } => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Connected { generation: 2 }
        ));
        let client = supervisor.wait_connected().await.unwrap();
        assert_eq!(client.api_text("echo fresh").await.unwrap(), "fresh");
        supervisor.shutdown();
    })
    .await
}

#[tokio::test]
async fn a_final_disconnect_notice_ends_the_connection_with_that_reason() {
    within(async {
        let (addr, peer) = peer().await;
        let (client, mut events) = connected(addr).await;
        peer.goodbye().await;
        match events.recv().await.unwrap() {
            ClientEvent::Notice(n) => assert!(!n.linger),
            other => panic!("{other:?}"),
        }
        assert!(matches!(client.closed().await, CloseReason::Notice(n) if !n.linger));
        assert!(events.recv().await.is_none());
        assert!(matches!(
            client.api("echo x").await,
            Err(EslError::Disconnected)
        ));
    })
    .await
}

/// A consumer that reconciles as soon as it sees `Connected` reaches the switch through the
/// supervisor, even while the replayed subscriptions are still unanswered: they were queued first
/// and are answered first.
#[tokio::test]
async fn supervisor_api_works_as_soon_as_connected_is_seen() {
    within(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = supervisor_config(addr, "ClueCon");
        config.subscriptions =
            vec![Command::event(EventFormat::Plain, &["CHANNEL_PARK", "BACKGROUND_JOB"]).unwrap()];
        config.heartbeat = None;
        let (supervisor, mut events) = connect_supervised(config);
        let (mut raw, _) = listener.accept().await.unwrap();
        raw.write_all(b"Content-Type: auth/request\n\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains("auth ClueCon\n\n") {
            let n = raw.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed");
            seen.extend_from_slice(&buf[..n]);
        }
        raw.write_all(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            .await
            .unwrap();
        // The subscription is not answered yet.
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Connected { generation: 1 }
        ));
        assert!(supervisor.client().is_some(), "no live client at Connected");
        assert_eq!(supervisor.generation(), 1);
        let reconcile = {
            let supervisor = supervisor.clone();
            tokio::spawn(async move { supervisor.api("show channels as json").await })
        };
        let want = "event plain CHANNEL_PARK BACKGROUND_JOB\n\napi show channels as json\n\n";
        while !String::from_utf8_lossy(&seen).contains(want) {
            let n = raw.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"row_count":0}"#;
        raw.write_all(
            format!(
                "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n\
                 Content-Type: api/response\nContent-Length: {}\n\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(reconcile.await.unwrap().unwrap(), Bytes::from(body));
        assert!(supervisor.wait_connected().await.is_ok());
        supervisor.shutdown();
    })
    .await
}

/// A job whose BACKGROUND_JOB never comes (here: held by the switch) ends with a typed
/// `JobTimeout` at the connection's `job_timeout`, and the actor forgets it: the late result is
/// then an ordinary event, and the connection carries on.
#[tokio::test]
async fn a_job_without_its_background_job_times_out_and_is_forgotten() {
    within(async {
        let (addr, peer) = peer_with(Behaviour {
            hold_jobs: true,
            ..Behaviour::default()
        })
        .await;
        let (client, mut events) = connect(
            addr,
            "ClueCon",
            ClientOptions {
                job_timeout: Duration::from_millis(200),
                ..options()
            },
        )
        .await
        .unwrap();
        client.subscribe(&["BACKGROUND_JOB"]).await.unwrap();
        let job = client.bgapi_job("echo late").await.unwrap();
        let job_uuid = job.job_uuid().to_owned();
        match job.result().await {
            Err(EslError::JobTimeout {
                job_uuid: id,
                after,
            }) => {
                assert_eq!(id, job_uuid);
                assert_eq!(after, Duration::from_millis(200));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            client.bgapi("echo late too").await,
            Err(EslError::JobTimeout { .. })
        ));
        // The results come late: nobody claims them, they are events, not errors.
        peer.release_jobs(JobOrder::AsSubmitted).await;
        let late = events.next_event().await.unwrap();
        assert_eq!(late.name(), "BACKGROUND_JOB");
        assert_eq!(late.job_uuid().as_deref(), Some(job_uuid.as_str()));
        assert_eq!(client.api_text("echo still up").await.unwrap(), "still up");
        assert!(!client.is_closed());
    })
    .await
}

/// `result_within` gives up at the caller's limit, well before the connection's deadline.
#[tokio::test]
async fn result_within_gives_up_at_the_callers_limit() {
    within(async {
        let (addr, _peer) = peer_with(Behaviour {
            hold_jobs: true,
            ..Behaviour::default()
        })
        .await;
        let (client, _events) = connected(addr).await;
        client.subscribe(&["BACKGROUND_JOB"]).await.unwrap();
        let job = client.bgapi_job("echo slow").await.unwrap();
        let job_uuid = job.job_uuid().to_owned();
        match job.result_within(Duration::from_millis(50)).await {
            Err(EslError::JobTimeout {
                job_uuid: id,
                after,
            }) => {
                assert_eq!(id, job_uuid);
                assert_eq!(after, Duration::from_millis(50));
            }
            other => panic!("{other:?}"),
        }
    })
    .await
}

/// With a fixed `uuid_seed`, a new generation must not hand out the ids of the old one: a late
/// BACKGROUND_JOB of generation 1 would resolve generation 2's job with the same Job-UUID.
#[tokio::test]
async fn seeded_generations_never_repeat_an_id() {
    within(async {
        let (addr, peer) = peer().await;
        let (supervisor, mut events) = connect_supervised(supervisor_config(addr, "ClueCon"));
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Connected { generation: 1 }
        ));
        let first = supervisor.wait_connected().await.unwrap();
        let mut seen: std::collections::HashSet<String> =
            (0..1000).map(|_| first.new_uuid()).collect();
        peer.drop_connections(DropMode::MidFrame);
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Disconnected { generation: 1, .. }
        ));
        assert!(matches!(
            next_marker(&mut events).await,
            ClientEvent::Connected { generation: 2 }
        ));
        let second = supervisor.wait_connected().await.unwrap();
        for _ in 0..1000 {
            let id = second.new_uuid();
            assert!(seen.insert(id.clone()), "generation 2 repeated {id}");
        }
        supervisor.shutdown();
    })
    .await
}
