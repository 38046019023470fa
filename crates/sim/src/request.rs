//! What sessions and the [`SimHandle`](crate::SimHandle) ask of the task that owns the engine.

use tokio::sync::oneshot;

use crate::engine::{Engine, Micros};
use parkway_esl::command::SendMsg;

pub(crate) type Any = Box<dyn std::any::Any + Send>;
pub(crate) type EngineFn = Box<dyn FnOnce(&mut Engine) -> Any + Send>;

pub(crate) enum Request {
    Api {
        cmd: String,
        args: String,
        reply: oneshot::Sender<String>,
    },
    BgApi {
        cmd: String,
        args: String,
        job_uuid: Option<String>,
        reply: oneshot::Sender<String>,
    },
    /// Reply: whether the channel exists.
    SendMsg {
        uuid: String,
        msg: SendMsg,
        reply: oneshot::Sender<bool>,
    },
    /// A session sent `event …` (starts a scenario that waits for a subscriber).
    Subscribed,
    OutboundConnected {
        uuid: String,
        conn: Option<u64>,
    },
    OutboundEnded {
        uuid: String,
    },
    /// From the handle: run a closure on the engine; its result is sent once the engine's
    /// output has been handed on.
    With {
        run: EngineFn,
        reply: oneshot::Sender<Any>,
    },
    /// From the handle: move time to `to` (`None`: until no timer is left, within `limit`).
    Advance {
        to: Option<Micros>,
        limit: Micros,
        done: oneshot::Sender<Micros>,
    },
}
