//! JSON CDRs like mod_json_cdr's: one document per channel with `core-uuid`, `switchname`,
//! `channel_data`, `callStats`, `variables` (values URL-encoded), `app_log` and `callflow` (the
//! caller profile with its `originator` / `originatee` profiles, the dialplan extension that ran,
//! and the profile times). The engine hands them out as data ([`Engine::take_cdrs`]): `{"file":
//! name, "cdr": document}`, named as mod_json_cdr names them (`a_<uuid>.cdr.json` for the A leg
//! of a call, which is the inbound one here; `<uuid>.cdr.json` otherwise). The server writes the
//! files. Not modelled: `channel_data.flags`, `callStats` (RTP; always `{}` on loopback legs),
//! and key order (serde_json sorts object keys; mod_json_cdr writes `core-uuid` first).
//!
//! A channel's CDR is recorded when it reports ([`Cdr`]: its variables and application log
//! are moved out of the destroyed channel, not copied) and rendered to JSON only when asked
//! ([`Cdr::to_json`], [`Engine::take_cdrs`]), so a run that writes no CDR files does not pay for
//! building JSON documents.

use serde_json::{Map, Value, json};

use super::Engine;
use super::channel::{
    AppCall, CallDirection, ChanId, Channel, ChannelState, OtherType, Profile, Vars,
};

fn url_encode(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len());
    parkway_esl::headers::percent_encode(value, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The parts of a channel a CDR profile shows.
#[derive(Debug, Clone)]
struct ProfileOf {
    uuid: String,
    name: String,
    profile: Profile,
}

impl ProfileOf {
    fn of(c: &Channel) -> ProfileOf {
        ProfileOf {
            uuid: c.uuid.clone(),
            name: c.name.clone(),
            profile: c.profile.clone(),
        }
    }

    fn to_json(&self) -> Map<String, Value> {
        let p = &self.profile;
        let mut m = Map::new();
        for (k, v) in [
            ("username", ""),
            ("dialplan", "xml"),
            ("caller_id_name", p.caller_id_name.as_str()),
            ("ani", p.caller_id_number.as_str()),
            ("aniii", ""),
            ("caller_id_number", p.caller_id_number.as_str()),
            ("network_addr", ""),
            ("rdnis", ""),
            ("destination_number", p.destination_number.as_str()),
            ("uuid", self.uuid.as_str()),
            ("source", p.source.as_str()),
            ("context", p.context.as_str()),
            ("chan_name", self.name.as_str()),
        ] {
            m.insert(k.into(), Value::String(v.into()));
        }
        m
    }
}

/// One channel's CDR, as recorded when the channel reported.
#[derive(Debug, Clone)]
pub struct Cdr {
    core_uuid: String,
    switchname: String,
    state: ChannelState,
    direction: CallDirection,
    own: ProfileOf,
    other: Option<(OtherType, ProfileOf)>,
    /// The dialplan extension that ran: its name and applications.
    extension: Option<(String, Vec<AppCall>)>,
    vars: Vars,
    app_log: Vec<(String, String, u64)>,
}

impl Cdr {
    /// The file mod_json_cdr would write it to.
    pub fn file(&self) -> String {
        match self.direction {
            CallDirection::Inbound => format!("a_{}.cdr.json", self.own.uuid),
            CallDirection::Outbound => format!("{}.cdr.json", self.own.uuid),
        }
    }

    /// `{"file": name, "cdr": document}`.
    pub fn to_json(&self) -> Value {
        let mut vars = Map::new();
        for (n, v) in self.vars.iter() {
            vars.insert(n.to_owned(), Value::String(url_encode(v)));
        }
        let apps: Vec<Value> = self
            .app_log
            .iter()
            .map(|(name, data, at)| {
                json!({"app_name": name, "app_data": data, "app_stamp": at.to_string()})
            })
            .collect();
        let mut caller = self.own.to_json();
        if let Some((kind, o)) = &self.other {
            let (key, list) = match kind {
                OtherType::Originator => ("originator", "originator_caller_profiles"),
                OtherType::Originatee => ("originatee", "originatee_caller_profiles"),
            };
            caller.insert(key.into(), json!({ list: [Value::Object(o.to_json())] }));
        }
        let p = &self.own.profile;
        let mut flow = json!({
            "dialplan": "xml",
            "profile_index": "1",
            "caller_profile": caller,
            "times": {
                "created_time": p.created.to_string(),
                "profile_created_time": p.created.to_string(),
                "progress_time": p.progress.to_string(),
                "progress_media_time": p.progress_media.to_string(),
                "answered_time": p.answered.to_string(),
                "bridged_time": p.bridged.to_string(),
                "last_hold_time": "0",
                "hold_accum_time": "0",
                "hangup_time": p.hangup.to_string(),
                "resurrect_time": "0",
                "transfer_time": p.transfer.to_string(),
            },
        });
        if let Some((name, apps)) = &self.extension
            && let Some(obj) = flow.as_object_mut()
        {
            let apps: Vec<Value> = apps
                .iter()
                .map(|a| json!({"app_name": a.name, "app_data": a.arg}))
                .collect();
            obj.insert(
                "extension".into(),
                json!({"name": name, "number": p.destination_number, "applications": apps}),
            );
        }
        let mut doc = json!({
            "core-uuid": self.core_uuid,
            "switchname": self.switchname,
            "channel_data": {
                "state": self.state.name(),
                "direction": self.direction.name(),
                "state_number": self.state.number().to_string(),
                "flags": "",
                "caps": "",
            },
            "callStats": {},
            "variables": vars,
            "callflow": [flow],
        });
        // mod_json_cdr writes `app_log` only for channels that ran applications, before
        // `callflow`.
        if !apps.is_empty()
            && let Some(obj) = doc.as_object_mut()
        {
            let callflow = obj.remove("callflow");
            obj.insert("app_log".into(), json!({"applications": apps}));
            if let Some(cf) = callflow {
                obj.insert("callflow".into(), cf);
            }
        }
        json!({"file": self.file(), "cdr": doc})
    }
}

impl Engine {
    /// The CDR of a channel that is reporting (none for SIP user agents outside the switch),
    /// without its variables and application log: [`Engine::file_cdr`] moves those in once
    /// the channel is destroyed.
    pub(crate) fn cdr_of(&self, id: ChanId) -> Option<Cdr> {
        let c = self.chan(id).filter(|c| !c.hidden)?;
        let other = c.other.and_then(|(kind, other)| {
            let o = self.chan(other)?;
            Some((kind, ProfileOf::of(o)))
        });
        let p = &c.profile;
        let extension = if c.hit_dialplan {
            self.dialplan
                .extension_of(&p.context, &p.destination_number)
                .map(|(name, apps)| (name, c.drawn_extension.as_ref().unwrap_or(apps).clone()))
        } else {
            None
        };
        Some(Cdr {
            core_uuid: self.core_uuid.clone(),
            switchname: self.identity.switchname.clone(),
            state: c.running_state,
            direction: c.direction,
            own: ProfileOf::of(c),
            other,
            extension,
            vars: Vars::default(),
            app_log: Vec::new(),
        })
    }

    /// Files a CDR taken with [`Engine::cdr_of`], moving the destroyed channel's variables and
    /// application log into it.
    pub(crate) fn file_cdr(&mut self, id: ChanId, mut cdr: Cdr) {
        if let Some(c) = self.chan_mut(id) {
            cdr.vars = std::mem::take(&mut c.vars);
            cdr.app_log = std::mem::take(&mut c.app_log);
        }
        self.cdrs.push(cdr);
    }
}
