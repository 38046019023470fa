//! How a channel lives: creation, state changes, ring / early media / answer (passed across a
//! loopback pair the way mod_loopback does), DTMF delivery, hangup and the reporting sequence.

use std::collections::VecDeque;

use super::channel::{
    AnswerState, AppCall, CallDirection, CallState, Cause, ChanId, Channel, ChannelState,
    OtherType, Profile, VarWriter, Vars, Wait,
};
use super::headers::{self, Extra};
use super::{Engine, SPARE_BLOCKS, SWEEP_EVERY, Work};

/// What a new channel is.
pub(crate) struct NewChannel {
    pub name: String,
    pub uuid: Option<String>,
    pub direction: CallDirection,
    pub profile: Profile,
}

/// A level of progress a channel reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Ring,
    Early,
    Answer,
}

impl Engine {
    /// Allocates a channel (no events yet).
    pub(crate) fn alloc_channel(&mut self, spec: NewChannel) -> ChanId {
        let id = self.next_chan;
        self.next_chan += 1;
        self.sessions += 1;
        let uuid = spec.uuid.unwrap_or_else(|| self.rng.uuid_v4());
        let mut profile = spec.profile;
        profile.created = self.clock.wall_us();
        let channel = Channel {
            id,
            uuid: uuid.clone(),
            name: spec.name,
            direction: spec.direction,
            running_state: ChannelState::New,
            state: ChannelState::New,
            call_state: CallState::Down,
            answer_state: AnswerState::Ringing,
            hit_dialplan: false,
            call_uuid: uuid.clone(),
            profile,
            vars: Vars::for_channel(),
            other: None,
            loopback_peer: None,
            bridged_to: None,
            hangup_cause: None,
            stack: Vec::new(),
            program: VecDeque::new(),
            queued: VecDeque::new(),
            app_log: Vec::new(),
            park_timer: None,
            park_expired: None,
            leg_of: None,
            job: None,
            app_response: None,
            pending_up: false,
            hidden: false,
            digits: String::new(),
            drawn_extension: None,
            blocks: self.spare_blocks.pop().unwrap_or_default(),
            destroyed: false,
            created_at: self.clock.now,
        };
        self.channels.insert(id, channel);
        self.by_uuid.insert(uuid, id);
        id
    }

    pub(crate) fn set_var(&mut self, id: ChanId, name: &str, value: &str) {
        if let Some(c) = self.chan_mut(id) {
            c.vars.set(name, value);
        }
    }

    /// Moves the channel's thread to `state` and raises CHANNEL_STATE.
    pub(crate) fn set_state(&mut self, id: ChanId, state: ChannelState) {
        let Some(c) = self.chan_mut(id) else { return };
        c.running_state = state;
        if c.hangup_cause.is_none() || state >= ChannelState::Hangup {
            c.state = state;
        }
        self.emit("CHANNEL_STATE", id, headers::STATE, Extra::default());
    }

    pub(crate) fn set_callstate(&mut self, id: ChanId, cs: CallState) {
        let Some(c) = self.chan_mut(id) else { return };
        let orig = c.call_state;
        if orig == cs {
            return;
        }
        c.call_state = cs;
        let extra = Extra::default()
            .pre("Original-Channel-Call-State", orig.name())
            .pre("Channel-Call-State-Number", cs.number().to_string());
        self.emit("CHANNEL_CALLSTATE", id, headers::CALLSTATE, extra);
    }

    /// Ring, early media or answer on a channel: a loopback `-b` leg passes it to its `-a` leg
    /// first (the order of the captures), then the origination or job waiting on the `-a` leg
    /// hears of it.
    pub(crate) fn mark(&mut self, id: ChanId, mark: Mark) {
        let Some(c) = self.chan(id) else { return };
        if c.is_hungup() {
            return;
        }
        if c.direction == CallDirection::Inbound
            && let Some(peer) = c.loopback_peer
        {
            // The `-a` leg's thread is taken to be up before its far end answers (the captures
            // mostly show that; `originate_uuid_bridge` shows the other order once: a race).
            self.leg_up(peer);
            self.mark_one(peer, mark);
        }
        self.mark_one(id, mark);
    }

    fn mark_one(&mut self, id: ChanId, mark: Mark) {
        let wall = self.clock.wall_us();
        let Some(c) = self.chan_mut(id) else { return };
        if c.is_hungup() {
            return;
        }
        match mark {
            Mark::Ring => {
                if c.profile.progress != 0 || c.answer_state != AnswerState::Ringing {
                    return;
                }
                c.profile.progress = wall;
                self.emit("CHANNEL_PROGRESS", id, headers::PROGRESS, Extra::default());
                self.set_callstate(id, CallState::Ringing);
            }
            Mark::Early => {
                if c.answer_state != AnswerState::Ringing {
                    return;
                }
                c.answer_state = AnswerState::Early;
                c.profile.progress_media = wall;
                c.vars.set("endpoint_disposition", "EARLY MEDIA");
                self.emit(
                    "CHANNEL_PROGRESS_MEDIA",
                    id,
                    headers::PROGRESS_MEDIA,
                    Extra::default(),
                );
                self.set_callstate(id, CallState::Early);
            }
            Mark::Answer => {
                if c.answer_state == AnswerState::Answered {
                    return;
                }
                c.answer_state = AnswerState::Answered;
                c.profile.answered = wall;
                self.emit("CHANNEL_ANSWER", id, headers::ANSWER, Extra::default());
                self.set_var(id, "endpoint_disposition", "ANSWER");
                self.set_callstate(id, CallState::Active);
            }
        }
        let (leg_of, job) = match self.chan(id) {
            Some(c) => (c.leg_of, c.job),
            None => return,
        };
        if let Some(orig) = leg_of.or(job) {
            self.leg_marked(orig, id, mark);
        }
    }

    /// A channel writes a DTMF digit: its loopback peer reads it (DTMF event there), and if the
    /// peer is bridged the digit is written on to the far side.
    pub(crate) fn write_dtmf(&mut self, id: ChanId, digit: char, depth: u8) {
        self.relay_dtmf(id, digit, depth, "UNKNOWN");
    }

    /// [`Engine::write_dtmf`] of a digit that came in with `source`: a digit relayed through a
    /// bridge or a loopback pair keeps the source it arrived with (`dtmf_variants`: a SIP
    /// buyer's digit reaches the loopback caller's phone leg as `RTP`).
    fn relay_dtmf(&mut self, id: ChanId, digit: char, depth: u8, source: &'static str) {
        if depth > 4 {
            return;
        }
        let Some(peer) = self.chan(id).and_then(|c| c.loopback_peer) else {
            return;
        };
        if self.chan(peer).is_none_or(|c| c.is_hungup()) {
            return;
        }
        // A digit from a SIP user agent arrives as RTP (RFC 2833); one written by a channel of
        // the switch itself has no source FreeSWITCH knows.
        let sofia = |e: &Engine, id| e.chan(id).is_some_and(|c| c.name.starts_with("sofia/"));
        let source =
            if self.chan(id).is_some_and(|c| c.hidden) || (sofia(self, id) && sofia(self, peer)) {
                "RTP"
            } else {
                source
            };
        let extra = Extra::default()
            .post("DTMF-Digit", digit.to_string())
            // An RFC 2833 digit lasts 2080 samples on the wire, one sent inside the switch 2000
            // (`sip_leg`, `dtmf_variants`).
            .post(
                "DTMF-Duration",
                if source == "RTP" { "2080" } else { "2000" },
            )
            .post("DTMF-Source", source);
        self.emit("DTMF", peer, headers::DTMF, extra);
        if let Some(c) = self.chan_mut(peer) {
            c.digits.push(digit);
        }
        if let Some(far) = self.chan(peer).and_then(|c| c.bridged_to) {
            self.relay_dtmf(far, digit, depth + 1, source);
        }
    }

    /// Hangs a channel up: CHANNEL_HANGUP now, the rest of its teardown as deferred work.
    pub(crate) fn hangup(&mut self, id: ChanId, cause: Cause) {
        let wall = self.clock.wall_us();
        let Some(c) = self.chan_mut(id) else { return };
        if c.is_hungup() || c.destroyed {
            return;
        }
        c.hangup_cause = Some(cause);
        c.answer_state = AnswerState::Hangup;
        c.state = ChannelState::Hangup;
        c.profile.hangup = wall;
        let park_timer = c.park_timer.take();
        let peer = c.loopback_peer;
        let bridged = c.bridged_to;
        let leg_of = c.leg_of;
        let job = c.job;
        if let Some(t) = park_timer {
            self.cancel_timer(t);
        }
        // A loopback `-a` leg hung up before its thread came up has not set `loopback_leg` yet.
        let early = self.chan_mut(id).filter(|c| c.pending_up).and_then(|c| {
            let v = c.vars.get("loopback_leg").map(str::to_owned);
            c.vars.set("loopback_leg", "");
            v
        });
        // A caller leaving its bridge shows it on its hangup (`dtmf_variants` call 3).
        if let Some(leg) = bridged
            && self.chan(id).is_some_and(|c| {
                c.stack
                    .iter()
                    .any(|r| matches!(r.wait, Wait::Bridge { .. }))
            })
        {
            let leg_uuid = self.uuid_of(leg);
            if let Some(c) = self.chan_mut(id) {
                c.vars.set("bridge_to", &leg_uuid);
                c.vars.set("last_bridge_role", "originator");
            }
        }
        self.emit("CHANNEL_HANGUP", id, headers::HANGUP, Extra::default());
        if let Some(v) = early {
            self.set_var(id, "loopback_leg", &v);
        }
        if let Some(orig) = leg_of.or(job) {
            self.leg_hungup(orig, id, cause);
        }
        if let Some(owner) = bridged
            && self.chan(owner).is_some_and(|o| {
                o.stack
                    .last()
                    .is_some_and(|r| matches!(r.wait, Wait::Bridge { .. }))
            })
        {
            self.bridge_ended(owner, id, cause);
        }
        self.work.push_back(Work::Finish(id));
        if let Some(peer) = peer {
            self.hangup(peer, cause);
        }
    }

    /// The hangup of a channel's thread: applications complete, then CS_HANGUP, CS_REPORTING,
    /// HANGUP_COMPLETE, the CDR, DESTROY and CS_DESTROY.
    pub(crate) fn finish(&mut self, id: ChanId) {
        if self.chan(id).is_none_or(|c| c.destroyed) {
            return;
        }
        self.leg_up(id);
        while let Some(running) = self.chan_mut(id).and_then(|c| c.stack.pop()) {
            self.unwind_app(id, running);
        }
        let Some(c) = self.chan_mut(id) else { return };
        c.program.clear();
        c.queued.clear();
        let bridged = c.bridged_to.take();
        if let Some(other) = bridged {
            let still = self.chan(other).is_some_and(|o| !o.is_hungup());
            if let Some(o) = self.chan_mut(other) {
                o.bridged_to = None;
            }
            if still {
                self.work
                    .push_back(Work::Hangup(other, Cause::NORMAL_CLEARING));
            }
        }
        self.set_state(id, ChannelState::Hangup);
        self.set_callstate(id, CallState::Hangup);
        self.set_state(id, ChannelState::Reporting);
        self.set_end_variables(id);
        let cause = self
            .chan(id)
            .and_then(|c| c.hangup_cause)
            .unwrap_or(Cause::NORMAL_CLEARING);
        self.emit(
            "CHANNEL_HANGUP_COMPLETE",
            id,
            headers::HANGUP_COMPLETE,
            Extra::default().pre("Hangup-Cause", cause.name),
        );
        let cdr = self.cdr_of(id);
        self.emit("CHANNEL_DESTROY", id, headers::DESTROY, Extra::default());
        self.set_state(id, ChannelState::Destroy);
        if let Some(c) = self.chan_mut(id) {
            c.destroyed = true;
            let blocks = std::mem::take(&mut c.blocks).recycle();
            if self.spare_blocks.len() < SPARE_BLOCKS {
                self.spare_blocks.push(blocks);
            }
        }
        if let Some(cdr) = cdr {
            self.file_cdr(id, cdr);
        }
        self.destroyed_since_sweep += 1;
        if self.destroyed_since_sweep >= SWEEP_EVERY {
            self.sweep_destroyed();
        }
    }

    /// The channel's thread takes its next piece of work: a queued command while parked or
    /// between applications, else the next dialplan application; a dialplan that runs out hangs
    /// the channel up.
    pub(crate) fn step(&mut self, id: ChanId) {
        loop {
            let Some(c) = self.chan_mut(id) else { return };
            if c.destroyed || c.is_hungup() {
                return;
            }
            // An async outbound `socket` parks the channel too (mod_event_socket runs
            // `switch_ivr_park`): queued `sendmsg` applications run on top of it.
            let top = c
                .stack
                .last()
                .map(|r| matches!(r.wait, Wait::Park | Wait::Socket));
            // Back in the park loop after a command: an expired park timer hangs the channel
            // up before anything else queued runs (`switch_ivr_park`).
            if top == Some(true)
                && let Some(cause) = c.park_expired.take()
            {
                self.hangup(id, cause);
                return;
            }
            match top {
                Some(true) => match c.queued.pop_front() {
                    Some(call) => {
                        self.execute(id, call);
                        continue;
                    }
                    None => return,
                },
                Some(false) => return,
                None => {}
            }
            if let Some(call) = c.queued.pop_front().or_else(|| c.program.pop_front()) {
                self.execute(id, call);
                continue;
            }
            if c.running_state == ChannelState::Execute {
                self.hangup(id, Cause::NORMAL_CLEARING);
            } else if let Some(orig) = c.leg_of {
                self.leg_idle(orig, id);
            }
            return;
        }
    }

    /// Queues an application for the channel (a `sendmsg` execute) and lets it run.
    pub(crate) fn enqueue(&mut self, id: ChanId, call: AppCall) {
        if let Some(c) = self.chan_mut(id) {
            c.queued.push_back(call);
        }
        self.work.push_back(Work::Step(id));
    }

    /// A loopback `-a` leg's thread comes up: CHANNEL_CREATE, CHANNEL_ORIGINATE, then (unless
    /// it was hung up meanwhile, as a busy buyer does at once) CS_ROUTING and CS_CONSUME_MEDIA.
    pub(crate) fn leg_up(&mut self, id: ChanId) {
        let Some(c) = self.chan_mut(id) else { return };
        if !std::mem::take(&mut c.pending_up) {
            return;
        }
        self.created(id);
        self.emit(
            "CHANNEL_ORIGINATE",
            id,
            headers::ORIGINATE,
            Extra::default(),
        );
        if self.chan(id).is_some_and(|c| !c.is_hungup()) {
            self.set_state(id, ChannelState::Routing);
            self.set_state(id, ChannelState::ConsumeMedia);
        }
    }

    /// Links a bridge's B leg to the channel that originated it.
    pub(crate) fn link_other(&mut self, id: ChanId, other: ChanId, kind: OtherType) {
        if let Some(c) = self.chan_mut(id) {
            c.other = Some((kind, other));
        }
    }

    /// The variables FreeSWITCH adds when a channel reports (`switch_channel_set_timestamps`),
    /// in its order.
    fn set_end_variables(&mut self, id: ChanId) {
        let end = self.clock.wall_us();
        let Some(c) = self.chan_mut(id) else { return };
        let cause = c.hangup_cause.unwrap_or(Cause::NORMAL_CLEARING);
        let (vars, p, digits, app_log, name) =
            (&mut c.vars, &c.profile, &c.digits, &c.app_log, &c.name);
        // Written straight into the variables, with `set`'s rules (see `append_batch`).
        vars.append_batch(|b| {
            b.put("hangup_cause", "", |v| v.push_str(cause.name));
            if let Some(q) = cause.q850() {
                b.put("hangup_cause_q850", "", |v| push_u64(v, u64::from(q)));
            }
            b.put("digits_dialed", "", |v| {
                v.push_str(if digits.is_empty() { "none" } else { digits });
            });
            let stamp = super::clock::push_date_local;
            b.put("start_stamp", "", |v| stamp(v, p.created));
            b.put("profile_start_stamp", "", |v| stamp(v, p.created));
            for (name, us) in [
                ("answer_stamp", p.answered),
                ("bridge_stamp", p.bridged),
                ("progress_stamp", p.progress),
                ("progress_media_stamp", p.progress_media),
            ] {
                if us != 0 {
                    b.put(name, "", |v| stamp(v, us));
                }
            }
            b.put("end_stamp", "", |v| stamp(v, end));
            let epoch = |b: &mut VarWriter<'_>, name: &str, us: u64| {
                b.put(name, "_epoch", |v| push_u64(v, us / 1_000_000));
                b.put(name, "_uepoch", |v| push_u64(v, us));
            };
            epoch(b, "start", p.created);
            epoch(b, "profile_start", p.created);
            epoch(b, "answer", p.answered);
            epoch(b, "bridge", p.bridged);
            epoch(b, "last_hold", 0);
            for name in ["hold_accum_seconds", "hold_accum_usec", "hold_accum_ms"] {
                b.put(name, "", |v| v.push('0'));
            }
            epoch(b, "resurrect", 0);
            epoch(b, "progress", p.progress);
            epoch(b, "progress_media", p.progress_media);
            epoch(b, "end", end);
            if let Some((name, arg, _)) = app_log.last() {
                b.put("last_app", "", |v| v.push_str(name));
                b.put("last_arg", "", |v| v.push_str(arg));
            }
            b.put("caller_id", "", |v| {
                v.push('"');
                v.push_str(&p.caller_id_name);
                v.push_str("\" <");
                v.push_str(&p.caller_id_number);
                v.push('>');
            });
            // Durations: (name, from, to) in microseconds; 0 when the `from` never happened.
            let since = |at: u64| {
                if at == 0 {
                    0
                } else {
                    at.saturating_sub(p.created)
                }
            };
            let bill = if p.answered == 0 { 0 } else { end - p.answered };
            let values = [
                ("duration", end - p.created),
                ("billsec", bill),
                ("progresssec", since(p.progress)),
                ("answersec", since(p.answered)),
                ("waitsec", since(p.answered)),
                ("progress_mediasec", since(p.progress_media)),
                ("flow_billsec", end - p.created),
            ];
            for (name, us) in values {
                b.put(name, "", |v| push_u64(v, us / 1_000_000));
            }
            for (name, us) in values {
                match name.trim_end_matches("sec") {
                    "duration" => b.put("mduration", "", |v| push_u64(v, us / 1_000)),
                    base => b.put(base, "msec", |v| push_u64(v, us / 1_000)),
                }
            }
            for (name, us) in values {
                match name.trim_end_matches("sec") {
                    "duration" => b.put("uduration", "", |v| push_u64(v, us)),
                    base => b.put(base, "usec", |v| push_u64(v, us)),
                }
            }
            if name.starts_with("loopback/") {
                b.put("is_loopback", "", |v| v.push('1'));
            }
        });
    }
}

/// `n` in decimal, appended.
fn push_u64(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    // Decimal digits are ASCII.
    out.push_str(std::str::from_utf8(super::block::decimal(n, &mut digits)).unwrap_or("0"));
}
