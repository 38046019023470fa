//! The state of one dial-string run: its legs, where it is in the groups and branches, the
//! causes collected for `originate_causes`, and the job waiting for it (originate api).

use parkway_esl::dialstring::DialString;

use super::channel::{AppCall, Cause, ChanId};

/// An `originate` api job waiting for its result.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub uuid: String,
    pub command: String,
    pub arg: String,
    /// What the answered leg runs (`&park()`, `&sleep(…)`).
    pub then: Vec<AppCall>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegState {
    Ringing,
    Confirming,
    Failed(Cause),
    Won,
}

#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) chan: ChanId,
    /// `group_confirm_key=exec`: the application line to run on answer, and whether the
    /// timeouts stop while it runs (`group_confirm_cancel_timeout`).
    pub(crate) confirm: Option<(String, bool)>,
    pub(crate) uuid: String,
    pub(crate) context: String,
    pub(crate) state: LegState,
    pub(crate) timer: Option<u64>,
}

/// One run of a dial string.
#[derive(Debug, Clone)]
pub(crate) struct Origination {
    pub(crate) owner: Option<ChanId>,
    pub(crate) job: Option<Job>,
    pub(crate) dial: DialString,
    pub(crate) branch: usize,
    pub(crate) group: usize,
    pub(crate) legs: Vec<Attempt>,
    pub(crate) causes: Vec<String>,
    pub(crate) originated: Vec<String>,
    pub(crate) done: bool,
    pub(crate) timeout: Option<u64>,
    pub(crate) last_cause: Cause,
}

pub(crate) fn dialstatus(cause: Cause) -> &'static str {
    match cause.name {
        "USER_BUSY" => "BUSY",
        "NO_ANSWER" | "NO_USER_RESPONSE" => "NOANSWER",
        "ORIGINATOR_CANCEL" => "CANCEL",
        other => other,
    }
}

pub(crate) fn array(items: &[String]) -> String {
    if items.len() == 1 {
        items[0].clone()
    } else {
        format!("ARRAY::{}", items.join("|:"))
    }
}

impl Origination {
    pub(crate) fn new(owner: Option<ChanId>, job: Option<Job>, dial: DialString) -> Origination {
        Origination {
            owner,
            job,
            dial,
            branch: 0,
            group: 0,
            legs: Vec::new(),
            causes: Vec::new(),
            originated: Vec::new(),
            done: false,
            timeout: None,
            last_cause: Cause::NO_ANSWER,
        }
    }

    /// Appends every leg of the current group (ringing ones too), for a preview.
    pub(crate) fn record_all(&mut self) {
        for leg in &mut self.legs {
            if matches!(leg.state, LegState::Ringing | LegState::Confirming) {
                leg.state = LegState::Failed(Cause::NONE);
            }
        }
        self.record_group();
    }

    /// Appends the finished group's legs to `originate_causes` / `originated_legs`.
    pub(crate) fn record_group(&mut self) {
        for leg in self.legs.drain(..) {
            let cause = match leg.state {
                LegState::Won => "NONE",
                LegState::Failed(c) => c.name,
                LegState::Ringing | LegState::Confirming => continue,
            };
            self.causes.push(format!("{};{cause}", leg.uuid));
            self.originated
                .push(format!("{};Outbound Call;{}", leg.uuid, leg.context));
        }
    }
}
