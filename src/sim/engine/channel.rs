//! One simulated channel: its identity, FreeSWITCH's three state machines (Channel-State,
//! Channel-Call-State, Answer-State), the caller profile, ordered variables, the application
//! stack and its links to other channels.

use std::collections::VecDeque;

use super::clock::Micros;

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

/// `Call-Direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    Inbound,
    Outbound,
}

impl CallDirection {
    pub fn name(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
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

/// Ordered channel variables (FreeSWITCH prints them in insertion order), kept the way events
/// carry them: one buffer of `variable_<name><value>` runs and their spans, so an event copies
/// the whole block in two copies (see `block.rs`) and setting a variable allocates nothing
/// once the buffer has grown.
#[derive(Clone, Default)]
pub struct Vars {
    buf: String,
    spans: Vec<VarSpan>,
}

/// One variable in [`Vars::buf`]: `variable_<name>` is `start..value`, the value `value..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VarSpan {
    pub(crate) start: u32,
    pub(crate) value: u32,
    pub(crate) end: u32,
}

/// Writes variables at the end of a [`Vars`] ([`Vars::append_batch`]).
pub(crate) struct VarWriter<'a> {
    vars: &'a mut Vars,
    any_empty: bool,
}

impl VarWriter<'_> {
    /// The variable `<name><suffix>` whose value `value` writes.
    pub(crate) fn put(&mut self, name: &str, suffix: &str, value: impl FnOnce(&mut String)) {
        let v = &mut *self.vars;
        // Variable blocks are event headers: far below 4 GiB.
        let start = v.buf.len() as u32;
        v.buf.push_str(VAR_PREFIX);
        v.buf.push_str(name);
        v.buf.push_str(suffix);
        let at = v.buf.len() as u32;
        value(&mut v.buf);
        let end = v.buf.len() as u32;
        self.any_empty |= end == at;
        v.spans.push(VarSpan {
            start,
            value: at,
            end,
        });
    }
}

/// The prefix of every variable's header name.
pub(crate) const VAR_PREFIX: &str = "variable_";

/// Two variable lists are equal when they hold the same pairs in the same order.
impl PartialEq for Vars {
    fn eq(&self, other: &Vars) -> bool {
        self.spans.len() == other.spans.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Vars {}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Vars {
    /// A channel's variables: none yet, room for what a loopback channel has when it
    /// reports (2-3 KB, 70-90 variables), so setting them does not grow the buffers.
    pub(crate) fn for_channel() -> Vars {
        Vars {
            buf: String::with_capacity(4096),
            spans: Vec::with_capacity(96),
        }
    }

    fn name_of(&self, s: &VarSpan) -> &str {
        &self.buf[s.start as usize + VAR_PREFIX.len()..s.value as usize]
    }

    fn value_of(&self, s: &VarSpan) -> &str {
        &self.buf[s.value as usize..s.end as usize]
    }

    fn position(&self, name: &str) -> Option<usize> {
        let (buf, name) = (self.buf.as_bytes(), name.as_bytes());
        self.spans.iter().position(|s| {
            let from = s.start as usize + VAR_PREFIX.len();
            s.value as usize - from == name.len() && &buf[from..s.value as usize] == name
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|i| self.value_of(&self.spans[i]))
    }

    /// Sets a variable; an empty value unsets it, as `set name=` does. Like FreeSWITCH (which
    /// deletes the header and adds it at the bottom), a variable set again moves to the end.
    pub fn set(&mut self, name: &str, value: &str) {
        if let Some(i) = self.position(name) {
            self.remove(i);
        }
        if !value.is_empty() {
            self.push(name, value);
        }
    }

    /// [`Vars::set`] for each pair in turn, in one pass over the list (the variables a
    /// channel gets when it reports: about 70 names, most of them new).
    pub fn set_all(&mut self, batch: &[(&str, &str)]) {
        let mut names: Vec<&str> = batch.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            // A name set twice: its last value wins, at its last place.
            for (n, v) in batch {
                self.set(n, v);
            }
            return;
        }
        let again = |vars: &Vars, s: &VarSpan| names.binary_search(&vars.name_of(s)).is_ok();
        if self.spans.iter().any(|s| again(self, s)) {
            let old = std::mem::take(self);
            self.buf.reserve(old.buf.len());
            for s in old.spans.iter().filter(|s| !again(&old, s)) {
                self.push(old.name_of(s), old.value_of(s));
            }
        }
        let bytes: usize = batch
            .iter()
            .map(|(n, v)| VAR_PREFIX.len() + n.len() + v.len())
            .sum();
        self.buf.reserve(bytes);
        self.spans.reserve(batch.len());
        for (n, v) in batch {
            if !v.is_empty() {
                self.push(n, v);
            }
        }
    }

    /// Appends the variables `write` puts, with [`Vars::set`]'s rules as if each had been set
    /// in turn (an earlier variable of the same name goes, an empty value unsets). Written
    /// straight into the buffer; then the variables that go are found (a 4096-bit filter over
    /// the new names, each hit confirmed by comparing names) and removed in place, which for a
    /// reporting channel's ~70 end variables is usually one empty value or none.
    pub(crate) fn append_batch(&mut self, write: impl FnOnce(&mut VarWriter<'_>)) {
        let old = self.spans.len();
        let mut w = VarWriter {
            vars: self,
            any_empty: false,
        };
        write(&mut w);
        let any_empty = w.any_empty;
        if old == self.spans.len() {
            return;
        }
        let mut bits = [0u64; 64];
        let bit = |name: &str| {
            let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            // The top 12 bits: 64 words of 64 bits.
            ((h >> 58) as usize, 1u64 << ((h >> 52) & 63))
        };
        // Indexes of the variables that go: rare, so allocated only when there is one.
        let mut gone: Vec<usize> = Vec::new();
        for j in old..self.spans.len() {
            let name = self.name_of(&self.spans[j]);
            let (word, mask) = bit(name);
            if bits[word] & mask != 0 {
                // A name set earlier in this batch: that earlier one goes (once).
                for i in old..j {
                    if self.name_of(&self.spans[i]) == name && !gone.contains(&i) {
                        gone.push(i);
                    }
                }
            }
            bits[word] |= mask;
            if any_empty && self.spans[j].value == self.spans[j].end {
                gone.push(j);
            }
        }
        for i in 0..old {
            let name = self.name_of(&self.spans[i]);
            let (word, mask) = bit(name);
            if bits[word] & mask != 0 && self.spans[old..].iter().any(|n| self.name_of(n) == name) {
                gone.push(i);
            }
        }
        // Last first, so the spans still to remove keep their places.
        gone.sort_unstable_by(|a, b| b.cmp(a));
        for i in gone {
            self.remove(i);
        }
    }

    /// Removes the variable at `i`, moving the ones after it down.
    fn remove(&mut self, i: usize) {
        let gone = self.spans.remove(i);
        self.buf
            .replace_range(gone.start as usize..gone.end as usize, "");
        let shift = gone.end - gone.start;
        for s in &mut self.spans[i..] {
            s.start -= shift;
            s.value -= shift;
            s.end -= shift;
        }
    }

    fn push(&mut self, name: &str, value: &str) {
        // Variable blocks are event headers: far below 4 GiB.
        let start = self.buf.len() as u32;
        self.buf.push_str(VAR_PREFIX);
        self.buf.push_str(name);
        let at = self.buf.len() as u32;
        self.buf.push_str(value);
        self.spans.push(VarSpan {
            start,
            value: at,
            end: self.buf.len() as u32,
        });
    }

    pub fn is_true(&self, name: &str) -> bool {
        self.get(name).is_some_and(is_true)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans
            .iter()
            .map(|s| (self.name_of(s), self.value_of(s)))
    }

    /// The encoded block: bytes and spans (see [`VarSpan`]).
    pub(crate) fn encoded(&self) -> (&[u8], &[VarSpan]) {
        (self.buf.as_bytes(), &self.spans)
    }
}

/// FreeSWITCH's `switch_true`.
pub fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "enabled" | "active" | "allow" | "1"
    ) || value.parse::<i64>().is_ok_and(|n| n > 0)
}

/// The caller profile (`Caller-*` headers) and its timestamps (wall-clock microseconds, 0 =
/// not yet).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub caller_id_name: String,
    pub caller_id_number: String,
    pub callee_id_name: String,
    pub callee_id_number: String,
    pub destination_number: String,
    pub source: String,
    pub context: String,
    pub created: u64,
    pub answered: u64,
    pub progress: u64,
    pub progress_media: u64,
    pub hangup: u64,
    pub transfer: u64,
    pub bridged: u64,
}

impl Clone for Profile {
    fn clone(&self) -> Profile {
        let mut p = Profile::default();
        p.clone_from(self);
        p
    }

    /// Field by field, reusing this profile's string buffers (the pattern names every field,
    /// so a new one cannot be forgotten here).
    fn clone_from(&mut self, o: &Profile) {
        let Profile {
            caller_id_name,
            caller_id_number,
            callee_id_name,
            callee_id_number,
            destination_number,
            source,
            context,
            created,
            answered,
            progress,
            progress_media,
            hangup,
            transfer,
            bridged,
        } = o;
        self.caller_id_name.clone_from(caller_id_name);
        self.caller_id_number.clone_from(caller_id_number);
        self.callee_id_name.clone_from(callee_id_name);
        self.callee_id_number.clone_from(callee_id_number);
        self.destination_number.clone_from(destination_number);
        self.source.clone_from(source);
        self.context.clone_from(context);
        self.created = *created;
        self.answered = *answered;
        self.progress = *progress;
        self.progress_media = *progress_media;
        self.hangup = *hangup;
        self.transfer = *transfer;
        self.bridged = *bridged;
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
    pub(crate) blocks: super::block::BlockCache,
    /// Set once CHANNEL_DESTROY is sent.
    pub destroyed: bool,
    pub created_at: Micros,
}

impl Channel {
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
