//! One simulated channel: its identity, FreeSWITCH's three state machines (Channel-State,
//! Channel-Call-State, Answer-State), the caller profile, ordered variables, the application
//! stack and its links to other channels.

use std::collections::VecDeque;

use super::clock::Micros;
use super::profile::BlockCache;
pub(crate) use super::profile::Leg;
pub use super::profile::{CallDirection, Profile};
pub(crate) use super::vars::VarWriter;
pub use super::vars::{Vars, is_true};

/// Index of a channel inside the engine (creation order; never reused within a run).
pub type ChanId = u64;

/// `switch_channel_state_t`, with FreeSWITCH's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChannelState {
    New = 0,
    Init = 1,
    Routing = 2,
    SoftExecute = 3,
    Execute = 4,
    ExchangeMedia = 5,
    Park = 6,
    ConsumeMedia = 7,
    Hibernate = 8,
    Reset = 9,
    Hangup = 10,
    Reporting = 11,
    Destroy = 12,
    None = 13,
}

impl ChannelState {
    pub fn name(self) -> &'static str {
        match self {
            ChannelState::New => "CS_NEW",
            ChannelState::Init => "CS_INIT",
            ChannelState::Routing => "CS_ROUTING",
            ChannelState::SoftExecute => "CS_SOFT_EXECUTE",
            ChannelState::Execute => "CS_EXECUTE",
            ChannelState::ExchangeMedia => "CS_EXCHANGE_MEDIA",
            ChannelState::Park => "CS_PARK",
            ChannelState::ConsumeMedia => "CS_CONSUME_MEDIA",
            ChannelState::Hibernate => "CS_HIBERNATE",
            ChannelState::Reset => "CS_RESET",
            ChannelState::Hangup => "CS_HANGUP",
            ChannelState::Reporting => "CS_REPORTING",
            ChannelState::Destroy => "CS_DESTROY",
            ChannelState::None => "CS_NONE",
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// `switch_channel_callstate_t`, with FreeSWITCH's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Down = 0,
    Ringing = 2,
    Early = 3,
    Active = 4,
    Hangup = 7,
}

impl CallState {
    pub fn name(self) -> &'static str {
        match self {
            CallState::Down => "DOWN",
            CallState::Ringing => "RINGING",
            CallState::Early => "EARLY",
            CallState::Active => "ACTIVE",
            CallState::Hangup => "HANGUP",
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// `Answer-State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerState {
    Ringing,
    Early,
    Answered,
    Hangup,
}

impl AnswerState {
    pub fn name(self) -> &'static str {
        match self {
            AnswerState::Ringing => "ringing",
            AnswerState::Early => "early",
            AnswerState::Answered => "answered",
            AnswerState::Hangup => "hangup",
        }
    }
}

/// A hangup cause: FreeSWITCH's name and its number (`switch_call_cause_t`; values up to 127
/// are Q.850 codes and appear as `hangup_cause_q850`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    pub name: &'static str,
    pub code: u16,
}

const CAUSES: &[(&str, u16)] = &[
    ("NONE", 0),
    ("UNALLOCATED_NUMBER", 1),
    ("NO_ROUTE_DESTINATION", 3),
    ("NORMAL_CLEARING", 16),
    ("USER_BUSY", 17),
    ("NO_USER_RESPONSE", 18),
    ("NO_ANSWER", 19),
    ("SUBSCRIBER_ABSENT", 20),
    ("CALL_REJECTED", 21),
    ("DESTINATION_OUT_OF_ORDER", 27),
    ("INVALID_NUMBER_FORMAT", 28),
    ("NORMAL_UNSPECIFIED", 31),
    ("NORMAL_CIRCUIT_CONGESTION", 34),
    ("NETWORK_OUT_OF_ORDER", 38),
    ("NORMAL_TEMPORARY_FAILURE", 41),
    ("SWITCH_CONGESTION", 42),
    ("CHAN_NOT_IMPLEMENTED", 66),
    ("RECOVERY_ON_TIMER_EXPIRE", 102),
    ("ORIGINATOR_CANCEL", 487),
    ("SYSTEM_SHUTDOWN", 701),
    ("LOSE_RACE", 702),
    ("MANAGER_REQUEST", 703),
    ("ALLOTTED_TIMEOUT", 802),
    ("MEDIA_TIMEOUT", 804),
    ("PROGRESS_TIMEOUT", 807),
];

impl Cause {
    pub const NONE: Cause = Cause::new("NONE", 0);
    pub const NORMAL_CLEARING: Cause = Cause::new("NORMAL_CLEARING", 16);
    pub const USER_BUSY: Cause = Cause::new("USER_BUSY", 17);
    pub const NO_ANSWER: Cause = Cause::new("NO_ANSWER", 19);
    pub const UNALLOCATED_NUMBER: Cause = Cause::new("UNALLOCATED_NUMBER", 1);
    pub const NO_ROUTE_DESTINATION: Cause = Cause::new("NO_ROUTE_DESTINATION", 3);
    pub const DESTINATION_OUT_OF_ORDER: Cause = Cause::new("DESTINATION_OUT_OF_ORDER", 27);
    pub const NORMAL_TEMPORARY_FAILURE: Cause = Cause::new("NORMAL_TEMPORARY_FAILURE", 41);
    pub const ORIGINATOR_CANCEL: Cause = Cause::new("ORIGINATOR_CANCEL", 487);
    pub const SYSTEM_SHUTDOWN: Cause = Cause::new("SYSTEM_SHUTDOWN", 701);
    pub const LOSE_RACE: Cause = Cause::new("LOSE_RACE", 702);
    pub const ALLOTTED_TIMEOUT: Cause = Cause::new("ALLOTTED_TIMEOUT", 802);

    const fn new(name: &'static str, code: u16) -> Cause {
        Cause { name, code }
    }

    /// Reads a cause by name (case-insensitive) or by number, as `hangup` and `uuid_kill` do.
    pub fn parse(text: &str) -> Option<Cause> {
        let text = text.trim();
        let by_code = text.parse::<u16>().ok();
        CAUSES
            .iter()
            .find(|(n, c)| n.eq_ignore_ascii_case(text) || by_code == Some(*c))
            .map(|&(name, code)| Cause { name, code })
    }

    /// `hangup_cause_q850`: the code itself for Q.850 causes, NORMAL_CLEARING (16) for
    /// FreeSWITCH's own (`switch_channel_cause_q850`); none for NONE.
    pub fn q850(self) -> Option<u16> {
        match self.code {
            0 => None,
            c if c <= 127 => Some(c),
            _ => Some(16),
        }
    }
}

/// How this channel relates to the channel in its `Other-Leg-*` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherType {
    /// The other channel originated this one (a bridge's B leg).
    Originator,
    /// This channel originated (and is bridged to) the other one.
    Originatee,
}

/// An application invocation: name, argument and the id that ties EXECUTE to EXECUTE_COMPLETE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCall {
    pub name: String,
    pub arg: String,
    /// `Event-UUID` of a `sendmsg` (echoed as `Application-UUID`); generated when absent.
    pub uuid: Option<String>,
    /// Sent with `sendmsg` (sets `current_loop` / `total_loops` like `loops` does).
    pub sendmsg: bool,
}

impl AppCall {
    pub fn new(name: &str, arg: &str) -> AppCall {
        AppCall {
            name: name.to_owned(),
            arg: arg.to_owned(),
            uuid: None,
            sendmsg: false,
        }
    }
}

/// What a running application waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// `park`: until hung up, transferred or a queued command ends it.
    Park,
    /// `sleep` / `playback`: until the timer with this token fires.
    Timer { token: u64 },
    /// `bridge`: until the origination or the bridge with this id ends.
    Bridge { orig: u64 },
    /// `socket`: until the outbound event-socket session ends.
    Socket,
}

/// An application that has started (CHANNEL_EXECUTE sent) and not yet completed.
#[derive(Debug, Clone)]
pub struct Running {
    pub call: AppCall,
    pub app_uuid: String,
    pub wait: Wait,
    /// For playback: the file, reported again on PLAYBACK_STOP.
    pub playback: Option<String>,
}

/// One simulated channel.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: ChanId,
    pub uuid: String,
    pub name: String,
    pub direction: CallDirection,
    /// `Channel-State` (the state the channel's thread runs in).
    pub running_state: ChannelState,
    /// `Channel-State-Number` (the state requested next).
    pub state: ChannelState,
    pub call_state: CallState,
    pub answer_state: AnswerState,
    pub hit_dialplan: bool,
    pub call_uuid: String,
    pub profile: Profile,
    pub vars: Vars,
    pub other: Option<(OtherType, ChanId)>,
    /// The other half of a loopback pair.
    pub loopback_peer: Option<ChanId>,
    /// The channel this one exchanges media with (bridged), if any.
    pub bridged_to: Option<ChanId>,
    pub hangup_cause: Option<Cause>,
    /// Applications started and not completed, innermost last (a `bridge` sent while parked
    /// runs on top of `park`).
    pub stack: Vec<Running>,
    /// Dialplan or originate applications still to run.
    pub program: VecDeque<AppCall>,
    /// `sendmsg` executes waiting for the channel to take them.
    pub queued: VecDeque<AppCall>,
    /// Applications run, for the CDR's `app_log`.
    pub app_log: Vec<(String, String, u64)>,
    /// Pending park timeout (timer token).
    pub park_timer: Option<u64>,
    /// The park timeout passed while an application ran on top of `park` (a `bridge` sent
    /// while parked): `switch_ivr_park` checks its timer only between the commands it runs, so
    /// the channel is hung up with this cause once that application returns.
    pub park_expired: Option<Cause>,
    /// The origination this channel is a leg of, if any.
    pub leg_of: Option<u64>,
    /// The outstanding `originate` api job waiting for this channel to answer.
    pub job: Option<u64>,
    /// The application response (`current_application_response`): cleared when an
    /// application starts, set by the ones that answer (playback); EXECUTE_COMPLETE reports it.
    pub app_response: Option<String>,
    /// A loopback `-a` leg whose own thread has not raised CREATE / ORIGINATE yet.
    pub pending_up: bool,
    /// The far end of a SIP leg (the remote user agent): it runs its behaviour like a loopback
    /// `-b` leg but raises no events and is not visible to api commands.
    pub hidden: bool,
    /// Digits this channel read (`digits_dialed`).
    pub digits: String,
    /// The extension this channel was given when its destination's behaviour is drawn per
    /// call (the CDR shows it instead of the dialplan's representative one).
    pub drawn_extension: Option<Vec<AppCall>>,
    /// Encoded header blocks its events repeat (dropped when the channel is destroyed).
    pub(crate) blocks: BlockCache,
    /// Set once CHANNEL_DESTROY is sent.
    pub destroyed: bool,
    pub created_at: Micros,
}

impl Channel {
    /// What its profile blocks show.
    pub(crate) fn leg(&self) -> Leg<'_> {
        Leg {
            profile: &self.profile,
            name: &self.name,
            uuid: &self.uuid,
            direction: self.direction,
        }
    }

    pub fn is_hungup(&self) -> bool {
        self.hangup_cause.is_some()
    }

    pub fn is_answered(&self) -> bool {
        self.answer_state == AnswerState::Answered
    }

    pub fn is_parked(&self) -> bool {
        self.stack.last().is_some_and(|r| r.wait == Wait::Park)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_keep_order_and_unset_on_empty() {
        let mut v = Vars::default();
        v.set("a", "1");
        v.set("b", "no");
        v.set("a", "3");
        assert_eq!(v.iter().collect::<Vec<_>>(), [("b", "no"), ("a", "3")]);
        v.set("a", "");
        assert_eq!(v.get("a"), None);
        v.set("t", "true");
        v.set("n", "2");
        assert!(v.is_true("t") && v.is_true("n") && !v.is_true("b") && !v.is_true("zz"));
    }

    #[test]
    fn a_batch_sets_like_one_set_after_another() {
        let start = |v: &mut Vars| {
            for (n, val) in [("a", "1"), ("keep", "k"), ("b", "2"), ("c", "3")] {
                v.set(n, val);
            }
        };
        for batch in [
            &[("b", "20"), ("new", "n"), ("a", ""), ("c", "30")][..],
            &[("x", "1"), ("y", "")][..],
            &[("a", "1"), ("z", "2"), ("a", "3")][..],
            &[("a", "1"), ("a", ""), ("a", "2"), ("keep", ""), ("z", "")][..],
            &[("q", ""), ("c", ""), ("b", "4"), ("b", "5"), ("b", "")][..],
            &[][..],
        ] {
            let (mut one, mut all) = (Vars::default(), Vars::default());
            start(&mut one);
            start(&mut all);
            for (n, val) in batch {
                one.set(n, val);
            }
            all.set_all(batch);
            assert_eq!(one, all, "{batch:?}");
            assert_eq!(one.encoded(), all.encoded());
            let mut appended = Vars::default();
            start(&mut appended);
            appended.append_batch(|w| {
                for (n, val) in batch {
                    w.put(n, "", |v| v.push_str(val));
                }
            });
            assert_eq!(one.encoded(), appended.encoded(), "{batch:?}");
        }
    }

    #[test]
    fn causes_by_name_or_number() {
        assert_eq!(Cause::parse("user_busy"), Some(Cause::USER_BUSY));
        assert_eq!(Cause::parse("17"), Some(Cause::USER_BUSY));
        assert_eq!(Cause::parse("NOPE"), None);
        assert_eq!(Cause::LOSE_RACE.q850(), Some(16));
        assert_eq!(Cause::NONE.q850(), None);
        assert_eq!(Cause::NORMAL_CLEARING.q850(), Some(16));
        assert_eq!(ChannelState::ConsumeMedia.number(), 7);
        assert_eq!(CallState::Ringing.number(), 2);
    }
}
