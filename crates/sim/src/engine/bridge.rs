//! A bridge in progress: linking the two channels (CHANNEL_BRIDGE on the A side, CS_EXCHANGE_MEDIA
//! on the B side, the bridge variables on both), CHANNEL_UNBRIDGE, and what the A side does when
//! its bridge ends (`hangup_after_bridge`, `park_after_bridge`, back to its dialplan).

use super::channel::{AppCall, Cause, ChanId, ChannelState, OtherType, Running, Wait};
use super::headers::{self, Extra};
use super::{Engine, Work};

impl Engine {
    /// Bridges `owner` (the A side, raising CHANNEL_BRIDGE) with `chan` (the B side, moving to
    /// CS_EXCHANGE_MEDIA), and sets the bridge variables on both.
    pub(crate) fn bridge_pair(&mut self, owner: ChanId, chan: ChanId) {
        let (leg_uuid, leg_name, leg_ctx) = self
            .chan(chan)
            .map(|c| (c.uuid.clone(), c.name.clone(), c.profile.context.clone()))
            .unwrap_or_default();
        let (owner_uuid, owner_name, owner_cid) = self
            .chan(owner)
            .map(|c| {
                (
                    c.uuid.clone(),
                    c.name.clone(),
                    (
                        c.profile.caller_id_name.clone(),
                        c.profile.caller_id_number.clone(),
                    ),
                )
            })
            .unwrap_or_default();
        let wall = self.clock.wall_us();
        if let Some(c) = self.chan_mut(owner) {
            c.vars.set("signal_bond", &leg_uuid);
            c.other = Some((OtherType::Originatee, chan));
            c.bridged_to = Some(chan);
            c.profile.bridged = wall;
        }
        if let Some(c) = self.chan_mut(chan) {
            c.bridged_to = Some(owner);
            c.profile.bridged = wall;
            c.vars.set("call_uuid", &owner_uuid);
            c.vars.set("bridge_to", &owner_uuid);
            c.vars.set("last_bridge_to", &owner_uuid);
            c.vars.set("bridge_channel", &owner_name);
            c.vars.set("bridge_uuid", &owner_uuid);
            c.vars.set("signal_bond", &owner_uuid);
            c.vars.set("last_sent_callee_id_name", &owner_cid.0);
            c.vars.set("last_sent_callee_id_number", &owner_cid.1);
            c.vars.set("last_bridge_role", "originatee");
        }
        self.emit(
            "CHANNEL_BRIDGE",
            owner,
            headers::BRIDGE,
            Extra::default()
                .pre("Bridge-A-Unique-ID", owner_uuid)
                .pre("Bridge-B-Unique-ID", leg_uuid.clone()),
        );
        if let Some(c) = self.chan_mut(owner) {
            c.vars.set("last_bridge_to", &leg_uuid);
            c.vars.set("bridge_channel", &leg_name);
            c.vars.set("bridge_uuid", &leg_uuid);
            c.vars.set("signal_bond", &leg_uuid);
            c.vars.set("last_sent_callee_id_name", "Outbound Call");
            c.vars.set("last_sent_callee_id_number", &leg_ctx);
        }
        self.set_state(chan, ChannelState::ExchangeMedia);
    }

    /// Takes the caller's running `bridge` off its stack; the dial it ran is over (a won dial
    /// stays in `origs` until here, where nothing can reach it any more).
    pub(crate) fn pop_bridge(&mut self, owner: ChanId) -> Option<Running> {
        let c = self.chan_mut(owner)?;
        let pos = c
            .stack
            .iter()
            .rposition(|r| matches!(r.wait, Wait::Bridge { .. }))?;
        let running = c.stack.remove(pos);
        if let Wait::Bridge { orig } = running.wait {
            self.origs.remove(&orig);
        }
        Some(running)
    }

    pub(crate) fn unbridge(&mut self, owner: ChanId, leg: ChanId, cause: Cause) {
        let (a, b) = (self.uuid_of(owner), self.uuid_of(leg));
        if let Some(c) = self.chan_mut(owner) {
            // A caller that hung up itself keeps no last_bridge_hangup_cause (`dtmf_variants`).
            if !c.is_hungup() {
                c.vars.set("last_bridge_hangup_cause", cause.name);
            }
            c.vars.set("bridge_hangup_cause", cause.name);
            c.vars.set("bridge_to", "");
        }
        self.emit(
            "CHANNEL_UNBRIDGE",
            owner,
            headers::UNBRIDGE,
            Extra::default()
                .pre("Bridge-A-Unique-ID", a)
                .pre("Bridge-B-Unique-ID", b),
        );
        if let Some(c) = self.chan_mut(owner) {
            c.bridged_to = None;
        }
        if let Some(c) = self.chan_mut(leg) {
            c.bridged_to = None;
            c.vars.set("bridge_to", "");
        }
    }

    /// The bridged leg hung up: the caller's `bridge` ends, then `hangup_after_bridge` or
    /// `park_after_bridge` decide what the caller does.
    pub(crate) fn bridge_ended(&mut self, owner: ChanId, leg: ChanId, cause: Cause) {
        self.unbridge(owner, leg, cause);
        let Some(running) = self.pop_bridge(owner) else {
            return;
        };
        if running.call.name == super::uuid_bridge::UUID_BRIDGE {
            // The A side of a uuid_bridge goes back to executing its dialplan.
            self.set_state(owner, ChannelState::Execute);
            self.work.push_back(Work::Step(owner));
            return;
        }
        let (hangup_after, park_after, parked_below) = self
            .chan(owner)
            .map(|c| {
                (
                    c.vars.is_true("hangup_after_bridge"),
                    c.vars.is_true("park_after_bridge"),
                    c.is_parked(),
                )
            })
            .unwrap_or_default();
        if hangup_after {
            self.hangup(owner, Cause::NORMAL_CLEARING);
            self.complete(owner, &running, None);
            return;
        }
        self.complete(owner, &running, None);
        if park_after && !parked_below {
            self.enqueue(owner, AppCall::new("park", ""));
        } else {
            self.work.push_back(Work::Step(owner));
        }
    }
}
