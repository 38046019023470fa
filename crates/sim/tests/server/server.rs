//! The simulated FreeSWITCH on a real loopback socket, driven with parkway's own ESL client:
//! scenario calls park, sendmsg bridges follow the captured event order, subscriptions and
//! filters per connection, bgapi originate, CDR files, outbound sockets, faults, and
//! byte-identical output for the same scenario and seed.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use parkway_esl::client::{ClientEvent, ClientOptions, EslClient, EventStream, connect};
use parkway_esl::codec::EslCodec;
use parkway_esl::command::{Command, EventFormat};
use parkway_esl::event::{Event, JobResult};
use parkway_esl::message::Message;
use parkway_esl::outbound::OutboundListener;
use parkway_sim::engine::SEC;
use parkway_sim::scenario::Scenario;
use parkway_sim::{Behaviour, DropMode, SimConfig, SimHandle, SimSwitch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

/// Events left out, as in the engine's conformance tests: those the simulator never emits, and
/// BACKGROUND_JOB.
fn not_modelled(name: &str) -> bool {
    name == "BACKGROUND_JOB" || parkway_sim::NOT_EMITTED.contains(&name)
}

async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test took too long")
}

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "test.toml").expect("scenario")
}

async fn sim(config: SimConfig) -> (std::net::SocketAddr, SimHandle) {
    SimSwitch::start(config).await.expect("listening")
}

async fn client(addr: std::net::SocketAddr) -> (EslClient, EventStream) {
    let options = ClientOptions {
        uuid_seed: Some(3),
        ..ClientOptions::default()
    };
    connect(addr, "ClueCon", options).await.expect("connected")
}

/// Every event that arrived before an `api` round trip (the session writes events queued before
/// a command's reply first).
async fn drain(c: &EslClient, events: &mut EventStream) -> Vec<Event> {
    c.api("uuid_exists x").await.expect("api");
    let mut out = Vec::new();
    while let Some(e) = events.try_recv() {
        if let ClientEvent::Event(e, _) = e {
            out.push(e);
        }
    }
    out
}

fn h(e: &Event, name: &str) -> String {
    e.header(name).map(|v| v.into_owned()).unwrap_or_default()
}

/// Per channel name, its modelled event names in order.
fn names_by_channel(events: &[Event]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        let name = e.name();
        if not_modelled(name.as_ref()) {
            continue;
        }
        if let Some(chan) = e.channel_name() {
            out.entry(chan.into_owned())
                .or_default()
                .push(name.into_owned());
        }
    }
    out
}

fn capture_events(name: &str) -> Vec<Event> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../captures")
        .join(format!("{name}.recv"));
    let bytes = std::fs::read(path).expect("capture");
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        if let Message::Event(e) = Message::from_frame(frame).expect("message") {
            out.push(e);
        }
    }
    out
}

const CALLER: &str = r#"
[[caller]]
number = "+13055550123"
name = "Maria Lopez"
destination = "18005550199"
sip_headers = { X-Campaign = "solar" }
variables = { parkway_call_id = "pk-1" }
"#;

/// The switch of `text`, a client seeing CHANNEL_PARK, and the one park of its caller.
async fn parked(text: &str) -> (SimHandle, EslClient, Event) {
    let (addr, sim) = sim(SimConfig {
        scenario: scenario(text),
        wait_for_subscriber: true,
        ..SimConfig::default()
    })
    .await;
    let (c, mut events) = client(addr).await;
    c.subscribe(&["CHANNEL_PARK"]).await.expect("subscribed");
    sim.advance_by(0).await.expect("running");
    let mut got = drain(&c, &mut events).await;
    assert_eq!(got.len(), 1, "one park");
    (sim, c, got.remove(0))
}

#[tokio::test]
async fn a_scenario_call_parks_and_is_seen_as_channel_park() {
    within(async {
        let (sim, c, park) = parked(CALLER).await;
        let park = &park;
        assert_eq!(park.name(), "CHANNEL_PARK");
        assert_eq!(park.caller_id_name().as_deref(), Some("Maria Lopez"));
        assert_eq!(park.variable("sip_h_X-Campaign").as_deref(), Some("solar"));
        assert_eq!(h(park, "Call-Direction"), "inbound");
        let uuid = park.unique_id().expect("uuid").into_owned();
        assert_eq!(
            c.api_text(&format!("uuid_getvar {uuid} parkway_call_id"))
                .await
                .expect("api"),
            "pk-1"
        );
        // The dialplan's park_timeout ends it.
        sim.advance_by(61 * SEC).await.expect("running");
        assert_eq!(
            c.api_text(&format!("uuid_exists {uuid}"))
                .await
                .expect("api"),
            "false"
        );
        sim.shutdown().await;
    })
    .await
}

/// A scenario's own extension replaces the built-in one: its `set`s are on the parked channel.
#[tokio::test]
async fn a_scenario_extension_runs_before_the_park() {
    within(async {
        let text = format!(
            "{CALLER}\n[[extension]]\ndestination = \"18005550199\"\n\
             apps = [[\"set\", \"hangup_after_bridge=true\"], [\"set\", \"park_timeout=120\"], [\"park\", \"\"]]\n"
        );
        let (sim, c, park) = parked(&text).await;
        assert_eq!(park.variable("hangup_after_bridge").as_deref(), Some("true"));
        let uuid = park.unique_id().expect("uuid").into_owned();
        // Not the built-in 60 s: the extension's 120 s.
        sim.advance_by(61 * SEC).await.expect("running");
        let exists = |c: &EslClient| {
            let cmd = format!("uuid_exists {uuid}");
            let c = c.clone();
            async move { c.api_text(&cmd).await.expect("api") }
        };
        assert_eq!(exists(&c).await, "true");
        sim.advance_by(60 * SEC).await.expect("running");
        assert_eq!(exists(&c).await, "false");
        sim.shutdown().await;
    })
    .await
}

/// The commands of `inbound_plain.sent`, sent to the server: each channel's events, by name,
/// are those FreeSWITCH sent in the capture.
#[tokio::test]
async fn sendmsg_bridge_gives_the_captured_event_order() {
    within(async {
        let (addr, sim) = sim(SimConfig::default()).await;
        let (c, mut events) = client(addr).await;
        c.subscribe(&["ALL"]).await.expect("subscribed");
        let job = c
            .bgapi_job(
                "originate {origination_uuid=e21f6ab9-01d2-4b3a-85a2-8b554eeabd6c,\
                 origination_caller_id_number=+13055550123,origination_caller_id_name='Maria Lopez',\
                 originate_timeout=3600,sleep_eat_digits=true,playback_terminators=none,\
                 sip_h_X-Campaign=solar,parkway_call_id=pk-dab34f92-dc48}\
                 loopback/18005550199/public &sleep(3600000)",
            )
            .await
            .expect("accepted");
        sim.advance_by(0).await;
        let first = drain(&c, &mut events).await;
        let park = first
            .iter()
            .find(|e| e.name() == "CHANNEL_PARK")
            .expect("parked");
        let parked = park.unique_id().expect("uuid").into_owned();
        let set = c
            .execute(Some(&parked), "set", Some("hangup_after_bridge=true"))
            .await
            .expect("queued");
        let bridge = c
            .execute(
                Some(&parked),
                "bridge",
                Some(
                    "{parkway_call_id=pk-dab34f92-dc48,ignore_early_media=true}\
                     [parkway_buyer=b1,leg_timeout=20]loopback/answer_dtmf/buyers",
                ),
            )
            .await
            .expect("queued");
        sim.run_until_idle(300 * SEC).await;
        // The caller's originate completes when the bridge answers it.
        assert!(matches!(job.result().await, Ok(JobResult::Ok(_))));
        let mut all = first.clone();
        all.extend(drain(&c, &mut events).await);
        let app_uuids: Vec<String> = all
            .iter()
            .filter(|e| e.name() == "CHANNEL_EXECUTE_COMPLETE")
            .map(|e| h(e, "Application-UUID"))
            .collect();
        assert!(app_uuids.contains(&set) && app_uuids.contains(&bridge));
        let ours = names_by_channel(&all);
        let real = names_by_channel(&capture_events("inbound_plain"));
        assert_eq!(ours.keys().collect::<Vec<_>>(), real.keys().collect::<Vec<_>>());
        for (chan, names) in &real {
            assert_eq!(&ours[chan], names, "events of {chan}");
        }
        sim.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn filters_are_ored_and_each_client_has_its_own_subscriptions() {
    within(async {
        let (addr, sim) = sim(SimConfig::default()).await;
        let (all_c, mut all_e) = client(addr).await;
        all_c.subscribe(&["ALL"]).await.expect("subscribed");
        let (park_c, mut park_e) = client(addr).await;
        park_c
            .command_ok(Command::event(EventFormat::Json, &["CHANNEL_PARK"]).expect("command"))
            .await
            .expect("subscribed");
        let (f_c, mut f_e) = client(addr).await;
        f_c.subscribe(&["ALL"]).await.expect("subscribed");
        f_c.filter("Event-Name", "CHANNEL_ANSWER")
            .await
            .expect("filter");
        f_c.filter("Event-Name", "CHANNEL_PARK")
            .await
            .expect("filter");
        // A Unique-ID filter drops events without the header (BACKGROUND_JOB among them).
        let (u_c, mut u_e) = client(addr).await;
        u_c.subscribe(&["ALL"]).await.expect("subscribed");
        u_c.filter("Unique-ID", "no-such-channel")
            .await
            .expect("filter");

        let calls = sim
            .place_call(parkway_sim::engine::api::InboundCall::new(
                "+13055550123",
                "Maria Lopez",
                "18005550199",
            ))
            .await
            .expect("placed");
        let answered = all_c
            .bgapi("originate loopback/answer_talk/buyers &park()")
            .await
            .expect("job");
        assert!(matches!(answered, JobResult::Ok(_)), "{answered:?}");
        sim.run_until_idle(60 * SEC).await;

        let everything = drain(&all_c, &mut all_e).await;
        let names = |v: &[Event]| v.iter().map(|e| e.name().into_owned()).collect::<Vec<_>>();
        let parks = drain(&park_c, &mut park_e).await;
        assert!(!parks.is_empty());
        assert!(names(&parks).iter().all(|n| n == "CHANNEL_PARK"));
        let filtered = names(&drain(&f_c, &mut f_e).await);
        assert!(filtered.contains(&"CHANNEL_ANSWER".to_owned()));
        assert!(filtered.contains(&"CHANNEL_PARK".to_owned()));
        assert!(
            filtered
                .iter()
                .all(|n| n == "CHANNEL_ANSWER" || n == "CHANNEL_PARK")
        );
        let expected: Vec<String> = everything
            .iter()
            .filter(|e| matches!(e.name().as_ref(), "CHANNEL_ANSWER" | "CHANNEL_PARK"))
            .map(|e| e.name().into_owned())
            .collect();
        assert_eq!(filtered, expected);
        assert!(drain(&u_c, &mut u_e).await.is_empty());
        assert!(
            everything
                .iter()
                .any(|e| e.unique_id().as_deref() == Some(&calls.parked))
        );
        sim.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn bgapi_originate_answers_ok_uuid_or_err_cause() {
    within(async {
        let (addr, sim) = sim(SimConfig::default()).await;
        let (c, _events) = client(addr).await;
        c.subscribe(&["BACKGROUND_JOB"]).await.expect("subscribed");
        let ok = c
            .bgapi("originate {origination_uuid=0b0e0000-0000-4000-8000-000000000001}loopback/answer_talk/buyers &park()")
            .await
            .expect("job");
        assert_eq!(
            ok,
            JobResult::Ok("0b0e0000-0000-4000-8000-000000000001".into())
        );
        let busy = c
            .bgapi("originate loopback/busy/buyers &park()")
            .await
            .expect("job");
        assert_eq!(busy, JobResult::Err("USER_BUSY".into()));
        // No subscription, no result event: the job stays pending.
        let (quiet, _e) = client(addr).await;
        let job = quiet
            .bgapi_job("originate loopback/busy/buyers &park()")
            .await
            .expect("accepted");
        let pending = tokio::time::timeout(Duration::from_millis(200), job.result()).await;
        assert!(pending.is_err(), "BACKGROUND_JOB went to a client not subscribed");
        sim.shutdown().await;
    })
    .await
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parkway-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn cdr_files_are_written_with_mod_json_cdr_names() {
    within(async {
        let dir = temp_dir("cdr");
        let (addr, sim) = sim(SimConfig {
            cdr_dir: Some(dir.clone()),
            scenario: scenario(&format!("{CALLER}\nabandon_after_ms = 5000\n")),
            ..SimConfig::default()
        })
        .await;
        let (c, mut events) = client(addr).await;
        c.subscribe(&["CHANNEL_HANGUP_COMPLETE"])
            .await
            .expect("subscribed");
        sim.run_until_idle(60 * SEC).await;
        let hangups = drain(&c, &mut events).await;
        assert_eq!(hangups.len(), 2, "the caller's two legs");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|f| f.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        for e in &hangups {
            let uuid = e.unique_id().expect("uuid").into_owned();
            let name = if h(e, "Call-Direction") == "inbound" {
                format!("a_{uuid}.cdr.json")
            } else {
                format!("{uuid}.cdr.json")
            };
            let text = std::fs::read_to_string(dir.join(&name)).expect("the CDR of a channel");
            let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
            assert_eq!(doc["variables"]["uuid"], serde_json::json!(uuid), "{name}");
        }
        sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
}

/// Reads a raw socket until `end` has arrived.
async fn read_until(s: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while !out.ends_with(end) {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed early");
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// One run: a scenario with a generator and a bridged buyer, read raw off the socket.
async fn wire_bytes(seed: u64) -> Vec<u8> {
    let mut config = SimConfig {
        scenario: scenario(
            r#"
[[caller]]
number = "+13055550123"
name = "Maria Lopez"
destination = "18005550199"
abandon_after_ms = 20000
dtmf = [{ at_ms = 3000, digits = "12" }]

[[buyer]]
destination = "acme"
behaviour = "answer"
ring_ms = 1500
talk_ms = 9000
digits = [{ at_ms = 2000, digits = "1" }]

[generator]
cps = 3.0
count = 5
abandon_ms = [2000, 30000]
"#,
        ),
        wait_for_subscriber: true,
        ..SimConfig::default()
    };
    config.engine.seed = seed;
    let (addr, sim) = sim(config).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut wire = read_until(&mut s, b"auth/request\n\n").await;
    s.write_all(b"auth ClueCon\n\n").await.expect("write");
    wire.extend(read_until(&mut s, b"+OK accepted\n\n").await);
    s.write_all(b"event plain ALL\n\n").await.expect("write");
    wire.extend(read_until(&mut s, b"enabled plain\n\n").await);
    s.write_all(b"bgapi originate loopback/acme/buyers &park()\nJob-UUID: 7a92e529-07c6-4d23-bdfe-bf72dd1c7639\n\n")
        .await
        .expect("write");
    sim.run_until_idle(120 * SEC).await;
    s.write_all(b"api uuid_exists x\n\nexit\n\n")
        .await
        .expect("write");
    s.read_to_end(&mut wire).await.expect("read");
    sim.shutdown().await;
    wire
}

#[tokio::test]
async fn same_scenario_and_seed_give_the_same_bytes() {
    within(async {
        let a = wire_bytes(11).await;
        let b = wire_bytes(11).await;
        assert!(a.len() > 50_000, "a real run: {} bytes", a.len());
        assert!(a == b, "two runs differ");
        let c = wire_bytes(12).await;
        assert!(a != c, "the seed changes the ids");
    })
    .await
}

#[tokio::test]
async fn outbound_socket_gets_the_channel_data_and_drives_the_call() {
    within(async {
        let listener = OutboundListener::bind("127.0.0.1:0", ClientOptions::default())
            .await
            .expect("listening");
        let port = listener.local_addr().expect("addr").port();
        let (addr, sim) = sim(SimConfig {
            scenario: scenario(&format!(
                "[[caller]]\nnumber = \"+13055550123\"\nname = \"Maria Lopez\"\n\
                 destination = \"socket_{port}\"\nvariables = {{ parkway_call_id = \"pk-9\" }}\n"
            )),
            ..SimConfig::default()
        })
        .await;
        let (watch, mut watched) = client(addr).await;
        watch.subscribe(&["ALL"]).await.expect("subscribed");
        sim.advance_by(0).await;
        let mut session = listener.accept().await.expect("outbound connection");
        let uuid = session.channel.unique_id().into_owned();
        assert_eq!(
            session.channel.variable("parkway_call_id").as_deref(),
            Some("pk-9")
        );
        assert_eq!(session.channel.header("Control").as_deref(), Some("full"));
        session.client.myevents().await.expect("myevents");
        session.client.linger().await.expect("linger");
        session
            .client
            .execute(None, "answer", None)
            .await
            .expect("queued");
        session
            .client
            .execute(None, "hangup", Some("NORMAL_CLEARING"))
            .await
            .expect("queued");
        sim.run_until_idle(10 * SEC).await;
        let notice = loop {
            match session.events.recv().await.expect("stream") {
                ClientEvent::Notice(n) => break n,
                _ => continue,
            }
        };
        assert!(notice.linger, "a linger notice first");
        let seen = drain(&watch, &mut watched).await;
        let mine: Vec<String> = seen
            .iter()
            .filter(|e| e.unique_id().as_deref() == Some(uuid.as_str()))
            .map(|e| e.name().into_owned())
            .collect();
        assert!(mine.contains(&"CHANNEL_ANSWER".to_owned()), "{mine:?}");
        assert!(mine.contains(&"CHANNEL_HANGUP".to_owned()), "{mine:?}");
        let _ = session.client.exit().await;
        sim.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn faults_err_to_a_command_slow_api_drop_and_restart() {
    within(async {
        let mut behaviour = Behaviour::default();
        behaviour
            .api_responses
            .insert("status".into(), "-ERR simulated failure\n".into());
        let (addr, sim) = sim(SimConfig {
            behaviour,
            ..SimConfig::default()
        })
        .await;
        let (c, _e) = client(addr).await;
        assert_eq!(
            c.api_text("status").await.expect("api"),
            "-ERR simulated failure\n"
        );
        assert_eq!(
            c.api_text("global_getvar domain").await.expect("api"),
            "127.0.0.1"
        );
        let mut slow = sim.peer().behaviour();
        slow.api_delay = Duration::from_millis(150);
        sim.peer().set_behaviour(slow);
        let t = std::time::Instant::now();
        c.api("uuid_exists x").await.expect("api");
        assert!(t.elapsed() >= Duration::from_millis(150));
        sim.peer().set_behaviour(Behaviour::default());

        sim.peer().drop_connections(DropMode::MidFrame);
        c.closed().await;
        let (c, _e) = client(addr).await;
        let core = c.api_text("global_getvar domain").await.expect("api");
        assert_eq!(core, "127.0.0.1");
        let before = sim.with(|e| e.core_uuid().to_owned()).await.expect("up");
        sim.restart(false).await.expect("up");
        c.closed().await;
        let after = sim.with(|e| e.core_uuid().to_owned()).await.expect("up");
        assert_ne!(before, after);
        sim.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn a_listener_too_far_behind_is_dropped() {
    within(async {
        let (addr, sim) = sim(SimConfig {
            scenario: scenario("[generator]\ncps = 1000.0\ncount = 3000\nabandon_ms = [10, 20]\n"),
            queue_len: 10_000,
            max_failed_enqueues: 10,
            wait_for_subscriber: true,
            ..SimConfig::default()
        })
        .await;
        // Subscribes, then never reads again.
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"auth ClueCon\n\nevent plain ALL\n\n")
            .await
            .expect("write");
        let (reader, mut r) = client(addr).await;
        reader
            .subscribe(&["CHANNEL_PARK"])
            .await
            .expect("subscribed");
        sim.run_until_idle(30 * SEC).await;
        // The reading client kept up; the stalled one was cut off.
        let parks = drain(&reader, &mut r).await;
        assert_eq!(parks.len(), 3000);
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0usize;
        loop {
            let n = s.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            total += n;
        }
        assert!(total > 0);
        sim.shutdown().await;
    })
    .await
}
