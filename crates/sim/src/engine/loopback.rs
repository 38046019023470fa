//! mod_loopback as the captures show it: `loopback/<ext>/<ctx>` makes a pair, `-a` (outbound,
//! the leg an originate or bridge holds) and `-b` (inbound, running the context's extension for
//! `<ext>`); ring, early media, answer, DTMF and hangup cross from one to the other. Also the
//! dialplan lookup that starts a channel executing.

use super::channel::{CallDirection, Cause, ChanId, ChannelState, OtherType, Profile, Vars};

/// What kind of pair to make: a loopback (both halves visible), or a SIP call whose far end is
/// a hidden user agent (`sofia/<profile>/<dest>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PairKind {
    Loopback,
    /// The `-a` half is the visible outbound SIP leg; the hidden `-b` (the far user agent)
    /// runs the extension `user`. The leg is named as mod_sofia names it,
    /// `sofia/<profile>/<dest>` with the destination as written up to any `;params`
    /// (`sofia_glue_set_name`), so `sofia/p/sip:u@h` keeps its `sip:`. A gateway leg
    /// (`sofia/gateway/<gw>/<number>`) goes out through the gateway's profile as
    /// `<number>@<host>`; the simulated switch takes the profile and the host to be the
    /// gateway's name (a gateway without `realm`/`proxy` uses its name as both host fields), so
    /// the channel is `sofia/<gw>/<number>@<gw>` and carries `sip_gateway_name`.
    SipOut {
        profile: String,
        user: String,
        gateway: Option<String>,
    },
    /// The `-b` half is the visible inbound SIP leg; the hidden `-a` is the caller's phone.
    SipIn {
        profile: String,
        host: String,
    },
    /// A SIP leg to the switch's own profile address (`sofia/parkway/<user>@127.0.0.1:5080`, as
    /// in `sip_leg` and `dtmf_variants`): the INVITE comes back in, so both halves are visible,
    /// the `-b` half as the inbound `sofia/<profile>/<caller number>@<host>` running context
    /// `public` for `user`, carrying only the `sip_h_*` variables of the call.
    SipSelf {
        profile: String,
        user: String,
        host: String,
    },
}
use super::headers::{self, Extra};
use super::lifecycle::NewChannel;
use super::{Engine, Work};

impl Engine {
    /// A `loopback/<ext>/<ctx>` pair: `-a` (outbound, the leg) and `-b` (inbound, running the
    /// context's extension for `ext`).
    pub(crate) fn loopback_pair(
        &mut self,
        ext: &str,
        ctx: &str,
        vars: &Vars,
        leg_first: Option<&Vars>,
        owner: Option<ChanId>,
    ) -> (ChanId, ChanId) {
        self.pair(&PairKind::Loopback, ext, ctx, vars, leg_first, owner)
    }

    /// A pair of channels passing ring, media, DTMF and hangup to each other; see [`PairKind`].
    pub(crate) fn pair(
        &mut self,
        kind: &PairKind,
        ext: &str,
        ctx: &str,
        vars: &Vars,
        leg_first: Option<&Vars>,
        owner: Option<ChanId>,
    ) -> (ChanId, ChanId) {
        let owner_info = owner.and_then(|o| self.chan(o)).map(|c| {
            (
                c.uuid.clone(),
                c.profile.caller_id_name.clone(),
                c.profile.caller_id_number.clone(),
            )
        });
        let name = vars
            .get("origination_caller_id_name")
            .map(str::to_owned)
            .or_else(|| owner_info.as_ref().map(|o| o.1.clone()))
            .unwrap_or_else(|| "FreeSWITCH".into());
        let number = vars
            .get("origination_caller_id_number")
            .map(str::to_owned)
            .or_else(|| owner_info.as_ref().map(|o| o.2.clone()))
            .unwrap_or_else(|| "0000000000".into());
        let (a_name, b_name, source) = match kind {
            PairKind::Loopback => (
                format!("loopback/{ext}-a"),
                format!("loopback/{ext}-b"),
                "mod_loopback",
            ),
            PairKind::SipOut { profile, .. } => {
                let name = ext.split(';').next().unwrap_or(ext);
                (
                    format!("sofia/{profile}/{name}"),
                    format!("sofia/{profile}/remote-{name}"),
                    "mod_sofia",
                )
            }
            PairKind::SipIn { profile, host } => (
                format!("sofia/{profile}/remote-{ext}"),
                format!("sofia/{profile}/{number}@{host}"),
                "mod_sofia",
            ),
            PairKind::SipSelf { profile, host, .. } => (
                format!("sofia/{profile}/{}", ext.split(';').next().unwrap_or(ext)),
                format!("sofia/{profile}/{number}@{host}"),
                "mod_sofia",
            ),
        };
        let self_loop = matches!(kind, PairKind::SipSelf { .. });
        let loopback = *kind == PairKind::Loopback;
        let profile = Profile {
            caller_id_name: name,
            caller_id_number: number,
            callee_id_name: "Outbound Call".into(),
            callee_id_number: ctx.into(),
            destination_number: ext.into(),
            source: source.into(),
            context: ctx.into(),
            ..Profile::default()
        };
        let a = self.alloc_channel(NewChannel {
            name: a_name.clone(),
            uuid: vars.get("origination_uuid").map(str::to_owned),
            direction: CallDirection::Outbound,
            profile: profile.clone(),
        });
        let b = self.alloc_channel(NewChannel {
            name: b_name.clone(),
            uuid: None,
            direction: CallDirection::Inbound,
            profile,
        });
        let session = |e: &Engine, id| e.chan(id).map(|c| c.id.to_string()).unwrap_or_default();
        let (sa, sb) = (session(self, a), session(self, b));
        let (ua, ub) = (self.uuid_of(a), self.uuid_of(b));
        // A leg variables, in the order of the captures (a leg of a bridge and a leg of an
        // originate api differ).
        let codecs = [
            ("read_codec", "L16"),
            ("read_rate", "8000"),
            ("write_codec", "L16"),
            ("write_rate", "8000"),
        ];
        let mut av = Vars::for_channel();
        av.set("direction", "outbound");
        av.set("is_outbound", "true");
        match &owner_info {
            Some((ou, _, _)) => {
                av.set("uuid", &ua);
                av.set("session_id", &sa);
                for (n, v) in codecs {
                    av.set(n, v);
                }
                av.set("loopback_from_uuid", ou);
                av.set("channel_name", &a_name.clone());
                av.set("max_forwards", "70");
                av.set("originator_codec", "L16@8000h@20i");
                av.set("originator", ou);
                av.set("signal_bond", ou);
                av.set("call_uuid", ou);
            }
            None => {
                av.set("session_id", &sa);
                for (n, v) in codecs {
                    av.set(n, v);
                }
                av.set("channel_name", &a_name.clone());
                av.set("uuid", &ua);
                av.set("call_uuid", &ua);
            }
        }
        if let PairKind::SipOut {
            gateway: Some(gw), ..
        } = kind
        {
            av.set("sip_gateway_name", gw);
        }
        // What CHANNEL_UUID carries: the variables before the originate's own.
        let basic = av.clone();
        // A bridge leg's `[…]` variables land before the `{…}` ones on the `-a` leg.
        // mod_loopback drops `group_confirm_*` from its `-a` leg (the `-b` leg keeps them).
        for (n, v) in leg_first
            .unwrap_or(vars)
            .iter()
            .filter(|(n, _)| !n.starts_with("group_confirm"))
        {
            av.set(n, v);
        }
        av.set(
            "originate_early_media",
            if owner.is_some() { "false" } else { "true" },
        );
        if let Some((ou, _, _)) = &owner_info {
            av.set("originating_leg_uuid", ou);
        }
        av.set(
            "originate_endpoint",
            if loopback { "loopback" } else { "sofia" },
        );
        if loopback {
            av.set("other_loopback_leg_uuid", &ub);
            av.set("loopback_leg", "A");
        }
        let mut bv = Vars::for_channel();
        bv.set("direction", "inbound");
        bv.set("uuid", &ub);
        bv.set("call_uuid", &ub);
        bv.set("session_id", &sb);
        bv.set("channel_name", &b_name.clone());
        for (n, v) in [
            ("read_codec", "L16"),
            ("read_rate", "8000"),
            ("write_codec", "L16"),
            ("write_rate", "8000"),
        ] {
            bv.set(n, v);
        }
        for (n, v) in vars
            .iter()
            .filter(|(n, _)| !self_loop || n.starts_with("sip_h_"))
        {
            bv.set(n, v);
        }
        if loopback {
            bv.set("other_loopback_leg_uuid", &ua);
            if let Some((ou, _, _)) = &owner_info {
                bv.set("other_loopback_from_uuid", ou);
            }
            bv.set("loopback_leg", "B");
        }
        let owner_uuid = owner_info.as_ref().map(|o| o.0.clone());
        if let Some(c) = self.chan_mut(a) {
            c.vars = basic;
            c.loopback_peer = Some(b);
            c.call_uuid = owner_uuid.unwrap_or(ua.clone());
        }
        if let Some(c) = self.chan_mut(b) {
            c.vars = bv;
            c.loopback_peer = Some(a);
            c.hidden = matches!(kind, PairKind::SipOut { .. });
        }
        if let Some(c) = self.chan_mut(a) {
            c.hidden = matches!(kind, PairKind::SipIn { .. });
        }
        if let Some(o) = owner {
            self.link_other(a, o, OtherType::Originator);
        }
        // The A leg comes up. mod_sofia takes `origination_uuid` at creation: no CHANNEL_UUID
        // (`sip_leg`).
        if vars.get("origination_uuid").is_some() && loopback {
            let old = self.rng.uuid_v4();
            if let Some(c) = self.chan_mut(a) {
                c.running_state = ChannelState::None;
                c.state = ChannelState::Init;
            }
            self.emit(
                "CHANNEL_UUID",
                a,
                headers::UUID,
                Extra::default().pre("Old-Unique-ID", old),
            );
        } else if let Some(c) = self.chan_mut(a) {
            c.running_state = ChannelState::None;
            c.state = ChannelState::Init;
        }
        if let Some(c) = self.chan_mut(a) {
            c.vars = av;
        }
        self.emit("CHANNEL_OUTGOING", a, headers::OUTGOING, Extra::default());
        self.set_state(a, ChannelState::Init);
        if let Some(c) = self.chan_mut(a) {
            c.pending_up = true;
        }
        // The B leg runs the dialplan. An inbound SIP leg reports its CS_NEW (`sip_leg`).
        if matches!(kind, PairKind::SipIn { .. } | PairKind::SipSelf { .. }) {
            self.set_state(b, ChannelState::New);
        }
        self.set_state(b, ChannelState::Init);
        self.created(b);
        // The B leg's thread is already routing when its call state turns RINGING.
        if let Some(c) = self.chan_mut(b) {
            c.running_state = ChannelState::Routing;
        }
        self.set_callstate(b, super::CallState::Ringing);
        self.set_state(b, ChannelState::Routing);
        // A SIP user agent runs the extension of the user part of its address.
        match kind {
            PairKind::SipOut { user, .. } => {
                // An unknown user answers `404 Not Found`, which mod_sofia reports as
                // UNALLOCATED_NUMBER (`sofia_glue_sip_cause_to_freeswitch`).
                self.route_or(b, ctx, user, Cause::UNALLOCATED_NUMBER)
            }
            PairKind::SipSelf { user, .. } => self.route(b, "public", user),
            _ => self.route(b, ctx, ext),
        }
        self.work.push_back(Work::LegUp(a));
        (a, b)
    }

    pub(crate) fn uuid_of(&self, id: ChanId) -> String {
        self.chan(id).map(|c| c.uuid.clone()).unwrap_or_default()
    }

    /// CHANNEL_CREATE (raised with the routing state already requested).
    pub(crate) fn created(&mut self, id: ChanId) {
        if let Some(c) = self.chan_mut(id) {
            c.state = ChannelState::Routing;
        }
        self.emit("CHANNEL_CREATE", id, headers::CREATE, Extra::default());
    }

    /// Looks the destination up in the context and starts executing it; with no extension
    /// the channel hangs up with NO_ROUTE_DESTINATION, as FreeSWITCH's dialplan does.
    pub(crate) fn route(&mut self, id: ChanId, ctx: &str, dest: &str) {
        self.route_or(id, ctx, dest, Cause::NO_ROUTE_DESTINATION);
    }

    /// [`Engine::route`], hanging up with `no_route` when nothing matches.
    pub(crate) fn route_or(&mut self, id: ChanId, ctx: &str, dest: &str, no_route: Cause) {
        let ext = self.dialplan.resolve_drawn(ctx, dest, &mut self.draws);
        let pattern = !self.dialplan.has_exact(ctx, dest);
        match ext {
            Some((apps, drawn)) => {
                if let Some(c) = self.chan_mut(id) {
                    c.hit_dialplan = true;
                    if drawn {
                        c.drawn_extension = Some(apps.clone());
                    }
                    if pattern {
                        // The catch-all extension matches with a capture group: the whole
                        // number; a `socket_<port>` extension captures the port
                        // (`outbound_plain`: `ARRAY::socket_8084|:8084`).
                        let group = dest
                            .strip_prefix("socket_")
                            .filter(|p| ctx == "public" && p.parse::<u16>().is_ok())
                            .unwrap_or(dest);
                        c.vars.set("DP_MATCH", &format!("ARRAY::{dest}|:{group}"));
                    }
                    let call_uuid = c.call_uuid.clone();
                    c.vars.set("call_uuid", &call_uuid);
                    c.program.extend(apps);
                }
                self.set_state(id, ChannelState::Execute);
                self.work.push_back(Work::Step(id));
            }
            // From the channel's own thread, after the dial that made it has taken it on.
            None => self.work.push_back(Work::Hangup(id, no_route)),
        }
    }
}
