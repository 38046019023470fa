//! `show channels` and `show calls` (`as json` or `count`), with the columns and column order of
//! FreeSWITCH's core database (`show_channels.md`). With no rows the JSON is `{"row_count": 0}`
//! (with a space and a newline, and no `rows`); with rows it is one line without a newline.

use super::Engine;
use super::channel::{Channel, OtherType};
use super::clock::date_local;

/// One row as ordered (column, value) pairs.
type Row = Vec<(&'static str, String)>;

fn created(c: &Channel) -> (String, String) {
    (
        date_local(c.profile.created),
        (c.profile.created / 1_000_000).to_string(),
    )
}

impl Engine {
    fn channel_row(&self, c: &Channel) -> Row {
        let (created, epoch) = created(c);
        let app = c.stack.last().map(|r| r.call.clone());
        let in_thread = matches!(
            c.running_state,
            super::ChannelState::Execute | super::ChannelState::SoftExecute
        );
        let codec = |v: &str| {
            if in_thread {
                v.to_owned()
            } else {
                String::new()
            }
        };
        let p = &c.profile;
        vec![
            ("uuid", c.uuid.clone()),
            ("direction", c.direction.name().into()),
            ("created", created),
            ("created_epoch", epoch),
            ("name", c.name.clone()),
            ("state", c.running_state.name().into()),
            ("cid_name", p.caller_id_name.clone()),
            ("cid_num", p.caller_id_number.clone()),
            ("ip_addr", String::new()),
            ("dest", p.destination_number.clone()),
            (
                "application",
                app.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            ),
            ("application_data", app.map(|a| a.arg).unwrap_or_default()),
            ("dialplan", "xml".into()),
            ("context", p.context.clone()),
            ("read_codec", codec("L16")),
            ("read_rate", codec("8000")),
            ("read_bit_rate", codec("128000")),
            ("write_codec", codec("L16")),
            ("write_rate", codec("8000")),
            ("write_bit_rate", codec("128000")),
            ("secure", String::new()),
            ("hostname", self.identity.hostname.clone()),
            ("presence_id", String::new()),
            ("presence_data", String::new()),
            ("accountcode", String::new()),
            ("callstate", c.call_state.name().into()),
            ("callee_name", p.callee_id_name.clone()),
            ("callee_num", p.callee_id_number.clone()),
            ("callee_direction", String::new()),
            ("call_uuid", c.call_uuid.clone()),
            ("sent_callee_name", String::new()),
            ("sent_callee_num", String::new()),
            ("initial_cid_name", p.caller_id_name.clone()),
            ("initial_cid_num", p.caller_id_number.clone()),
            ("initial_ip_addr", String::new()),
            ("initial_dest", p.destination_number.clone()),
            ("initial_dialplan", "xml".into()),
            ("initial_context", p.context.clone()),
        ]
    }

    fn call_row(&self, c: &Channel) -> Row {
        let (created, epoch) = created(c);
        let p = &c.profile;
        let b = c.bridged_to.and_then(|b| self.chan(b));
        let bv = |f: &dyn Fn(&Channel) -> String| b.map(f).unwrap_or_default();
        vec![
            ("uuid", c.uuid.clone()),
            ("direction", c.direction.name().into()),
            ("created", created),
            ("created_epoch", epoch.clone()),
            ("name", c.name.clone()),
            ("state", c.running_state.name().into()),
            ("cid_name", p.caller_id_name.clone()),
            ("cid_num", p.caller_id_number.clone()),
            ("ip_addr", String::new()),
            ("dest", p.destination_number.clone()),
            ("presence_id", String::new()),
            ("presence_data", String::new()),
            ("accountcode", String::new()),
            ("callstate", c.call_state.name().into()),
            ("callee_name", p.callee_id_name.clone()),
            ("callee_num", p.callee_id_number.clone()),
            ("callee_direction", String::new()),
            ("call_uuid", String::new()),
            ("hostname", self.identity.hostname.clone()),
            ("sent_callee_name", String::new()),
            ("sent_callee_num", String::new()),
            ("b_uuid", bv(&|b| b.uuid.clone())),
            ("b_direction", bv(&|b| b.direction.name().into())),
            ("b_created", bv(&|b| created_of(b).0)),
            ("b_created_epoch", bv(&|b| created_of(b).1)),
            ("b_name", bv(&|b| b.name.clone())),
            ("b_state", bv(&|b| b.running_state.name().into())),
            ("b_cid_name", bv(&|b| b.profile.caller_id_name.clone())),
            ("b_cid_num", bv(&|b| b.profile.caller_id_number.clone())),
            ("b_ip_addr", String::new()),
            ("b_dest", bv(&|b| b.profile.destination_number.clone())),
            ("b_presence_id", String::new()),
            ("b_presence_data", String::new()),
            ("b_accountcode", String::new()),
            ("b_callstate", bv(&|b| b.call_state.name().into())),
            ("b_callee_name", bv(&|b| b.profile.callee_id_name.clone())),
            ("b_callee_num", bv(&|b| b.profile.callee_id_number.clone())),
            ("b_callee_direction", String::new()),
            ("b_sent_callee_name", String::new()),
            ("b_sent_callee_num", String::new()),
            (
                "call_created_epoch",
                if b.is_some() { epoch } else { String::new() },
            ),
        ]
    }

    /// `show channels|calls [as json|count]`.
    pub(crate) fn show(&self, argv: &[&str]) -> String {
        let what = argv.first().copied().unwrap_or_default();
        let rows: Vec<Row> = match what {
            "channels" => self.live_channels().map(|c| self.channel_row(c)).collect(),
            "calls" => self
                .live_channels()
                // The B side of a bridge is part of its A side's row.
                .filter(|c| {
                    !(c.bridged_to.is_some() && matches!(c.other, Some((OtherType::Originator, _))))
                })
                .map(|c| self.call_row(c))
                .collect(),
            _ => return "-USAGE: show channels|calls [as json|count]\n".into(),
        };
        if argv.get(1) == Some(&"count") {
            return format!("\n{} total.\n", rows.len());
        }
        if rows.is_empty() {
            return "{\"row_count\": 0}\n".into();
        }
        let mut out = format!("{{\"row_count\":{},\"rows\":[", rows.len());
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('{');
            for (j, (k, v)) in row.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                // Strings always serialise.
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                out.push_str(&serde_json::to_string(v).unwrap_or_default());
            }
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

fn created_of(c: &Channel) -> (String, String) {
    created(c)
}
