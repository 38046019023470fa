//! api replies, `show` columns, the outbound `connect` data and the JSON CDRs.

use bytes::BytesMut;
use parkway_esl::codec::EslCodec;
use parkway_esl::event::Event;
use parkway_esl::message::Message;
use parkway_sim::engine::Engine;
use parkway_sim::engine::EngineConfig;
use tokio_util::codec::Decoder;

use super::capture::{api_bodies, data, real_events};
use super::replay::replay_full;
use super::roles::roles_of;

/// The shape of a JSON document: object keys (recursively), the first element of arrays.
pub(crate) fn shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        _ => Value::Null,
    }
}

#[test]
fn json_cdrs_have_mod_json_cdr_shape() {
    let cdrs = replay_full("inbound_plain", 1).cdrs;
    assert_eq!(cdrs.len(), 4, "one CDR per channel");
    for (real_file, chan, prefix) in [
        (
            "a_44405c6c-4a87-499c-8d43-55c530c0583b.cdr.json",
            "loopback/18005550199-b",
            "a_",
        ),
        (
            "2073a403-7f1b-4f0e-a65b-c27f13630d40.cdr.json",
            "loopback/answer_dtmf-a",
            "",
        ),
    ] {
        let real: serde_json::Value = serde_json::from_slice(
            &std::fs::read(data(&format!("json_cdr/{real_file}"))).expect("cdr"),
        )
        .expect("json");
        let sim = cdrs
            .iter()
            .find(|d| d["cdr"]["callflow"][0]["caller_profile"]["chan_name"] == chan)
            .unwrap_or_else(|| panic!("no CDR for {chan}"));
        let file = sim["file"].as_str().unwrap_or_default();
        assert!(
            file.starts_with(prefix) && file.ends_with(".cdr.json"),
            "{file}"
        );
        let sim = &sim["cdr"];
        let mut real_shape = shape(&real);
        let mut sim_shape = shape(sim);
        let real_vars = real_shape["variables"].take();
        let sim_vars = sim_shape["variables"].take();
        assert_eq!(sim_shape, real_shape, "{chan}: document shape");
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            k.sort();
            k
        };
        assert_eq!(keys(&sim_vars), keys(&real_vars), "{chan}: variable names");
        for field in [
            "hangup_cause",
            "originate_disposition",
            "bridge_hangup_cause",
            "sip_h_X-Campaign",
            "billsec",
        ] {
            assert_eq!(
                sim["variables"][field], real["variables"][field],
                "{chan}: {field}"
            );
        }
    }
}

pub(crate) fn columns(body: &str) -> Vec<String> {
    // serde_json's map is sorted, so read the first row's keys in order by hand.
    let row = body.split("\"rows\":[{").nth(1).unwrap_or_default();
    let row = row.split('}').next().unwrap_or_default();
    row.split(",\"")
        .filter_map(|kv| kv.trim_start_matches('"').split("\":").next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn show_channels_and_calls_have_freeswitch_columns() {
    let real = api_bodies("show_channels");
    let real_channels = real
        .iter()
        .find(|b| b.contains("\"initial_context\""))
        .expect("channels");
    let real_calls = real
        .iter()
        .find(|b| b.contains("\"b_uuid\""))
        .expect("calls");
    let mut e = Engine::new(EngineConfig::default());
    assert_eq!(e.api("show", "channels as json"), "{\"row_count\": 0}\n");
    assert_eq!(e.api("show", "channels as json"), real[0]);
    let call =
        parkway_sim::engine::api::InboundCall::new("+13055550120", "Maria Lopez", "18005550199");
    e.inbound_call(&call);
    let c = e.inbound_call(&call);
    e.sendmsg_execute(&c.parked, "bridge", "loopback/slow_hangup/buyers", None)
        .expect("bridge");
    let channels = e.api("show", "channels as json");
    let calls = e.api("show", "calls as json");
    assert_eq!(columns(&channels), columns(real_channels));
    assert_eq!(columns(&calls), columns(real_calls));
    assert!(channels.starts_with("{\"row_count\":6,") && !channels.ends_with('\n'));
    assert!(calls.starts_with("{\"row_count\":5,"), "{calls}");
    assert_eq!(e.api("show", "channels count"), "\n6 total.\n");
}

#[test]
fn outbound_socket_request_and_connect_data() {
    // The real connect reply: channel data, then the reply's own headers.
    let bytes = std::fs::read(data("outbound_plain.recv")).expect("capture");
    let mut codec = EslCodec::new();
    let mut buf = BytesMut::from(&bytes[..]);
    let mut real_names = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("frames") {
        if let Message::CommandReply(r) = Message::from_frame(frame).expect("message") {
            real_names = r
                .headers
                .iter()
                .map(|(n, _)| n.to_owned())
                .filter(|n| !n.starts_with("variable_"))
                .take_while(|n| n != "Content-Type")
                .collect();
            break;
        }
    }
    let mut e = Engine::new(EngineConfig::default());
    let c = e.inbound_call(&parkway_sim::engine::api::InboundCall::new(
        "+13055550123",
        "Maria Lopez",
        "socket_8084",
    ));
    let requests = e.take_outbound_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uuid, c.parked);
    assert_eq!(requests[0].address, "127.0.0.1:8084");
    assert!(requests[0].async_mode && requests[0].full);
    let data = e.channel_data(&c.parked).expect("channel data");
    let names: Vec<String> = data
        .headers()
        .iter()
        .map(|(n, _)| n.to_owned())
        .filter(|n| !n.starts_with("variable_"))
        .collect();
    assert_eq!(names, real_names);
    assert_eq!(
        data.header("Channel-Channel-Name").as_deref(),
        Some("loopback/socket_8084-b")
    );
    e.sendmsg_execute(&c.parked, "answer", "", None)
        .expect("answer");
    e.outbound_closed(&c.parked).expect("closed");
    let events = e.take_events();
    assert!(
        events
            .iter()
            .any(|ev| ev.application().as_deref() == Some("socket")
                && ev.name() == "CHANNEL_EXECUTE_COMPLETE")
    );
    assert_eq!(
        e.live_channels().count(),
        0,
        "nothing left in the dialplan: hung up"
    );
}

/// `api` replies with Unique-IDs replaced by roles and the uptime of `status` left out.
pub(crate) fn comparable_replies(replies: &[String], events: &[Event]) -> Vec<String> {
    let roles = roles_of(events);
    replies
        .iter()
        .map(|r| {
            let mut r = r.clone();
            for (u, role) in roles.iter().filter(|(u, _)| !u.contains(' ')) {
                r = r.replace(u, role);
            }
            match r.strip_prefix("UP ") {
                Some(_) => "UP (uptime)".into(),
                None => r,
            }
        })
        .collect()
}

/// Every `api` command of a scenario gets the reply FreeSWITCH gave (uuids as roles).
#[test]
fn api_replies_match() {
    let mut compared = 0;
    for name in [
        "inbound_plain",
        "inbound_json",
        "sip_leg",
        "dtmf_variants",
        "group_simultaneous",
        "group_sequential",
        "all_fail",
        "caller_abandon",
        "originate_uuid_bridge",
        "uuid_bridge_unanswered",
    ] {
        let sim = replay_full(name, 1);
        let real = comparable_replies(&api_bodies(name), &real_events(name));
        let got = comparable_replies(&sim.api, &sim.events);
        assert_eq!(got, real, "{name}");
        compared += real.len();
    }
    assert!(compared > 10, "only {compared} replies compared");
}
