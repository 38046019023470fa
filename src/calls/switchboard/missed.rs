//! Parks that happened while the event socket was down: no CHANNEL_PARK will ever come for
//! them, so the reconcile after the reconnect finds them in `show channels` and routes them.

use super::*;

/// A parked inbound channel the reconcile found (`show channels as json`: `direction` inbound,
/// `application` park; a parked caller shows `state` CS_EXECUTE and `callstate` RINGING, see
/// the `show_channels` capture) with the channel variables a park needs, read one by one with
/// `uuid_getvar` (`show channels` has no variables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MissedPark {
    pub uuid: String,
    /// `cid_num`, `cid_name`, `dest`.
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    /// `created_epoch`: when the channel was made (the park came a little later).
    pub created: Option<DateTime<Utc>>,
    /// Set variables only (`_undef_` and errors left out).
    pub vars: Vec<(String, String)>,
}

impl Switchboard {
    /// The channel variables a park is read for: the routing tokens, the markers of our own
    /// legs and the caller's `set`s (`uuid_getvar` each, for a park found by the reconcile).
    pub fn park_variables(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.record_tokens.clone();
        names.extend(
            [
                "parkway_call",
                "parkway_buyer",
                crate::calls::dial::LOOP_MARKER,
                // Not `park_timeout`: `park` took it off the channel (`_undef_`).
                super::route::PARK_TIMEOUT_VAR,
                "hangup_after_bridge",
                "continue_on_fail",
                "ringback",
            ]
            .map(str::to_owned),
        );
        names.into_iter().collect()
    }

    /// Routes the parks the reconcile found that the switchboard does not know (a call or a
    /// leg it knows, or a park of one of our own legs, is left alone as a live CHANNEL_PARK
    /// would be). The wait budget counts from the channel's creation.
    pub fn missed_parks(&mut self, parks: Vec<MissedPark>, now: DateTime<Utc>) -> Vec<Action> {
        let now = self.switch_time(now);
        let mut out = Vec::new();
        for park in parks {
            if self.calls.contains_key(&park.uuid)
                || self.legs.contains_key(&park.uuid)
                || self.done.1.contains(&park.uuid)
            {
                // Known, or finished (or left alone) since `show channels` listed it.
                continue;
            }
            let mut pairs: Vec<(String, String)> = vec![
                ("Event-Name".into(), "CHANNEL_PARK".into()),
                ("Unique-ID".into(), park.uuid.clone()),
                ("Call-Direction".into(), "inbound".into()),
                ("Caller-Caller-ID-Number".into(), park.caller_number),
                ("Caller-Caller-ID-Name".into(), park.caller_name),
                ("Caller-Destination-Number".into(), park.destination),
            ];
            pairs.retain(|(_, v)| !v.is_empty());
            pairs.extend(
                park.vars
                    .into_iter()
                    .map(|(k, v)| (format!("variable_{k}"), v)),
            );
            let ev = Event::new(
                parkway_esl::headers::Headers::from_pairs(
                    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ),
                None,
            );
            self.totals.missed_parks += 1;
            tracing::info!(
                call.uuid = %park.uuid,
                "parked while the socket was down; routed by the reconcile"
            );
            let parked_at = park.created.map_or(now, |c| c.min(now));
            self.on_park_at(&ev, &park.uuid, parked_at, now, &mut out);
            if let Some(call) = self.calls.get_mut(&park.uuid) {
                call.record.notes.push(
                    "parked while the socket was down: found and routed by the reconcile".into(),
                );
            }
        }
        out
    }
}
