//! `uuid_bridge <a> <b>`: both channels leave what they run (a parked leg is unparked), go
//! through CS_HIBERNATE, CS_RESET and CS_SOFT_EXECUTE, and are bridged; `a` returns to its
//! dialplan when the bridge ends (with nothing left, it hangs up). When `a` has no media yet
//! (never answered nor pre-answered), FreeSWITCH cannot bridge: `a` dies with
//! DESTINATION_OUT_OF_ORDER and `b` with ORIGINATOR_CANCEL (`uuid_bridge_unanswered`).

use super::channel::{AnswerState, AppCall, Cause, ChannelState, OtherType, Running, Wait};
use super::headers::{Extra, Origin};
use super::{Engine, EngineError};

const ON_SOFT_EXECUTE_A: Origin =
    Origin("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236);
const ON_SOFT_EXECUTE_B: Origin =
    Origin("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1243);

/// The application name a uuid_bridge shows on its CHANNEL_EXECUTE (it never completes).
pub(crate) const UUID_BRIDGE: &str = "uuid_bridge";

impl Engine {
    pub(crate) fn uuid_bridge(&mut self, a_uuid: &str, b_uuid: &str) -> Result<(), EngineError> {
        let a = self.id_of(a_uuid).ok_or(EngineError::NoSuchChannel)?;
        let b = self.id_of(b_uuid).ok_or(EngineError::NoSuchChannel)?;
        if a == b {
            return Err(EngineError::Invalid(
                "cannot bridge a channel to itself".into(),
            ));
        }
        self.link_other(a, b, OtherType::Originatee);
        self.link_other(b, a, OtherType::Originator);
        for id in [a, b] {
            while let Some(r) = self.chan_mut(id).and_then(|c| c.stack.pop()) {
                self.unwind_app(id, r);
            }
            if let Some(c) = self.chan_mut(id) {
                c.program.clear();
                c.park_expired = None;
                if let Some(t) = c.park_timer.take() {
                    self.cancel_timer(t);
                }
            }
            for state in [
                ChannelState::Hibernate,
                ChannelState::Reset,
                ChannelState::SoftExecute,
            ] {
                self.set_state(id, state);
            }
        }
        let no_media = self
            .chan(a)
            .is_some_and(|c| c.answer_state == AnswerState::Ringing);
        if no_media {
            self.hangup(a, Cause::DESTINATION_OUT_OF_ORDER);
            self.hangup(b, Cause::ORIGINATOR_CANCEL);
            return Ok(());
        }
        let app_uuid = self.rng.uuid_v4();
        let execute = |data: &str| {
            Extra::default()
                .post("Application", UUID_BRIDGE)
                .post("Application-Data", data.to_owned())
        };
        self.emit("CHANNEL_EXECUTE", a, ON_SOFT_EXECUTE_A, execute(b_uuid));
        self.emit("CHANNEL_EXECUTE", b, ON_SOFT_EXECUTE_B, execute(a_uuid));
        self.set_state(b, ChannelState::ConsumeMedia);
        if let Some(c) = self.chan_mut(a) {
            c.stack.push(Running {
                call: AppCall::new(UUID_BRIDGE, b_uuid),
                app_uuid,
                wait: Wait::Bridge { orig: 0 },
                playback: None,
            });
        }
        self.bridge_pair(a, b);
        Ok(())
    }
}
