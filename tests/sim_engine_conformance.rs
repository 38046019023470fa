//! Conformance of the simulated switch's engine with real FreeSWITCH captures: each scenario's
//! commands (from `tests/data/<name>.sent`, at the times its `.md` gives) are replayed into the
//! engine, and for every channel (identified by its role: the channel name, which the captures
//! make unique) the sequence of (event, Answer-State, Channel-State, Hangup-Cause, DTMF-Digit,
//! Application, Application-Response, originate_disposition, Other-Leg role) must equal the one
//! decoded from the real `.recv`.
//!
//! Not modelled, so left out of both sides: CODEC, CALL_UPDATE, PRIVATE_COMMAND,
//! RECV_RTCP_MESSAGE, HEARTBEAT, RE_SCHEDULE, RECV_INFO, API (global). BACKGROUND_JOB results are
//! compared on their own (in order). Cross-channel interleaving is not compared: FreeSWITCH's
//! threads interleave events differently from run to run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use parkway::esl::codec::EslCodec;
use parkway::esl::command::{Command, CommandKind};
use parkway::esl::event::Event;
use parkway::esl::message::Message;
use parkway::sim::engine::{Engine, EngineConfig, SEC};
use tokio_util::codec::Decoder;

const NOT_MODELLED: &[&str] = &[
    "CODEC",
    "CALL_UPDATE",
    "PRIVATE_COMMAND",
    "RECV_RTCP_MESSAGE",
    "HEARTBEAT",
    "RE_SCHEDULE",
    "RECV_INFO",
    "API",
    "BACKGROUND_JOB",
];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn real_events(name: &str) -> Vec<Event> {
    let bytes = std::fs::read(data(&format!("{name}.recv"))).expect("capture");
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

/// One comparable step of a channel's life.
type Step = [String; 13];

fn step(e: &Event, roles: &HashMap<String, String>) -> Step {
    let h = |n: &str| e.header(n).map(|v| v.into_owned()).unwrap_or_default();
    let role = |n: &str| {
        e.header(n)
            .map(|u| roles.get(u.as_ref()).cloned().unwrap_or_else(|| "?".into()))
            .unwrap_or_default()
    };
    let name = h("Event-Name");
    let complete = name == "CHANNEL_EXECUTE_COMPLETE";
    let bridge_complete = complete && h("Application") == "bridge";
    let dtmf = name == "DTMF";
    [
        name,
        h("Answer-State"),
        h("Channel-State"),
        h("Hangup-Cause"),
        h("DTMF-Digit"),
        h("Application"),
        if complete {
            h("Application-Response")
        } else {
            String::new()
        },
        if bridge_complete {
            h("variable_originate_disposition")
        } else {
            String::new()
        },
        role("Other-Leg-Unique-ID"),
        h("Call-Direction"),
        if dtmf {
            h("DTMF-Source")
        } else {
            String::new()
        },
        h("Application-UUID"),
        [role("Bridge-A-Unique-ID"), role("Bridge-B-Unique-ID")]
            .join(" ")
            .trim()
            .to_owned(),
    ]
}

/// Each (Unique-ID, channel name) in the order it first appears, with the name's ordinal among
/// the Unique-IDs that carried it (`name#k`).
fn ordinals(events: &[Event]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut count: HashMap<String, usize> = HashMap::new();
    for e in events {
        if let (Some(u), Some(n)) = (e.unique_id(), e.channel_name()) {
            if !out.iter().any(|(fu, fname, _)| *fu == u && *fname == n) {
                let k = count.entry(n.clone().into_owned()).or_default();
                out.push((u.into_owned(), n.clone().into_owned(), format!("{n}#{k}")));
                *k += 1;
            }
        }
    }
    out
}

/// Each channel's role: its name, with `#<n>` added when several channels share that name (the
/// captures' SIP far ends, and the callers of successive calls), numbered in the order their
/// Unique-IDs first appear. That order is not a thread race in these captures: channels
/// sharing a name start tens of milliseconds apart or more. Keys: `"<uuid> <name>"` for the
/// role under that name, `"<uuid>"` for the role under its last name.
fn roles_of(events: &[Event]) -> HashMap<String, String> {
    let firsts = ordinals(events);
    let shared = |n: &str| firsts.iter().filter(|(_, name, _)| name == n).count() > 1;
    let mut out: HashMap<String, String> = HashMap::new();
    for (u, n, key) in &firsts {
        let role = if shared(n) { key.clone() } else { n.clone() };
        out.insert(format!("{u} {n}"), role.clone());
        out.insert(u.clone(), role);
    }
    out
}

/// Per channel role, its steps; plus BACKGROUND_JOB bodies (uuids replaced by roles).
fn by_role(events: &[Event]) -> (BTreeMap<String, Vec<Step>>, Vec<String>) {
    let names = roles_of(events);
    let mut roles: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    let mut jobs = Vec::new();
    for e in events {
        let name = e.name();
        if name == "BACKGROUND_JOB" {
            let mut body = e.body_text().unwrap_or_default().into_owned();
            for (u, n) in &names {
                if !u.contains(' ') {
                    body = body.replace(u, n);
                }
            }
            jobs.push(body);
        }
        if NOT_MODELLED.contains(&name.as_ref()) {
            continue;
        }
        let (Some(u), Some(chan)) = (e.unique_id(), e.channel_name()) else {
            continue;
        };
        roles
            .entry(names[&format!("{u} {chan}")].clone())
            .or_default()
            .push(step(e, &names));
    }
    // Application-UUIDs the switch generates differ from run to run: compare which events share
    // one (an EXECUTE and its EXECUTE_COMPLETE), numbered per channel.
    for steps in roles.values_mut() {
        let mut seen: Vec<String> = Vec::new();
        for s in steps.iter_mut().filter(|s| !s[11].is_empty()) {
            let k = seen.iter().position(|u| *u == s[11]).unwrap_or_else(|| {
                seen.push(s[11].clone());
                seen.len() - 1
            });
            s[11] = format!("app#{k}");
        }
    }
    (roles, jobs)
}

/// The times of the commands, from the `.md` steps (`- t=  0.007 sent …`).
fn send_times(name: &str) -> Vec<f64> {
    let md = std::fs::read_to_string(data(&format!("{name}.md"))).expect("md");
    md.lines()
        .filter(|l| l.starts_with("- t=") && l.contains(" sent "))
        .filter_map(|l| l[4..].trim_start().split(' ').next()?.parse().ok())
        .collect()
}

fn commands(name: &str) -> Vec<Command> {
    let sent = std::fs::read_to_string(data(&format!("{name}.sent"))).expect("sent");
    sent.split("\n\n")
        .filter(|c| !c.trim().is_empty())
        .map(|c| Command::parse(c.as_bytes(), None::<Bytes>).expect("command"))
        .collect()
}

/// The sounds directory (whisper.wav 1 s, fallback.wav 2 s), written once per test process.
fn sounds() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(write_sounds).clone()
}

fn write_sounds() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parkway-sim-sounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    for (file, secs) in [("whisper.wav", 1), ("fallback.wav", 2)] {
        let mut w = hound::WavWriter::create(dir.join(file), spec).expect("wav");
        for _ in 0..8000 * secs {
            w.write_sample(0i16).expect("sample");
        }
        w.finalize().expect("wav");
    }
    dir
}

/// Replays a scenario into a fresh engine; returns its events.
fn replay(name: &str, seed: u64) -> Vec<Event> {
    replay_full(name, seed).events
}

/// What a replay produced.
struct Replay {
    events: Vec<Event>,
    cdrs: Vec<serde_json::Value>,
    /// The `api` replies, in order.
    api: Vec<String>,
}

/// Replays a scenario; returns its events and the CDRs it produced.
fn replay_full(name: &str, seed: u64) -> Replay {
    let real = real_events(name);
    // Real Unique-IDs in the commands become the simulated ones of the same role.
    let real_keys: HashMap<String, String> = ordinals(&real)
        .into_iter()
        .map(|(u, _, key)| (u, key))
        .collect();
    // Align the simulated wall clock with the real one (FreeSWITCH's originate timeouts count
    // whole epoch seconds, so the fraction of a second matters): the first channel event of
    // the capture happened when the first originate was sent.
    let cmds = commands(name);
    let times = send_times(name);
    let first_originate = cmds
        .iter()
        .zip(&times)
        .find(|(c, _)| matches!(c.kind(), CommandKind::BgApi { .. }))
        .map_or(0.0, |(_, t)| *t);
    let first_event_us = real
        .iter()
        .filter(|e| e.channel_name().is_some())
        .filter_map(|e| e.header("Event-Date-Timestamp")?.parse::<u64>().ok())
        .min()
        .unwrap_or(EngineConfig::default().epoch_us);
    let mut engine = Engine::new(EngineConfig {
        seed,
        sounds_dir: sounds(),
        epoch_us: first_event_us - (first_originate * SEC as f64) as u64,
        ..EngineConfig::default()
    });
    let mut out = Vec::new();
    let mut api = Vec::new();
    assert_eq!(cmds.len(), times.len(), "{name}: commands vs timed steps");
    for (cmd, t) in cmds.iter().zip(times) {
        engine.advance_to((t * SEC as f64) as u64);
        out.extend(engine.take_events());
        let sim_uuids: HashMap<String, String> = ordinals(&out)
            .into_iter()
            .map(|(u, _, key)| (key, u))
            .collect();
        let map = |text: &str| {
            let mut text = text.to_owned();
            for (real_uuid, key) in &real_keys {
                if let Some(sim) = sim_uuids.get(key) {
                    text = text.replace(real_uuid, sim);
                }
            }
            text
        };
        match cmd.kind() {
            CommandKind::Api { cmd, args } => {
                api.push(engine.api(&cmd, &map(args.as_deref().unwrap_or(""))));
            }
            CommandKind::BgApi {
                cmd,
                args,
                job_uuid,
            } => {
                engine.bgapi(
                    &cmd,
                    &map(args.as_deref().unwrap_or("")),
                    job_uuid.as_deref(),
                );
            }
            CommandKind::SendMsg(m) => {
                let uuid = map(m.uuid.as_deref().unwrap_or(""));
                match m.call_command.as_deref() {
                    Some("hangup") => {
                        let _ = engine.sendmsg_hangup(&uuid, m.hangup_cause.as_deref());
                    }
                    _ => {
                        let _ = engine.sendmsg_execute(
                            &uuid,
                            m.app_name.as_deref().unwrap_or(""),
                            &map(m.app_arg.as_deref().unwrap_or("")),
                            m.event_uuid.as_deref(),
                        );
                    }
                }
            }
            _ => {}
        }
        out.extend(engine.take_events());
    }
    let end = engine.now() + 300 * SEC;
    engine.run_until_idle(end);
    out.extend(engine.take_events());
    Replay {
        events: out,
        cdrs: engine.take_cdrs(),
        api,
    }
}

fn render(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            s.iter()
                .filter(|f| !f.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which known thread races a comparison forgives. Each is one the named capture really shows,
/// forgiven on the `-a` halves of loopback pairs only, by bringing both sides to one order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Races {
    /// A loopback `-a` leg's own thread (CREATE, ORIGINATE, CS_ROUTING, CS_CONSUME_MEDIA) races
    /// with its `-b` leg answering or hanging up at once; these steps are dropped and the
    /// start-up states read alike (`originate_uuid_bridge`, `uuid_bridge_unanswered`).
    LegStart,
    /// The caller's phone leg finishes its originate (CS_EXECUTE, EXECUTE of its `&sleep`) on
    /// early media, before the answer crosses to it (`inbound_plain`, the simulated order), or
    /// after (`inbound_json`: answered at 0.049 s, BACKGROUND_JOB at 0.069 s).
    CallerAnswer,
    /// A loopback `-b` leg is killed by `uuid_kill` while bridged: the `-a` leg's application
    /// is broken and completes before mod_loopback (from the `-b` leg's thread, once its bridge
    /// has torn down) hangs it up (`dtmf_variants` call 3: 22 ms apart), whereas a `-b` leg
    /// hanging up on its own thread hangs the `-a` leg up first (the simulated order, calls 1
    /// and 2).
    PeerKilled,
}

/// `steps[i..i + names.len()]` are events of those names.
fn run_at(steps: &[Step], i: usize, names: &[&str]) -> bool {
    steps.len() >= i + names.len() && names.iter().enumerate().all(|(k, n)| steps[i + k][0] == *n)
}

fn forgive(roles: &mut BTreeMap<String, Vec<Step>>, races: &[Races]) {
    for (role, steps) in roles.iter_mut() {
        let loopback_a = role.starts_with("loopback/")
            && (role.ends_with("-a")
                || role
                    .rsplit_once('#')
                    .is_some_and(|(r, _)| r.ends_with("-a")));
        if !loopback_a {
            continue;
        }
        for race in races {
            match race {
                Races::LegStart => {
                    steps.retain(|s| {
                        let startup_state = s[0] == "CHANNEL_STATE"
                            && matches!(s[2].as_str(), "CS_ROUTING" | "CS_CONSUME_MEDIA");
                        !(startup_state
                            || matches!(s[0].as_str(), "CHANNEL_CREATE" | "CHANNEL_ORIGINATE"))
                    });
                    for s in steps.iter_mut() {
                        if matches!(s[2].as_str(), "CS_INIT" | "CS_ROUTING" | "CS_CONSUME_MEDIA") {
                            s[2] = "CS_(start-up)".into();
                        }
                    }
                }
                Races::CallerAnswer => {
                    let exec_first = [
                        "CHANNEL_STATE",
                        "CHANNEL_EXECUTE",
                        "CHANNEL_ANSWER",
                        "CHANNEL_CALLSTATE",
                    ];
                    let answer_first = [
                        "CHANNEL_ANSWER",
                        "CHANNEL_CALLSTATE",
                        "CHANNEL_STATE",
                        "CHANNEL_EXECUTE",
                    ];
                    for i in 0..steps.len() {
                        if run_at(steps, i, &exec_first) && steps[i][2] == "CS_EXECUTE" {
                            steps[i..i + 4].rotate_left(2);
                        }
                        if run_at(steps, i, &answer_first) && steps[i + 2][2] == "CS_EXECUTE" {
                            for s in &mut steps[i..i + 4] {
                                s[1] = "(early|answered)".into();
                                s[2] = "(CS_CONSUME_MEDIA|CS_EXECUTE)".into();
                            }
                        }
                    }
                }
                Races::PeerKilled => {
                    for i in 0..steps.len() {
                        if run_at(steps, i, &["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"]) {
                            steps.swap(i, i + 1);
                            steps[i + 1][1] = steps[i][1].clone();
                            steps[i + 1][3] = steps[i][3].clone();
                        }
                    }
                }
            }
        }
    }
}

fn conforms(name: &str) {
    conforms_with(name, &[]);
}

fn conforms_with(name: &str, races: &[Races]) {
    let (mut real, real_jobs) = by_role(&real_events(name));
    let (mut sim, sim_jobs) = by_role(&replay(name, 1));
    forgive(&mut real, races);
    forgive(&mut sim, races);
    let mut report = String::new();
    let roles: std::collections::BTreeSet<&String> = real.keys().chain(sim.keys()).collect();
    for role in roles {
        let (r, s) = (real.get(role), sim.get(role));
        if r != s {
            report.push_str(&format!(
                "\n=== {role}\n--- real\n{}\n--- sim\n{}\n",
                render(r.map_or(&[][..], Vec::as_slice)),
                render(s.map_or(&[][..], Vec::as_slice))
            ));
        }
    }
    if real_jobs != sim_jobs {
        report.push_str(&format!(
            "\n=== jobs\nreal {real_jobs:?}\nsim  {sim_jobs:?}\n"
        ));
    }
    assert!(report.is_empty(), "{name} differs:{report}");
}

#[test]
fn inbound_plain_conforms() {
    conforms("inbound_plain");
}

#[test]
fn group_simultaneous_conforms() {
    conforms("group_simultaneous");
}

#[test]
fn group_sequential_conforms() {
    conforms("group_sequential");
}

#[test]
fn all_fail_conforms() {
    conforms("all_fail");
}

#[test]
fn caller_abandon_conforms() {
    conforms("caller_abandon");
}

#[test]
fn inbound_json_conforms() {
    conforms_with("inbound_json", &[Races::CallerAnswer]);
}

#[test]
fn sip_leg_conforms() {
    conforms("sip_leg");
}

#[test]
fn dtmf_variants_conforms() {
    conforms_with("dtmf_variants", &[Races::PeerKilled]);
}

#[test]
fn same_seed_same_bytes() {
    let encode = |events: Vec<Event>| {
        let mut out = BytesMut::new();
        for e in events {
            e.encode_plain(&mut out);
        }
        out
    };
    let a = encode(replay("group_simultaneous", 42));
    let b = encode(replay("group_simultaneous", 42));
    assert!(!a.is_empty());
    assert_eq!(a, b);
    let c = encode(replay("group_simultaneous", 43));
    assert_ne!(a, c, "a different seed draws different ids");
}

/// Header names (without `variable_*`) of each channel's events, in order.
fn header_names(events: &[Event]) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let roles = roles_of(events);
    let mut out: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for e in events {
        if NOT_MODELLED.contains(&e.name().as_ref()) {
            continue;
        }
        let (Some(u), Some(chan)) = (e.unique_id(), e.channel_name()) else {
            continue;
        };
        let chan = &roles[&format!("{u} {chan}")];
        let list = e
            .headers()
            .iter()
            .map(|(n, _)| n.to_owned())
            .filter(|n| !n.starts_with("variable_"))
            .collect();
        out.entry(chan.clone())
            .or_default()
            .push((e.name().into_owned(), list));
    }
    out
}

fn same_header_blocks(name: &str) {
    same_header_blocks_of(name, |_| true);
}

/// [`same_header_blocks`] for the roles `pick` keeps.
fn same_header_blocks_of(name: &str, pick: impl Fn(&str) -> bool) {
    let real = header_names(&real_events(name));
    let sim = header_names(&replay(name, 1));
    let mut report = String::new();
    let mut compared = 0;
    for (role, events) in real.iter().filter(|(role, _)| pick(role)) {
        let Some(sim_events) = sim.get(role) else {
            continue;
        };
        for ((ev, r), (_, s)) in events.iter().zip(sim_events) {
            compared += 1;
            if r != s {
                report.push_str(&format!("\n{role} {ev}:\n  real {r:?}\n  sim  {s:?}\n"));
            }
        }
    }
    assert!(compared > 50, "{name}: only {compared} events compared");
    assert!(report.is_empty(), "{name} header blocks differ:{report}");
}

#[test]
fn header_blocks_match_inbound_plain() {
    same_header_blocks("inbound_plain");
}

#[test]
fn header_blocks_match_group_and_failure_scenarios() {
    for name in [
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
    ] {
        same_header_blocks(name);
    }
}

#[test]
fn header_blocks_match_sip_scenarios() {
    // Not `inbound_json`: its events are `inbound_plain`'s (compared above) and its race moves
    // them against each other. Not the SIP channels, nor the parked legs bridged to one
    // (calls 1 and 3): SIP caller profiles (Caller-Username, Caller-Network-Addr, codecs before
    // SDP) are not modelled. Not call 3's phone leg: the PeerKilled race moves its events.
    same_header_blocks_of("dtmf_variants", |role| {
        role.starts_with("loopback/") && !["-b#0", "-b#2", "-a#2"].iter().any(|r| role.ends_with(r))
    });
}

#[test]
#[ignore = "exploration: prints where variable order still differs"]
fn variable_order_explore() {
    let pick = |events: &[Event]| {
        let mut names = HashMap::new();
        for e in events {
            if let (Some(u), Some(n)) = (e.unique_id(), e.channel_name()) {
                names.insert(u.into_owned(), n.into_owned());
            }
        }
        let mut out: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
        for e in events {
            if NOT_MODELLED.contains(&e.name().as_ref()) {
                continue;
            }
            let Some(chan) = e.channel_name() else {
                continue;
            };
            let list = e
                .headers()
                .iter()
                .map(|(n, _)| n.to_owned())
                .filter(|n| n.starts_with("variable_"))
                .collect();
            out.entry(chan.into_owned())
                .or_default()
                .push((e.name().into_owned(), list));
        }
        out
    };
    for name in [
        "inbound_plain",
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
    ] {
        let real = pick(&real_events(name));
        let sim = pick(&replay(name, 1));
        for (role, events) in &real {
            for ((ev, r), (_, s)) in events.iter().zip(&sim[role]) {
                if r != s {
                    let at = r
                        .iter()
                        .zip(s)
                        .position(|(a, b)| a != b)
                        .unwrap_or(r.len().min(s.len()));
                    println!(
                        "{name} {role} {ev} @{at}: real {:?} sim {:?}",
                        &r[at.saturating_sub(1)..(at + 3).min(r.len())],
                        &s[at.saturating_sub(1)..(at + 3).min(s.len())]
                    );
                }
            }
        }
    }
}

/// Per channel, the set of `variable_*` names each event carries.
fn variable_sets(events: &[Event]) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let roles = roles_of(events);
    let mut out: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for e in events {
        if NOT_MODELLED.contains(&e.name().as_ref()) {
            continue;
        }
        let (Some(u), Some(chan)) = (e.unique_id(), e.channel_name()) else {
            continue;
        };
        let chan = roles[&format!("{u} {chan}")].clone();
        let mut list: Vec<String> = e
            .headers()
            .iter()
            .map(|(n, _)| n.to_owned())
            .filter(|n| n.starts_with("variable_"))
            .collect();
        list.sort();
        out.entry(chan)
            .or_default()
            .push((e.name().into_owned(), list));
    }
    out
}

fn variable_report(name: &str) -> String {
    let real = variable_sets(&real_events(name));
    let sim = variable_sets(&replay(name, 1));
    let mut report = String::new();
    for (role, events) in &real {
        let Some(sim_events) = sim.get(role) else {
            continue;
        };
        for ((ev, r), (_, s)) in events.iter().zip(sim_events) {
            if r != s {
                let missing: Vec<_> = r.iter().filter(|n| !s.contains(n)).collect();
                let extra: Vec<_> = s.iter().filter(|n| !r.contains(n)).collect();
                report.push_str(&format!(
                    "\n{role} {ev}: missing {missing:?} extra {extra:?}"
                ));
            }
        }
    }
    report
}

#[test]
fn variable_sets_match_inbound_plain() {
    let report = variable_report("inbound_plain");
    assert!(report.is_empty(), "{report}");
}

#[test]
fn variable_sets_match_group_and_failure_scenarios() {
    for name in [
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
    ] {
        let report = variable_report(name);
        assert!(report.is_empty(), "{name}:{report}");
    }
}

#[test]
fn originate_uuid_bridge_conforms() {
    conforms_with("originate_uuid_bridge", &[Races::LegStart]);
}

#[test]
fn uuid_bridge_unanswered_conforms() {
    conforms_with("uuid_bridge_unanswered", &[Races::LegStart]);
}

/// The shape of a JSON document: object keys (recursively), the first element of arrays.
fn shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        _ => Value::Null,
    }
}

#[test]
fn json_cdrs_have_mod_json_cdr_shape() {
    let cdrs = replay_full("inbound_plain", 1).cdrs;
    assert_eq!(cdrs.len(), 4, "one CDR per channel");
    for (real_file, chan, prefix) in [
        (
            "a_44405c6c-4a87-499c-8d43-55c530c0583b.cdr.json",
            "loopback/18005550199-b",
            "a_",
        ),
        (
            "2073a403-7f1b-4f0e-a65b-c27f13630d40.cdr.json",
            "loopback/answer_dtmf-a",
            "",
        ),
    ] {
        let real: serde_json::Value = serde_json::from_slice(
            &std::fs::read(data(&format!("json_cdr/{real_file}"))).expect("cdr"),
        )
        .expect("json");
        let sim = cdrs
            .iter()
            .find(|d| d["cdr"]["callflow"][0]["caller_profile"]["chan_name"] == chan)
            .unwrap_or_else(|| panic!("no CDR for {chan}"));
        let file = sim["file"].as_str().unwrap_or_default();
        assert!(
            file.starts_with(prefix) && file.ends_with(".cdr.json"),
            "{file}"
        );
        let sim = &sim["cdr"];
        let mut real_shape = shape(&real);
        let mut sim_shape = shape(sim);
        let real_vars = real_shape["variables"].take();
        let sim_vars = sim_shape["variables"].take();
        assert_eq!(sim_shape, real_shape, "{chan}: document shape");
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            k.sort();
            k
        };
        assert_eq!(keys(&sim_vars), keys(&real_vars), "{chan}: variable names");
        for field in [
            "hangup_cause",
            "originate_disposition",
            "bridge_hangup_cause",
            "sip_h_X-Campaign",
            "billsec",
        ] {
            assert_eq!(
                sim["variables"][field], real["variables"][field],
                "{chan}: {field}"
            );
        }
    }
}

/// Per channel, (event name, milliseconds since the scenario's first channel event).
fn timings(events: &[Event]) -> BTreeMap<String, Vec<(String, i64)>> {
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
        // per SIP hop; the simulated switch relays it at once (see src/sim/README.md).
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

/// The api/response bodies of a capture.
fn api_bodies(name: &str) -> Vec<String> {
    let bytes = std::fs::read(data(&format!("{name}.recv"))).expect("capture");
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        if let Message::ApiResponse(body) = Message::from_frame(frame).expect("message") {
            out.push(String::from_utf8_lossy(&body).into_owned());
        }
    }
    out
}

fn columns(body: &str) -> Vec<String> {
    // serde_json's map is sorted, so read the first row's keys in order by hand.
    let row = body.split("\"rows\":[{").nth(1).unwrap_or_default();
    let row = row.split('}').next().unwrap_or_default();
    row.split(",\"")
        .filter_map(|kv| kv.trim_start_matches('"').split("\":").next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn show_channels_and_calls_have_freeswitch_columns() {
    let real = api_bodies("show_channels");
    let real_channels = real
        .iter()
        .find(|b| b.contains("\"initial_context\""))
        .expect("channels");
    let real_calls = real
        .iter()
        .find(|b| b.contains("\"b_uuid\""))
        .expect("calls");
    let mut e = Engine::new(EngineConfig::default());
    assert_eq!(e.api("show", "channels as json"), "{\"row_count\": 0}\n");
    assert_eq!(e.api("show", "channels as json"), real[0]);
    let call = parkway::sim::engine::api::InboundCall {
        caller_number: "+13055550120".into(),
        caller_name: "Maria Lopez".into(),
        destination: "18005550199".into(),
        context: "public".into(),
        sip_headers: vec![],
        variables: vec![],
        sip: None,
    };
    e.inbound_call(&call);
    let c = e.inbound_call(&call);
    e.sendmsg_execute(&c.parked, "bridge", "loopback/slow_hangup/buyers", None)
        .expect("bridge");
    let channels = e.api("show", "channels as json");
    let calls = e.api("show", "calls as json");
    assert_eq!(columns(&channels), columns(real_channels));
    assert_eq!(columns(&calls), columns(real_calls));
    assert!(channels.starts_with("{\"row_count\":6,") && !channels.ends_with('\n'));
    assert!(calls.starts_with("{\"row_count\":5,"), "{calls}");
    assert_eq!(e.api("show", "channels count"), "\n6 total.\n");
}

#[test]
fn outbound_socket_request_and_connect_data() {
    // The real connect reply: channel data, then the reply's own headers.
    let bytes = std::fs::read(data("outbound_plain.recv")).expect("capture");
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut real_names = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        if let Message::CommandReply(r) = Message::from_frame(frame).expect("message") {
            real_names = r
                .headers
                .iter()
                .map(|(n, _)| n.to_owned())
                .filter(|n| !n.starts_with("variable_"))
                .take_while(|n| n != "Content-Type")
                .collect();
            break;
        }
    }
    let mut e = Engine::new(EngineConfig::default());
    let c = e.inbound_call(&parkway::sim::engine::api::InboundCall {
        caller_number: "+13055550123".into(),
        caller_name: "Maria Lopez".into(),
        destination: "socket_8084".into(),
        context: "public".into(),
        sip_headers: vec![],
        variables: vec![],
        sip: None,
    });
    let requests = e.take_outbound_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uuid, c.parked);
    assert_eq!(requests[0].address, "127.0.0.1:8084");
    assert!(requests[0].async_mode && requests[0].full);
    let data = e.channel_data(&c.parked).expect("channel data");
    let names: Vec<String> = data
        .headers()
        .iter()
        .map(|(n, _)| n.to_owned())
        .filter(|n| !n.starts_with("variable_"))
        .collect();
    assert_eq!(names, real_names);
    assert_eq!(
        data.header("Channel-Channel-Name").as_deref(),
        Some("loopback/socket_8084-b")
    );
    e.sendmsg_execute(&c.parked, "answer", "", None)
        .expect("answer");
    e.outbound_closed(&c.parked).expect("closed");
    let events = e.take_events();
    assert!(
        events
            .iter()
            .any(|ev| ev.application().as_deref() == Some("socket")
                && ev.name() == "CHANNEL_EXECUTE_COMPLETE")
    );
    assert_eq!(
        e.live_channels().count(),
        0,
        "nothing left in the dialplan: hung up"
    );
}

/// `api` replies with Unique-IDs replaced by roles and the uptime of `status` left out.
fn comparable_replies(replies: &[String], events: &[Event]) -> Vec<String> {
    let roles = roles_of(events);
    replies
        .iter()
        .map(|r| {
            let mut r = r.clone();
            for (u, role) in roles.iter().filter(|(u, _)| !u.contains(' ')) {
                r = r.replace(u, role);
            }
            match r.strip_prefix("UP ") {
                Some(_) => "UP (uptime)".into(),
                None => r,
            }
        })
        .collect()
}

/// Every `api` command of a scenario gets the reply FreeSWITCH gave (uuids as roles).
#[test]
fn api_replies_match() {
    let mut compared = 0;
    for name in [
        "inbound_plain",
        "inbound_json",
        "sip_leg",
        "dtmf_variants",
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
        "originate_uuid_bridge",
        "uuid_bridge_unanswered",
    ] {
        let sim = replay_full(name, 1);
        let real = comparable_replies(&api_bodies(name), &real_events(name));
        let got = comparable_replies(&sim.api, &sim.events);
        assert_eq!(got, real, "{name}");
        compared += real.len();
    }
    assert!(compared > 10, "only {compared} replies compared");
}

/// A caller that leaves mid-bridge ends the bridge: its dial was won, so the bridge's
/// `originate_disposition` stays SUCCESS (`dtmf_variants` call 3: `uuid_kill` of the bridged
/// parked leg), and CHANNEL_UNBRIDGE comes before the bridge's EXECUTE_COMPLETE. Only a caller
/// leaving while the buyer still rings cancels it (ORIGINATOR_CANCEL, `caller_abandon`).
#[test]
fn a_caller_leaving_mid_bridge_keeps_success() {
    use parkway::sim::engine::Cause;
    use parkway::sim::engine::api::InboundCall;
    // (who leaves, how, after how long, the disposition)
    for (phone, kill, after, disposition) in [
        (false, true, 3, "SUCCESS"),
        (true, false, 3, "SUCCESS"),
        (true, false, 0, "ORIGINATOR_CANCEL"),
    ] {
        let mut e = Engine::new(EngineConfig::default());
        let c = e.inbound_call(&InboundCall {
            caller_number: "+13055550123".into(),
            caller_name: "Maria Lopez".into(),
            destination: "18005550199".into(),
            context: "public".into(),
            sip_headers: vec![],
            variables: vec![],
            sip: None,
        });
        e.sendmsg_execute(&c.parked, "set", "hangup_after_bridge=true", None)
            .expect("parked");
        // slow_hangup answers at once; no_answer rings until cancelled.
        let buyer = if after > 0 {
            "slow_hangup"
        } else {
            "no_answer"
        };
        e.sendmsg_execute(
            &c.parked,
            "bridge",
            &format!("loopback/{buyer}/buyers"),
            Some("br"),
        )
        .expect("parked");
        e.advance_to(e.now() + 1 + after * SEC);
        let leaving = if phone { &c.phone } else { &c.parked };
        if kill {
            assert_eq!(e.api("uuid_kill", leaving), "+OK\n");
        } else {
            e.schedule_hangup(leaving, e.now() + 1, Cause::NORMAL_CLEARING)
                .expect("live");
        }
        e.run_until_idle(e.now() + 60 * SEC);
        let events: Vec<Event> = e
            .take_events()
            .into_iter()
            .filter(|ev| ev.unique_id().as_deref() == Some(c.parked.as_str()))
            .collect();
        let names: Vec<String> = events.iter().map(|ev| ev.name().into_owned()).collect();
        let done = events
            .iter()
            .position(|ev| {
                ev.application_uuid().as_deref() == Some("br")
                    && ev.name() == "CHANNEL_EXECUTE_COMPLETE"
            })
            .expect("bridge completes");
        let case = format!("phone {phone}, kill {kill}, after {after} s");
        assert_eq!(
            events[done].variable("originate_disposition").as_deref(),
            Some(disposition),
            "{case}"
        );
        let hangup = events
            .iter()
            .find(|ev| ev.name() == "CHANNEL_HANGUP")
            .expect("hung up");
        assert_eq!(
            hangup.header("Hangup-Cause").as_deref(),
            Some("NORMAL_CLEARING"),
            "{case}"
        );
        if disposition == "SUCCESS" {
            assert_eq!(names[done - 1], "CHANNEL_UNBRIDGE", "{case}: {names:?}");
        }
    }
}
