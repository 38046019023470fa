//! JSON CDRs like mod_json_cdr's: one document per channel with `core-uuid`, `switchname`,
//! `channel_data`, `variables` (values URL-encoded), `app_log` and `callflow`. The engine hands
//! them out as data ([`Engine::take_cdrs`]); the server writes the files (`a_<uuid>.cdr.json`
//! for A legs, `<uuid>.cdr.json` for B legs).

use serde_json::{Map, Value, json};

use super::Engine;
use super::channel::{CallDirection, ChanId};

fn url_encode(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len());
    crate::esl::headers::percent_encode(value, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

impl Engine {
    pub(crate) fn write_cdr(&mut self, id: ChanId) {
        let Some(c) = self.chan(id) else { return };
        let mut vars = Map::new();
        for (n, v) in c.vars.iter() {
            vars.insert(n.to_owned(), Value::String(url_encode(v)));
        }
        let apps: Vec<Value> = c
            .app_log
            .iter()
            .map(|(name, data, at)| json!({"app_name": name, "app_data": data, "app_stamp": at.to_string()}))
            .collect();
        let p = &c.profile;
        let doc = json!({
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
            "app_log": {"applications": apps},
            "callflow": [{
                "dialplan": "XML",
                "profile_index": "1",
                "caller_profile": {
                    "username": "",
                    "dialplan": "xml",
                    "caller_id_name": p.caller_id_name,
                    "ani": p.caller_id_number,
                    "caller_id_number": p.caller_id_number,
                    "callee_id_name": p.callee_id_name,
                    "callee_id_number": p.callee_id_number,
                    "destination_number": p.destination_number,
                    "uuid": c.uuid,
                    "source": p.source,
                    "context": p.context,
                    "chan_name": c.name,
                },
                "times": {
                    "created_time": p.created.to_string(),
                    "profile_created_time": p.created.to_string(),
                    "progress_time": p.progress.to_string(),
                    "progress_media_time": p.progress_media.to_string(),
                    "answered_time": p.answered.to_string(),
                    "bridged_time": p.bridged.to_string(),
                    "hangup_time": p.hangup.to_string(),
                    "transfer_time": p.transfer.to_string(),
                },
            }],
        });
        let file = match c.direction {
            CallDirection::Inbound => format!("a_{}.cdr.json", c.uuid),
            CallDirection::Outbound => format!("{}.cdr.json", c.uuid),
        };
        self.cdrs.push(json!({"file": file, "cdr": doc}));
    }
}
