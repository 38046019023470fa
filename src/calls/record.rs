//! What every call leaves behind: its tokens, the decision with its reasons, every attempt with
//! its outcome, talk time, conversion, payout and the fallback used.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::billing::Conversion;
use crate::config::Fallback;
use crate::routing::{Decision, Id};

/// How one buyer leg ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegOutcome {
    /// Still ringing, whispering or talking.
    Pending,
    /// Answered and bridged to the caller.
    Connected,
    /// Answered but not bridged (the caller left during the whisper, or the whisper failed).
    AnsweredNotBridged,
    NoAnswer,
    Busy,
    Rejected,
    /// The endpoint could not be reached (no route, out of order, gateway down, …).
    Unreachable,
    /// Another leg of a simultaneous group answered first.
    LostRace,
    /// The caller hung up while this leg rang.
    Cancelled,
    /// Ended for a reason none of the above names (see the cause).
    Failed,
}

impl LegOutcome {
    /// The outcome of a leg that was never bridged, from its hangup cause.
    pub fn from_cause(cause: &str, answered: bool) -> LegOutcome {
        match cause {
            "LOSE_RACE" => LegOutcome::LostRace,
            // A leg that answered was whispering when the caller left (FreeSWITCH cancels it
            // with ORIGINATOR_CANCEL too): the buyer picked up, so it is not a plain cancel.
            _ if answered => LegOutcome::AnsweredNotBridged,
            "ORIGINATOR_CANCEL" => LegOutcome::Cancelled,
            "NO_ANSWER"
            | "ALLOTTED_TIMEOUT"
            | "PROGRESS_TIMEOUT"
            | "NO_USER_RESPONSE"
            | "RECOVERY_ON_TIMER_EXPIRE" => LegOutcome::NoAnswer,
            "USER_BUSY" | "NORMAL_CIRCUIT_CONGESTION" | "SWITCH_CONGESTION" => LegOutcome::Busy,
            "CALL_REJECTED" | "USER_NOT_REGISTERED" | "SUBSCRIBER_ABSENT" => LegOutcome::Rejected,
            "DESTINATION_OUT_OF_ORDER"
            | "NO_ROUTE_DESTINATION"
            | "UNALLOCATED_NUMBER"
            | "CHAN_NOT_IMPLEMENTED"
            | "NETWORK_OUT_OF_ORDER"
            | "INVALID_GATEWAY"
            | "GATEWAY_DOWN"
            | "INVALID_NUMBER_FORMAT" => LegOutcome::Unreachable,
            _ => LegOutcome::Failed,
        }
    }
}

/// One buyer leg dialled for the call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub buyer: Id,
    /// The group step it was dialled in, if any.
    pub group: Option<Id>,
    /// The plan step (1-based).
    pub step: u32,
    pub leg_uuid: String,
    pub dialled_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub bridged_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub hangup_cause: Option<String>,
    pub outcome: LegOutcome,
}

/// Why the call ended where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Bridged to a buyer.
    Connected,
    /// Nothing was dialled or every step failed: the router's fallback ran.
    Fallback,
    /// The caller left before any buyer was bridged.
    Abandoned,
    /// The daemon could not act on the call (a refused command, a lost connection).
    Failed,
}

/// Why the fallback ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// The decision had no eligible buyer.
    NothingEligible,
    /// Every dialled step failed and nobody eligible was left.
    AllStepsFailed,
    /// The router's wait budget ran out.
    WaitBudgetSpent,
}

/// The fallback a call got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FallbackUsed {
    pub reason: FallbackReason,
    #[serde(flatten)]
    pub action: Fallback,
}

/// A duplicate rule that applied to the connected buyer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateNote {
    pub scope: crate::routing::duplicate::DuplicateScope,
    pub previous_at: DateTime<Utc>,
    pub window_secs: u64,
}

/// The record of one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// The caller channel's uuid.
    pub call: String,
    pub router: Id,
    pub caller: Option<String>,
    pub destination: Option<String>,
    /// The channel variables the call was routed on.
    pub tokens: BTreeMap<String, String>,
    pub parked_at: DateTime<Utc>,
    /// The first decision, with a reason for every buyer left out.
    pub decision: Decision,
    pub attempts: Vec<Attempt>,
    /// The buyer the caller talked to.
    pub connected: Option<Id>,
    pub bridged_at: Option<DateTime<Utc>>,
    /// Seconds from the bridge to the first hangup (the whisper is not counted); when the
    /// caller was transferred out of the bridge ([`CallRecord::transferred_at`]), to the
    /// caller's hangup.
    pub talk_secs: u64,
    /// When the caller was transferred out of the bridge (a buyer's blind transfer, SIP REFER,
    /// or `uuid_transfer`), read from the caller's `transfer_history`: the caller stayed on the
    /// line with someone else, so the talk time runs until the caller hangs up (as Ringba and
    /// TrackDrive count a call the buyer transfers), not until the buyer's leg goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transferred_at: Option<DateTime<Utc>>,
    pub conversion: Option<Conversion>,
    /// Minor units of the config's currency.
    pub payout: i64,
    /// Set when a duplicate rule cut the payout.
    pub duplicate: Option<DuplicateNote>,
    pub fallback: Option<FallbackUsed>,
    pub disposition: Disposition,
    pub ended_at: Option<DateTime<Utc>>,
    pub caller_hangup_cause: Option<String>,
    /// Notes on anything unusual (a refused command, a reconcile after a reconnect).
    pub notes: Vec<String>,
}

impl CallRecord {
    /// The record of a call just taken on `router`: nothing decided, dialled or paid yet.
    pub fn new(
        call: &str,
        router: Id,
        algorithm: crate::routing::decision::Algorithm,
        caller: Option<String>,
        destination: Option<String>,
        tokens: BTreeMap<String, String>,
        parked_at: DateTime<Utc>,
    ) -> CallRecord {
        CallRecord {
            call: call.to_owned(),
            router: router.clone(),
            caller,
            destination,
            tokens,
            parked_at,
            decision: Decision {
                router,
                algorithm,
                plan: Vec::new(),
                left_out: Vec::new(),
            },
            attempts: Vec::new(),
            connected: None,
            bridged_at: None,
            talk_secs: 0,
            transferred_at: None,
            conversion: None,
            payout: 0,
            duplicate: None,
            fallback: None,
            disposition: Disposition::Abandoned,
            ended_at: None,
            caller_hangup_cause: None,
            notes: Vec::new(),
        }
    }
}

/// Records for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A finished record of `call` that dialled `buyer`.
    pub(crate) fn record(call: &str, parked_at: DateTime<Utc>, buyer: &str) -> CallRecord {
        let mut r = CallRecord::new(
            call,
            Id::new("r1"),
            crate::routing::decision::Algorithm::Tier,
            Some("+15551230000".into()),
            None,
            BTreeMap::new(),
            parked_at,
        );
        r.attempts.push(Attempt {
            buyer: Id::new(buyer),
            group: None,
            step: 1,
            leg_uuid: format!("{call}-leg"),
            dialled_at: parked_at,
            answered_at: None,
            bridged_at: None,
            ended_at: Some(parked_at),
            hangup_cause: Some("NO_ANSWER".into()),
            outcome: LegOutcome::NoAnswer,
        });
        r.ended_at = Some(parked_at);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_map_to_outcomes() {
        assert_eq!(
            LegOutcome::from_cause("LOSE_RACE", true),
            LegOutcome::LostRace
        );
        assert_eq!(
            LegOutcome::from_cause("NO_ANSWER", false),
            LegOutcome::NoAnswer
        );
        assert_eq!(LegOutcome::from_cause("USER_BUSY", false), LegOutcome::Busy);
        assert_eq!(
            LegOutcome::from_cause("ORIGINATOR_CANCEL", false),
            LegOutcome::Cancelled
        );
        // The caller left during the whisper: the buyer had answered.
        assert_eq!(
            LegOutcome::from_cause("ORIGINATOR_CANCEL", true),
            LegOutcome::AnsweredNotBridged
        );
        assert_eq!(
            LegOutcome::from_cause("NORMAL_CLEARING", true),
            LegOutcome::AnsweredNotBridged
        );
        assert_eq!(
            LegOutcome::from_cause("CHAN_NOT_IMPLEMENTED", false),
            LegOutcome::Unreachable
        );
        assert_eq!(LegOutcome::from_cause("WEIRD", false), LegOutcome::Failed);
    }
}
