//! JSON CDRs like mod_json_cdr's: one document per channel with `core-uuid`, `switchname`,
//! `channel_data`, `callStats`, `variables` (values URL-encoded), `app_log` and `callflow` (the
//! caller profile with its `originator` / `originatee` profiles, the dialplan extension that ran,
//! and the profile times). The engine hands them out as data ([`Engine::take_cdrs`]): `{"file":
//! name, "cdr": document}`, named as mod_json_cdr names them (`a_<uuid>.cdr.json` for the A leg
//! of a call, which is the inbound one here; `<uuid>.cdr.json` otherwise). The server writes the
//! files. Not modelled: `channel_data.flags`, `callStats` (RTP; always `{}` on loopback legs),
//! and key order (serde_json sorts object keys; mod_json_cdr writes `core-uuid` first).

use serde_json::{Map, Value, json};

use super::Engine;
use super::channel::{CallDirection, ChanId, Channel, OtherType};

fn url_encode(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len());
    crate::esl::headers::percent_encode(value, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn profile(c: &Channel) -> Map<String, Value> {
    let p = &c.profile;
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
        ("uuid", c.uuid.as_str()),
        ("source", p.source.as_str()),
        ("context", p.context.as_str()),
        ("chan_name", c.name.as_str()),
    ] {
        m.insert(k.into(), Value::String(v.into()));
    }
    m
}

impl Engine {
    pub(crate) fn write_cdr(&mut self, id: ChanId) {
        let Some(c) = self.chan(id).filter(|c| !c.hidden) else {
            return;
        };
        let mut vars = Map::new();
        for (n, v) in c.vars.iter() {
            vars.insert(n.to_owned(), Value::String(url_encode(v)));
        }
        let apps: Vec<Value> = c
            .app_log
            .iter()
            .map(|(name, data, at)| {
                json!({"app_name": name, "app_data": data, "app_stamp": at.to_string()})
            })
            .collect();
        let mut caller = profile(c);
        if let Some((kind, other)) = c.other
            && let Some(o) = self.chan(other)
        {
            let (key, list) = match kind {
                OtherType::Originator => ("originator", "originator_caller_profiles"),
                OtherType::Originatee => ("originatee", "originatee_caller_profiles"),
            };
            caller.insert(key.into(), json!({ list: [Value::Object(profile(o))] }));
        }
        let p = &c.profile;
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
        if c.hit_dialplan
            && let Some((name, apps)) = self
                .dialplan
                .extension_of(&p.context, &p.destination_number)
            && let Some(obj) = flow.as_object_mut()
        {
            let apps: Vec<Value> = c
                .drawn_extension
                .as_ref()
                .unwrap_or(apps)
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
            "switchname": self.identity.switchname,
            "channel_data": {
                "state": c.running_state.name(),
                "direction": c.direction.name(),
                "state_number": c.running_state.number().to_string(),
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
        let file = match c.direction {
            CallDirection::Inbound => format!("a_{}.cdr.json", c.uuid),
            CallDirection::Outbound => format!("{}.cdr.json", c.uuid),
        };
        self.cdrs.push(json!({"file": file, "cdr": doc}));
    }
}
