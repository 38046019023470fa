//! Dialplan applications (mod_dptools' behaviour as the captures show it): CHANNEL_EXECUTE,
//! the application's effect, and CHANNEL_EXECUTE_COMPLETE with `Application-Response` — at once
//! for instant applications, when a timer fires for `sleep` and `playback`, when the call leaves
//! for `park`, and when the bridge ends for `bridge`.

use std::path::Path;

use super::channel::{AppCall, Cause, ChanId, ChannelState, Running, Wait};
use super::clock::{MS, Micros, SEC};
use super::headers::{self, Extra};
use super::lifecycle::Mark;
use super::{Engine, Timer, Work};

/// Why a `playback` could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaError {
    NotFound,
}

/// How long a `playback` argument plays, and how PLAYBACK_* events name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Media {
    pub length: Micros,
    /// `Playback-File-Type` (only streams have one).
    pub kind: Option<&'static str>,
    pub path: String,
}

/// Works out a playback's length: `tone_stream://%(on,off,freq)[;…]` sums on+off of each
/// segment (`loops=N` repeats), `silence_stream://ms`, and a WAV file (relative to the sounds
/// directory) is read with hound.
pub(crate) fn media_length(arg: &str, sounds_dir: &Path) -> Result<Media, MediaError> {
    if let Some(spec) = arg.strip_prefix("tone_stream://") {
        let mut total = 0u64;
        let mut loops = 1u64;
        for seg in spec.split(';') {
            if let Some(n) = seg.trim().strip_prefix("loops=") {
                loops = n.parse().unwrap_or(1).max(1);
                continue;
            }
            if let Some(inner) = seg
                .trim()
                .strip_prefix("%(")
                .and_then(|s| s.split(')').next())
            {
                let nums: Vec<u64> = inner
                    .split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .collect();
                total += nums.iter().take(2).sum::<u64>();
            }
        }
        return Ok(Media {
            length: total * loops * MS,
            kind: Some("tone_stream"),
            path: arg.to_owned(),
        });
    }
    if let Some(ms) = arg.strip_prefix("silence_stream://") {
        let ms: u64 = ms
            .split(',')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        return Ok(Media {
            length: ms * MS,
            kind: Some("silence_stream"),
            path: arg.to_owned(),
        });
    }
    let path = if Path::new(arg).is_absolute() {
        Path::new(arg).to_path_buf()
    } else {
        sounds_dir.join(arg)
    };
    let reader = hound::WavReader::open(&path).map_err(|_| MediaError::NotFound)?;
    let spec = reader.spec();
    let frames = u64::from(reader.duration());
    let rate = u64::from(spec.sample_rate.max(1));
    Ok(Media {
        length: frames * SEC / rate,
        kind: None,
        path: path.to_string_lossy().into_owned(),
    })
}

/// Parses `secs[:CAUSE]` (`park_timeout`).
fn park_timeout(value: &str) -> Option<(Micros, Cause)> {
    let (secs, cause) = match value.split_once(':') {
        Some((s, c)) => (s, Cause::parse(c).unwrap_or(Cause::NORMAL_CLEARING)),
        None => (value, Cause::NORMAL_CLEARING),
    };
    let secs: u64 = secs.trim().parse().ok()?;
    (secs > 0).then_some((secs * SEC, cause))
}

fn known(app: &str) -> bool {
    matches!(
        app,
        "set"
            | "export"
            | "unset"
            | "answer"
            | "pre_answer"
            | "ring_ready"
            | "sleep"
            | "playback"
            | "send_dtmf"
            | "hangup"
            | "park"
            | "transfer"
            | "bridge"
            | "socket"
            | "echo"
            | "log"
            | "info"
    )
}

impl Engine {
    /// Runs one application on a channel.
    pub(crate) fn execute(&mut self, id: ChanId, call: AppCall) {
        if !known(&call.name) {
            // switch_core_session_execute_application: "Invalid Application", no EXECUTE event.
            self.hangup(id, Cause::DESTINATION_OUT_OF_ORDER);
            return;
        }
        let app_uuid = call.uuid.clone().unwrap_or_else(|| self.rng.uuid_v4());
        let wall = self.clock.wall_us();
        if let Some(c) = self.chan_mut(id) {
            if call.sendmsg {
                c.vars.set("current_loop", "1");
                c.vars.set("total_loops", "1");
            }
            c.vars.set("current_application", &call.name);
            c.vars.set("current_application_data", &call.arg);
            c.app_log.push((call.name.clone(), call.arg.clone(), wall));
            c.app_response = None;
            c.vars.set("current_application_response", "");
        }
        let mut extra = Extra::default().post("Application", call.name.clone());
        if !call.arg.is_empty() {
            extra = extra.post("Application-Data", call.arg.clone());
        }
        self.emit(
            "CHANNEL_EXECUTE",
            id,
            headers::EXECUTE,
            extra.post("Application-UUID", app_uuid.clone()),
        );
        // switch_core_session_exec sets it again once the event is out.
        self.set_var(id, "current_application", &call.name);
        let mut running = Running {
            call,
            app_uuid,
            wait: Wait::Park,
            playback: None,
        };
        let arg = running.call.arg.clone();
        match running.call.name.as_str() {
            "set" | "export" => {
                if let Some((n, v)) = arg.split_once('=') {
                    self.set_var(id, n.trim(), v);
                }
            }
            "unset" => self.set_var(id, arg.trim(), ""),
            "answer" => self.mark(id, Mark::Answer),
            "pre_answer" => self.mark(id, Mark::Early),
            "ring_ready" => self.mark(id, Mark::Ring),
            "sleep" => {
                let ms: u64 = arg.trim().parse().unwrap_or(0);
                if ms > 0 {
                    let token = self.token();
                    running.wait = Wait::Timer { token };
                    self.add_timer(self.clock.now + ms * MS, Timer::AppDone { chan: id, token });
                    self.push_running(id, running);
                    return;
                }
            }
            "playback" => match media_length(arg.trim(), &self.sounds_dir) {
                Ok(media) => {
                    self.playback_event("PLAYBACK_START", id, &media, false);
                    let token = self.token();
                    running.wait = Wait::Timer { token };
                    running.playback = Some(media.path.clone());
                    self.add_timer(
                        self.clock.now + media.length,
                        Timer::AppDone { chan: id, token },
                    );
                    self.push_running(id, running);
                    return;
                }
                Err(MediaError::NotFound) => {
                    self.complete(id, &running, Some("FILE NOT FOUND"));
                    return;
                }
            },
            "send_dtmf" => {
                for digit in arg.chars().take_while(|c| *c != '@') {
                    if digit.is_ascii_alphanumeric() || matches!(digit, '*' | '#') {
                        self.write_dtmf(id, digit, 0);
                    }
                }
                // As the captures show after `send_dtmf` on a loopback leg.
                self.set_var(id, "last_dtmf_duration", "500");
            }
            "hangup" => {
                let cause = Cause::parse(&arg).unwrap_or(Cause::NORMAL_CLEARING);
                self.hangup(id, cause);
            }
            "park" => {
                let timeout = self
                    .chan(id)
                    .and_then(|c| c.vars.get("park_timeout"))
                    .and_then(park_timeout);
                // switch_ivr_park takes the variable (it is gone from CHANNEL_PARK on).
                self.set_var(id, "park_timeout", "");
                self.emit("CHANNEL_PARK", id, headers::PARK, Extra::default());
                if let Some((after, cause)) = timeout {
                    let token = self.token();
                    // switch_ivr_park counts whole epoch seconds (`expires = now_sec +
                    // timeout`, checked as `now_sec >= expires`): the timer fires at the second
                    // boundary floor(park) + timeout, up to a second early.
                    let wall = self.clock.wall_us();
                    let deadline = (wall / SEC * SEC + after).saturating_sub(self.clock.epoch_us);
                    self.add_timer(
                        deadline.max(self.clock.now),
                        Timer::ParkTimeout {
                            chan: id,
                            token,
                            cause,
                        },
                    );
                    if let Some(c) = self.chan_mut(id) {
                        c.park_timer = Some(token);
                    }
                }
                self.push_running(id, running);
                return;
            }
            "transfer" => {
                self.complete(id, &running, None);
                self.transfer(id, &arg);
                return;
            }
            "bridge" => {
                self.start_bridge(id, running);
                return;
            }
            "socket" => {
                // `host:port [async] [full]`: the server opens the connection and says when it
                // ends (`Engine::outbound_closed`).
                let mut words = arg.split_whitespace();
                let address = words.next().unwrap_or_default().to_owned();
                let rest: Vec<&str> = words.collect();
                let uuid = self.chan(id).map(|c| c.uuid.clone()).unwrap_or_default();
                // mod_event_socket sets it before connecting (`outbound_plain`: the connect
                // reply and every later event carry `variable_socket_host`).
                let host = address
                    .rsplit_once(':')
                    .map_or(address.as_str(), |(h, _)| h);
                self.set_var(id, "socket_host", host);
                self.outbound.push(super::OutboundRequest {
                    uuid,
                    address,
                    async_mode: rest.contains(&"async"),
                    full: rest.contains(&"full"),
                });
                running.wait = Wait::Socket;
                self.push_running(id, running);
                return;
            }
            _ => {}
        }
        self.complete(id, &running, None);
    }

    fn push_running(&mut self, id: ChanId, running: Running) {
        if let Some(c) = self.chan_mut(id) {
            c.stack.push(running);
        }
    }

    fn playback_event(&mut self, name: &str, id: ChanId, media: &Media, stop: bool) {
        let mut extra = Extra::default();
        if let Some(kind) = media.kind {
            extra = extra.post("Playback-File-Type", kind);
        }
        extra = extra.post("Playback-File-Path", media.path.clone());
        if stop {
            extra = extra.post("Playback-Status", "done");
        }
        let origin = if stop {
            headers::PLAYBACK_STOP
        } else {
            headers::PLAYBACK_START
        };
        self.emit(name, id, origin, extra);
    }

    /// CHANNEL_EXECUTE_COMPLETE for an application (`_none_` unless it says otherwise).
    pub(crate) fn complete(&mut self, id: ChanId, running: &Running, response: Option<&str>) {
        let mut extra = Extra::default().post("Application", running.call.name.clone());
        if !running.call.arg.is_empty() {
            extra = extra.post("Application-Data", running.call.arg.clone());
        }
        let response = match (response, self.chan_mut(id)) {
            (Some(r), Some(c)) => {
                c.app_response = Some(r.to_owned());
                c.vars.set("current_application_response", r);
                r.to_owned()
            }
            (None, Some(c)) => c.app_response.clone().unwrap_or_else(|| "_none_".into()),
            (r, None) => r.unwrap_or("_none_").to_owned(),
        };
        let extra = extra
            .post("Application-Response", response)
            .post("Application-UUID", running.app_uuid.clone());
        self.emit(
            "CHANNEL_EXECUTE_COMPLETE",
            id,
            headers::EXECUTE_COMPLETE,
            extra,
        );
        if running.call.sendmsg
            && let Some(c) = self.chan_mut(id)
        {
            c.vars.set("current_loop", "");
            c.vars.set("total_loops", "");
        }
    }

    /// A `sleep` or `playback` timer fired: the application completes and the channel goes on.
    pub(crate) fn app_timer_done(&mut self, id: ChanId, token: u64) {
        let Some(c) = self.chan_mut(id) else { return };
        let Some(pos) = c.stack.iter().position(|r| r.wait == Wait::Timer { token }) else {
            return;
        };
        let running = c.stack.remove(pos);
        let response = self.finish_playback(id, &running, "FILE PLAYED");
        self.complete(id, &running, response);
        self.work.push_back(Work::Step(id));
    }

    fn finish_playback(
        &mut self,
        id: ChanId,
        running: &Running,
        ok: &'static str,
    ) -> Option<&'static str> {
        let path = running.playback.as_ref()?;
        let media = media_length(&running.call.arg, &self.sounds_dir).unwrap_or(Media {
            length: 0,
            kind: None,
            path: path.clone(),
        });
        let samples = (media.length * 8 / 1_000).to_string();
        if let Some(c) = self.chan_mut(id) {
            c.vars.set("playback_last_offset_pos", &samples);
            c.vars
                .set("playback_seconds", &(media.length / SEC).to_string());
            c.vars.set("playback_ms", &(media.length / MS).to_string());
            c.vars.set("playback_samples", &samples);
        }
        self.playback_event("PLAYBACK_STOP", id, &media, true);
        Some(ok)
    }

    /// An application interrupted by hangup completes (park says CHANNEL_UNPARK first).
    pub(crate) fn unwind_app(&mut self, id: ChanId, running: Running) {
        match &running.wait {
            Wait::Park => {
                self.emit("CHANNEL_UNPARK", id, headers::UNPARK, Extra::default());
            }
            Wait::Timer { token } => self.cancel_timer(*token),
            Wait::Socket => {}
            Wait::Bridge { orig } => {
                let orig = *orig;
                self.unwind_bridge(id, orig);
            }
        }
        let response = self.finish_playback(id, &running, "PLAYBACK ERROR");
        if running.call.name != super::uuid_bridge::UUID_BRIDGE {
            self.complete(id, &running, response);
        }
    }

    /// `transfer <dest> [XML] [context]`: leaves park, runs the new extension.
    fn transfer(&mut self, id: ChanId, arg: &str) {
        let mut parts = arg.split_whitespace();
        let dest = parts.next().unwrap_or_default().to_owned();
        let _dialplan = parts.next();
        let context = parts
            .next()
            .map(str::to_owned)
            .or_else(|| self.chan(id).map(|c| c.profile.context.clone()));
        let context = context.unwrap_or_else(|| "default".into());
        while let Some(r) = self.chan_mut(id).and_then(|c| c.stack.pop()) {
            self.unwind_app(id, r);
        }
        let wall = self.clock.wall_us();
        let ext = self
            .dialplan
            .resolve_drawn(&context, &dest, &mut self.draws);
        let Some(c) = self.chan_mut(id) else { return };
        c.park_expired = None;
        if let Some(t) = c.park_timer.take() {
            self.cancel_timer(t);
        }
        let Some(c) = self.chan_mut(id) else { return };
        c.profile.destination_number = dest;
        c.profile.context = context;
        c.profile.transfer = wall;
        c.program.clear();
        c.drawn_extension = None;
        match ext {
            Some((apps, drawn)) => {
                if drawn {
                    c.drawn_extension = Some(apps.clone());
                }
                c.program.extend(apps);
                self.set_state(id, ChannelState::Routing);
                self.set_state(id, ChannelState::Execute);
                self.work.push_back(Work::Step(id));
            }
            None => self.hangup(id, Cause::NO_ROUTE_DESTINATION),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lengths_and_missing_files() {
        let dir = Path::new("/nonexistent");
        let tone = media_length("tone_stream://%(2000,0,440)", dir).unwrap();
        assert_eq!(tone.length, 2 * SEC);
        assert_eq!(tone.kind, Some("tone_stream"));
        let two = media_length("tone_stream://%(100,50,440);%(200,0,480);loops=2", dir).unwrap();
        assert_eq!(two.length, 700 * MS);
        assert_eq!(
            media_length("silence_stream://1500", dir).unwrap().length,
            1500 * MS
        );
        assert_eq!(media_length("nope.wav", dir), Err(MediaError::NotFound));
        assert_eq!(
            park_timeout("60:NORMAL_CLEARING"),
            Some((60 * SEC, Cause::NORMAL_CLEARING))
        );
        assert_eq!(
            park_timeout("5:USER_BUSY"),
            Some((5 * SEC, Cause::USER_BUSY))
        );
        assert_eq!(park_timeout("0"), None);
    }

    #[test]
    fn wav_length_from_its_header() {
        let dir = std::env::temp_dir().join(format!("parkway-sim-media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.join("one.wav"), spec).unwrap();
        for _ in 0..8000 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let m = media_length("one.wav", &dir).unwrap();
        assert_eq!(m.length, SEC);
        assert_eq!(m.kind, None);
        assert!(m.path.ends_with("one.wav"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
