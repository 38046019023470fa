//! Replaying a capture's commands into a fresh engine at their recorded times.

use parkway_esl::command::CommandKind;
use parkway_esl::event::Event;
use parkway_sim::engine::Engine;
use parkway_sim::engine::EngineConfig;
use parkway_sim::engine::SEC;
use std::collections::HashMap;
use std::path::PathBuf;

use super::capture::{commands, real_events, send_times};
use super::roles::ordinals;

/// The sounds directory (whisper.wav 1 s, fallback.wav 2 s), written once per test process.
pub(crate) fn sounds() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(write_sounds).clone()
}

pub(crate) fn write_sounds() -> PathBuf {
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
pub(crate) fn replay(name: &str, seed: u64) -> Vec<Event> {
    replay_full(name, seed).events
}

/// What a replay produced.
pub(crate) struct Replay {
    pub(crate) events: Vec<Event>,
    pub(crate) cdrs: Vec<serde_json::Value>,
    /// The `api` replies, in order.
    pub(crate) api: Vec<String>,
}

/// Replays a scenario; returns its events and the CDRs it produced.
pub(crate) fn replay_full(name: &str, seed: u64) -> Replay {
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
