//! Dialling: the `bridge` application and the `originate` api run the same origination over a
//! parsed dial string (`switch_ivr_originate.c`'s behaviour as the captures show it): groups of
//! legs dialled at once (first answer wins, LOSE_RACE for the rest), groups tried in turn,
//! branches after `:_:`, per-leg `leg_timeout` (ALLOTTED_TIMEOUT), `originate_timeout`
//! (NO_ANSWER), the `group_confirm_key=exec` whisper played to the answering leg before it wins,
//! and the result variables on the caller.

use parkway_esl::dialstring::{DialString, Endpoint, Leg};

use super::channel::{AppCall, Cause, ChanId, ChannelState, Running, Vars, Wait, is_true};
use super::clock::SEC;
use super::headers::{self, Extra};
use super::lifecycle::Mark;
use super::loopback::PairKind;
use super::origination::{Attempt, Job, LegState, Origination, array, dialstatus};
use super::{Engine, Timer, Work};

impl Engine {
    /// The `bridge` application: dial, and bridge the first leg that wins.
    pub(crate) fn start_bridge(&mut self, id: ChanId, mut running: Running) {
        let dial = match DialString::parse_app_arg(&running.call.arg) {
            Ok(d) if d.legs().next().is_some() => d,
            _ => {
                self.set_var(id, "originate_disposition", "INVALID_NUMBER_FORMAT");
                self.complete(id, &running, None);
                self.work.push_back(Work::Step(id));
                return;
            }
        };
        let orig = self.token();
        running.wait = Wait::Bridge { orig };
        if let Some(c) = self.chan_mut(id) {
            c.stack.push(running);
            // switch_ivr_originate's starting values on the caller.
            c.vars.set("originate_disposition", "failure");
            c.vars.set("DIALSTATUS", "INVALIDARGS");
        }
        // Dialling a loopback leg gives the unanswered caller early media at once, whatever
        // `ignore_early_media` says; a SIP leg does not (`dtmf_variants`: a loopback buyer without
        // ignore_early_media → CHANNEL_PROGRESS_MEDIA, SIP buyers → none; `sip_leg`: a SIP buyer
        // with it → none).
        let loopback_first = dial.branches[0].groups.first().is_some_and(|g| {
            g.legs
                .iter()
                .any(|l| matches!(l.endpoint, Endpoint::Loopback { .. }))
        });
        if loopback_first && self.chan(id).is_some_and(|c| !c.is_answered()) {
            self.mark(id, Mark::Early);
        }
        self.origs
            .insert(orig, Origination::new(Some(id), None, dial));
        self.start_group(orig);
    }

    /// The `originate` api: dial, and run `job.then` on the leg that answers.
    pub(crate) fn start_originate(&mut self, dial: DialString, job: Job) {
        let orig = self.token();
        self.origs
            .insert(orig, Origination::new(None, Some(job), dial));
        self.start_group(orig);
    }

    /// An inbound call: a loopback pair whose `-a` leg (the caller's phone) waits like an
    /// `originate … &sleep(3600000)` whose job nobody reads (no BACKGROUND_JOB).
    pub(crate) fn originate_pair(
        &mut self,
        kind: &PairKind,
        ext: &str,
        ctx: &str,
        vars: Vars,
        job: Job,
    ) -> (ChanId, ChanId) {
        let orig = self.token();
        let dial = DialString::new(Vec::new(), Vec::new());
        self.origs
            .insert(orig, Origination::new(None, Some(job), dial));
        let (a, b) = self.pair(kind, ext, ctx, &vars, None, None);
        if let Some(c) = self.chan_mut(a) {
            c.leg_of = Some(orig);
        }
        let uuid = self.uuid_of(a);
        if let Some(o) = self.origs.get_mut(&orig) {
            o.legs.push(Attempt {
                chan: a,
                confirm: None,
                uuid,
                context: ctx.to_owned(),
                state: LegState::Ringing,
                timer: None,
            });
        }
        (a, b)
    }

    fn start_group(&mut self, orig: u64) {
        let Some(o) = self.origs.get(&orig) else {
            return;
        };
        let (Some(branch), owner) = (o.dial.branches.get(o.branch), o.owner) else {
            self.originate_failed(orig);
            return;
        };
        let Some(group) = branch.groups.get(o.group) else {
            return;
        };
        let mut common = Vars::default();
        for (n, v) in o
            .dial
            .enterprise_vars
            .iter()
            .chain(branch.global_vars.iter())
        {
            common.set(n, v);
        }
        let legs: Vec<Leg> = group.legs.clone();
        let multi_leg_group = legs.len() > 1;
        // Every leg after the first of a dial inherits `originate_early_media` from it.
        let mut first_leg = o.group == 0 && o.branch == 0;
        let group_index = o.group;
        let mut attempts = Vec::new();
        for leg in legs {
            let mut vars = common.clone();
            if !std::mem::take(&mut first_leg) {
                vars.set("originate_early_media", "false");
            }
            let mut leg_first = Vars::default();
            for (n, v) in &leg.vars {
                vars.set(n, v);
                leg_first.set(n, v);
            }
            for (n, v) in common.iter() {
                if leg_first.get(n).is_none() {
                    leg_first.set(n, v);
                }
            }
            // On loopback legs only `{…}` confirm variables count (mod_loopback drops the
            // per-leg ones); elsewhere the leg's own win.
            let confirm_vars = match &leg.endpoint {
                Endpoint::Loopback { .. } => &common,
                _ => &vars,
            };
            let confirm = (confirm_vars.get("group_confirm_key") == Some("exec"))
                .then(|| confirm_vars.get("group_confirm_file").map(str::to_owned))
                .flatten()
                .map(|file| (file, confirm_vars.is_true("group_confirm_cancel_timeout")));
            let (chan, context) = match &leg.endpoint {
                Endpoint::Loopback { ext, context } => {
                    let ctx = context.clone().unwrap_or_else(|| "default".into());
                    let (a, _) = self.loopback_pair(ext, &ctx, &vars, Some(&leg_first), owner);
                    (a, ctx)
                }
                Endpoint::Sofia { profile, dest } if sip_host(dest) == OWN_SIP_ADDRESS => {
                    let kind = PairKind::SipSelf {
                        profile: profile.clone(),
                        user: sip_user(dest).to_owned(),
                        host: OWN_SIP_ADDRESS
                            .split(':')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    let (a, _) = self.pair(&kind, dest, "public", &vars, Some(&leg_first), owner);
                    (a, "public".to_owned())
                }
                Endpoint::Sofia { profile, dest } => {
                    let (ctx, user) = self.sip_far_end(&[sip_user(dest)]);
                    let kind = PairKind::SipOut {
                        profile: profile.clone(),
                        user,
                        gateway: None,
                    };
                    let (a, _) = self.pair(&kind, dest, &ctx, &vars, Some(&leg_first), owner);
                    (a, ctx)
                }
                Endpoint::SofiaGateway { gateway, number } => {
                    // The number as written, then without a leading `+`.
                    let mut users = vec![number.as_str()];
                    if let Some(bare) = number.strip_prefix('+') {
                        users.push(bare);
                    }
                    let (ctx, user) = self.sip_far_end(&users);
                    // See `PairKind::SipOut` for the channel's name.
                    let kind = PairKind::SipOut {
                        profile: gateway.clone(),
                        user,
                        gateway: Some(gateway.clone()),
                    };
                    let dest = format!("{number}@{gateway}");
                    let (a, _) = self.pair(&kind, &dest, &ctx, &vars, Some(&leg_first), owner);
                    (a, ctx)
                }
                _ => {
                    // `user/…` and unknown technologies are not simulated; they fail as
                    // FreeSWITCH does for an endpoint module it does not have.
                    self.origs.entry(orig).and_modify(|o| {
                        o.causes.push("CHAN_NOT_IMPLEMENTED".into());
                        o.last_cause = Cause::parse("CHAN_NOT_IMPLEMENTED").unwrap_or(Cause::NONE);
                    });
                    continue;
                }
            };
            if let Some(c) = self.chan_mut(chan) {
                c.leg_of = Some(orig);
                if multi_leg_group {
                    c.vars.set("group_dial_status", "");
                }
            }
            if let Some(owner) = owner {
                let uuid = self.uuid_of(chan);
                self.set_var(owner, "originate_signal_bond", &uuid);
            }
            let timer = vars
                .get("leg_timeout")
                .and_then(|t| t.parse::<u64>().ok())
                .filter(|t| *t > 0)
                .map(|t| {
                    self.add_timer(
                        self.whole_seconds_deadline(t),
                        Timer::LegTimeout { orig, chan },
                    )
                });
            let uuid = self.chan(chan).map(|c| c.uuid.clone()).unwrap_or_default();
            attempts.push(Attempt {
                chan,
                confirm,
                uuid,
                context,
                state: LegState::Ringing,
                timer,
            });
        }
        let secs = common
            .get("originate_timeout")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(60);
        let timeout = self.add_timer(
            self.whole_seconds_deadline(secs),
            Timer::OriginateTimeout {
                orig,
                group: group_index,
            },
        );
        let empty = attempts.is_empty();
        if let Some(o) = self.origs.get_mut(&orig) {
            o.legs = attempts;
            o.timeout = Some(timeout);
            let mut preview = o.clone();
            preview.record_all();
            if let Some(owner) = owner
                && !preview.originated.is_empty()
            {
                self.set_var(owner, "originated_legs", &array(&preview.originated));
            }
        }
        if empty {
            self.group_failed(orig);
        }
    }

    /// Which extension a SIP user agent runs: the first of `users` (candidate user parts, in
    /// order) with its own extension in context `sip`, else in `buyers`; with none, the first
    /// candidate in `buyers` (where a catch-all may take it, or the leg fails as an unknown
    /// user does: see [`Engine::route`]).
    fn sip_far_end(&self, users: &[&str]) -> (String, String) {
        for user in users {
            for ctx in ["sip", "buyers"] {
                if self.dialplan.has_exact(ctx, user) {
                    return (ctx.to_owned(), (*user).to_owned());
                }
            }
        }
        let first = users.first().copied().unwrap_or_default();
        ("buyers".to_owned(), first.to_owned())
    }

    /// When a timeout of `secs` started now expires in `switch_ivr_originate`: it compares whole
    /// epoch seconds (`now - start > secs`), so it fires at the second boundary after
    /// `floor(start) + secs` (the captures: leg_timeout=3 from …418.64 s fires at …422.02 s).
    fn whole_seconds_deadline(&self, secs: u64) -> super::clock::Micros {
        let wall = self.clock.wall_us();
        let boundary = (wall / SEC + secs + 1) * SEC;
        boundary.saturating_sub(self.clock.epoch_us)
    }

    fn attempt(&self, orig: u64, chan: ChanId) -> Option<usize> {
        self.origs
            .get(&orig)?
            .legs
            .iter()
            .position(|l| l.chan == chan)
    }

    /// A leg (or a job's channel) rang, got early media or answered.
    pub(crate) fn leg_marked(&mut self, orig: u64, chan: ChanId, mark: Mark) {
        let Some(o) = self.origs.get(&orig) else {
            return;
        };
        if o.done {
            return;
        }
        let ignore_early = self
            .chan(chan)
            .is_some_and(|c| c.vars.is_true("ignore_early_media"));
        match (o.owner, mark) {
            (None, Mark::Answer) => self.win(orig, chan),
            (None, Mark::Early) if !ignore_early => self.win(orig, chan),
            (Some(owner), Mark::Early) if !ignore_early => self.mark(owner, Mark::Early),
            (Some(owner), Mark::Ring) => {
                // The caller's progress time moves (no event: it already has early media).
                let wall = self.clock.wall_us();
                if let Some(c) = self.chan_mut(owner)
                    && c.profile.progress == 0
                {
                    c.profile.progress = wall;
                }
            }
            (Some(_), Mark::Answer) => {
                let confirm = self
                    .attempt(orig, chan)
                    .and_then(|i| self.origs.get(&orig)?.legs[i].confirm.clone());
                match confirm {
                    Some((file, cancel)) => {
                        let (app, arg) = file.split_once(' ').unwrap_or((file.as_str(), ""));
                        if let Some(i) = self.attempt(orig, chan)
                            && let Some(o) = self.origs.get_mut(&orig)
                        {
                            o.legs[i].state = LegState::Confirming;
                            let timeout = if cancel { o.timeout.take() } else { None };
                            if let Some(t) = timeout {
                                self.cancel_timer(t);
                            }
                        }
                        self.enqueue(chan, AppCall::new(app, arg));
                    }
                    None => self.win(orig, chan),
                }
            }
            _ => {}
        }
    }

    /// A leg's thread has nothing left to run: a confirming leg has finished its whisper.
    pub(crate) fn leg_idle(&mut self, orig: u64, chan: ChanId) {
        let confirming = self
            .attempt(orig, chan)
            .and_then(|i| {
                self.origs
                    .get(&orig)
                    .map(|o| o.legs[i].state == LegState::Confirming)
            })
            .unwrap_or(false);
        if confirming {
            self.win(orig, chan);
        }
    }

    fn win(&mut self, orig: u64, chan: ChanId) {
        let Some(o) = self.origs.get_mut(&orig) else {
            return;
        };
        o.done = true;
        let mut timers: Vec<u64> = o.timeout.take().into_iter().collect();
        let mut losers = Vec::new();
        for leg in &mut o.legs {
            timers.extend(leg.timer.take());
            if leg.chan == chan {
                leg.state = LegState::Won;
            } else if matches!(leg.state, LegState::Ringing | LegState::Confirming) {
                leg.state = LegState::Failed(Cause::LOSE_RACE);
                losers.push(leg.chan);
            }
        }
        let mut preview = o.clone();
        preview.record_group();
        for t in timers {
            self.cancel_timer(t);
        }
        if let Some(owner) = preview.owner {
            let leg_uuid = self.uuid_of(chan);
            if let Some(c) = self.chan_mut(owner) {
                c.vars.set("originated_legs", &array(&preview.originated));
                c.vars.set("originate_signal_bond", &leg_uuid);
            }
        }
        let group_dial = preview.owner.is_some() && preview.causes.len() > 1 && !losers.is_empty();
        if group_dial {
            self.set_var(chan, "group_dial_status", "winner");
        }
        for l in losers {
            if group_dial {
                self.set_var(l, "group_dial_status", "loser");
            }
            self.hangup(l, Cause::LOSE_RACE);
        }
        let Some(o) = self.origs.get_mut(&orig) else {
            return;
        };
        o.record_group();
        let (owner, job) = (o.owner, o.job.clone());
        let causes = array(&o.causes);
        if let Some(c) = self.chan_mut(chan) {
            c.leg_of = None;
            c.job = None;
        }
        if let Some(job) = job {
            self.origs.remove(&orig);
            self.leg_up(chan);
            let uuid = self.uuid_of(chan);
            if !job.uuid.is_empty() {
                self.background_job(&job, &format!("+OK {uuid}\n"));
            }
            if let Some(c) = self.chan_mut(chan) {
                c.program.extend(job.then);
                // The originate flips the caller id (CALL_UPDATE, not modelled) and keeps the old.
                let (name, number) = (
                    c.profile.caller_id_name.clone(),
                    c.profile.caller_id_number.clone(),
                );
                c.vars.set("pre_transfer_caller_id_name", &name);
                c.vars.set("pre_transfer_caller_id_number", &number);
                c.vars.set("channel_cid_flipped", "yes");
                let call_uuid = c.call_uuid.clone();
                c.vars.set("call_uuid", &call_uuid);
            }
            self.set_state(chan, ChannelState::Execute);
            self.work.push_back(Work::Step(chan));
            return;
        }
        let Some(owner) = owner else { return };
        self.mark(owner, Mark::Answer);
        if let Some(c) = self.chan_mut(owner) {
            c.vars.set("originate_signal_bond", "");
            c.vars.set("endpoint_disposition", "ANSWER");
            c.vars.set("originate_disposition", "SUCCESS");
            c.vars.set("DIALSTATUS", "SUCCESS");
            c.vars.set("originate_causes", &causes);
        }
        self.bridge_pair(owner, chan);
    }

    /// A leg hung up before winning.
    pub(crate) fn leg_hungup(&mut self, orig: u64, chan: ChanId, cause: Cause) {
        let Some(i) = self.attempt(orig, chan) else {
            return;
        };
        let Some(o) = self.origs.get_mut(&orig) else {
            return;
        };
        let owner = o.owner;
        if o.legs[i].state != LegState::Won
            && let Some(owner) = owner
        {
            // Every leg that drops out leaves its cause on the caller.
            self.set_var(owner, "last_bridge_hangup_cause", cause.name);
        }
        let Some(o) = self.origs.get_mut(&orig) else {
            return;
        };
        if o.done || matches!(o.legs[i].state, LegState::Failed(_) | LegState::Won) {
            return;
        }
        o.legs[i].state = LegState::Failed(cause);
        o.last_cause = cause;
        if let Some(t) = o.legs[i].timer.take() {
            self.cancel_timer(t);
        }
        let all_failed = self.origs.get(&orig).is_some_and(|o| {
            o.legs
                .iter()
                .all(|l| matches!(l.state, LegState::Failed(_)))
        });
        if all_failed {
            self.group_failed(orig);
        }
    }

    fn group_failed(&mut self, orig: u64) {
        let Some(o) = self.origs.get_mut(&orig) else {
            return;
        };
        o.record_group();
        if let Some(t) = o.timeout.take() {
            self.cancel_timer(t);
        }
        let Some(o) = self.origs.get_mut(&orig) else {
            return;
        };
        let groups = o.dial.branches.get(o.branch).map_or(0, |b| b.groups.len());
        if let Some(owner) = o.owner {
            let causes = array(&o.causes);
            self.set_var(owner, "originate_causes", &causes);
        }
        let Some(o) = self.origs.get_mut(&orig) else {
            return;
        };
        if o.group + 1 < groups {
            o.group += 1;
            self.start_group(orig);
        } else if o.branch + 1 < o.dial.branches.len() {
            o.branch += 1;
            o.group = 0;
            self.start_group(orig);
        } else {
            self.originate_failed(orig);
        }
    }

    fn originate_failed(&mut self, orig: u64) {
        let Some(o) = self.origs.remove(&orig) else {
            return;
        };
        let cause = o.last_cause;
        if let Some(job) = &o.job {
            if !job.uuid.is_empty() {
                self.background_job(job, &format!("-ERR {}\n", cause.name));
            }
            return;
        }
        let Some(owner) = o.owner else { return };
        self.set_failure_vars(owner, &o, cause);
        let Some(running) = self.pop_bridge(owner) else {
            return;
        };
        let continue_on_fail = self
            .chan(owner)
            .and_then(|c| c.vars.get("continue_on_fail").map(str::to_owned));
        let keep = match continue_on_fail.as_deref() {
            Some(v) if is_true(v) => true,
            Some(list) => list.split(',').any(|c| c.trim() == cause.name),
            None => false,
        } || matches!(
            cause.name,
            "NO_ANSWER" | "NO_USER_RESPONSE" | "ORIGINATOR_CANCEL"
        );
        if !keep {
            self.hangup(owner, cause);
        }
        self.complete(owner, &running, None);
        self.work.push_back(Work::Step(owner));
    }

    fn set_failure_vars(&mut self, owner: ChanId, o: &Origination, cause: Cause) {
        if let Some(c) = self.chan_mut(owner) {
            if !o.originated.is_empty() {
                c.vars.set("originated_legs", &array(&o.originated));
            }
            c.vars.set("originate_disposition", cause.name);
            c.vars.set("DIALSTATUS", dialstatus(cause));
            c.vars.set("originate_failed_cause", cause.name);
            if !o.causes.is_empty() {
                c.vars.set("originate_causes", &array(&o.causes));
            }
            c.vars.set("last_bridge_hangup_cause", cause.name);
        }
    }

    pub(crate) fn leg_timeout(&mut self, orig: u64, chan: ChanId) {
        let live = self
            .attempt(orig, chan)
            .and_then(|i| self.origs.get(&orig).map(|o| (o.done, o.legs[i].state)))
            .is_some_and(|(done, s)| {
                !done && matches!(s, LegState::Ringing | LegState::Confirming)
            });
        if live {
            self.hangup(chan, Cause::ALLOTTED_TIMEOUT);
        }
    }

    pub(crate) fn originate_timeout(&mut self, orig: u64, group: usize) {
        let Some(o) = self.origs.get(&orig) else {
            return;
        };
        if o.done || o.group != group {
            return;
        }
        let live: Vec<ChanId> = o
            .legs
            .iter()
            .filter(|l| matches!(l.state, LegState::Ringing | LegState::Confirming))
            .map(|l| l.chan)
            .collect();
        for chan in live {
            self.hangup(chan, Cause::NO_ANSWER);
        }
    }

    /// The caller hung up while its `bridge` ran: cancel the legs still ringing (ORIGINATOR_CANCEL)
    /// or end the bridge.
    pub(crate) fn unwind_bridge(&mut self, owner: ChanId, orig: u64) {
        // A dial already won keeps its result (SUCCESS, as `dtmf_variants` shows for a caller
        // killed mid-bridge): only the bridge ends.
        let dialling = self.origs.get(&orig).is_some_and(|o| !o.done);
        if let Some(mut o) = self.origs.remove(&orig).filter(|_| dialling) {
            o.done = true;
            let live: Vec<ChanId> = o
                .legs
                .iter_mut()
                .filter(|l| matches!(l.state, LegState::Ringing | LegState::Confirming))
                .map(|l| {
                    l.state = LegState::Failed(Cause::ORIGINATOR_CANCEL);
                    l.chan
                })
                .collect();
            for t in o
                .legs
                .iter_mut()
                .filter_map(|l| l.timer.take())
                .chain(o.timeout.take())
            {
                self.cancel_timer(t);
            }
            let owner_cause = self
                .chan(owner)
                .and_then(|c| c.hangup_cause)
                .unwrap_or(Cause::NORMAL_CLEARING);
            for chan in live {
                self.set_var(chan, "last_bridge_hangup_cause", owner_cause.name);
                self.hangup(chan, Cause::ORIGINATOR_CANCEL);
            }
            o.record_group();
            self.set_failure_vars(owner, &o, Cause::ORIGINATOR_CANCEL);
            if let Some(c) = self.chan_mut(owner) {
                c.vars.set("last_bridge_hangup_cause", "");
            }
            return;
        }
        let Some(leg) = self.chan(owner).and_then(|c| c.bridged_to) else {
            return;
        };
        let cause = self
            .chan(owner)
            .and_then(|c| c.hangup_cause)
            .unwrap_or(Cause::NORMAL_CLEARING);
        self.unbridge(owner, leg, cause);
        self.work.push_back(Work::Hangup(leg, cause));
    }

    pub(crate) fn background_job(&mut self, job: &Job, body: &str) {
        let extra = Extra::default()
            .post("Job-UUID", job.uuid.clone())
            .post("Job-Command", job.command.clone())
            .post("Job-Command-Arg", job.arg.clone());
        self.emit_global(
            "BACKGROUND_JOB",
            headers::BACKGROUND_JOB,
            extra,
            Some(body.to_owned()),
        );
    }
}

/// The address of the switch's own SIP profile (`parkway` in the captures): a leg sent there
/// comes back in as an inbound call ([`PairKind::SipSelf`]).
const OWN_SIP_ADDRESS: &str = "127.0.0.1:5080";

/// The host part of a sofia destination (`user@host[:port][;params]`), port included.
fn sip_host(dest: &str) -> &str {
    let bare = strip_scheme(dest);
    let host = bare.split_once('@').map_or("", |(_, h)| h);
    host.split(';').next().unwrap_or(host)
}

/// The user part of a sofia destination: `user@host[:port][;params]`, optionally written as a
/// `sip:` or `sips:` URI (mod_sofia accepts both after the profile).
pub(crate) fn sip_user(dest: &str) -> &str {
    let bare = strip_scheme(dest);
    let user = bare.split('@').next().unwrap_or(bare);
    user.split(';').next().unwrap_or(user)
}

fn strip_scheme(dest: &str) -> &str {
    for scheme in ["sip:", "sips:"] {
        if let Some(head) = dest.get(..scheme.len())
            && head.eq_ignore_ascii_case(scheme)
        {
            return &dest[scheme.len()..];
        }
    }
    dest
}

#[cfg(test)]
mod tests {
    use super::{OWN_SIP_ADDRESS, sip_host, sip_user};

    #[test]
    fn host_part_of_sofia_destinations() {
        assert_eq!(sip_host("answer_dtmf@127.0.0.1:5080"), OWN_SIP_ADDRESS);
        assert_eq!(
            sip_host("sip:u@127.0.0.1:5080;transport=udp"),
            OWN_SIP_ADDRESS
        );
        assert_eq!(sip_host("u@127.0.0.1"), "127.0.0.1");
        assert_eq!(sip_host("bare"), "");
    }

    #[test]
    fn user_part_of_sofia_destinations() {
        assert_eq!(sip_user("answer_dtmf@127.0.0.1:5080"), "answer_dtmf");
        assert_eq!(sip_user("sip:inbound@acme-cc.example.com"), "inbound");
        assert_eq!(
            sip_user("SIPS:inbound@acme-cc.example.com;transport=tls"),
            "inbound"
        );
        assert_eq!(sip_user("sip:+18175550123@gw.example.com"), "+18175550123");
        assert_eq!(sip_user("bare"), "bare");
    }
}
