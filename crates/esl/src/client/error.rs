//! What can go wrong talking to the event socket, as one typed enum.

use std::sync::Arc;

use crate::codec::CodecError;
use crate::command::CommandError;
use crate::message::DisconnectNotice;

/// Errors of the event-socket client. Cheap to clone (I/O and codec errors are shared), so one
/// connection failure can be handed to every caller that was waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EslError {
    /// Socket I/O failed: the TCP connection could not be opened, the listener could not
    /// accept, or a read or write failed.
    #[error("socket: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// A step did not finish in time: the handshake (auth, or outbound `connect`), or a
    /// supervisor's subscriptions or heartbeat.
    #[error("{stage} timed out")]
    Timeout {
        /// Which step: `connect and auth`, `connect`, `subscribe` or `heartbeat`.
        stage: &'static str,
    },
    /// `auth` was answered `-ERR invalid`: the password is wrong.
    #[error("authentication failed: {reply}")]
    AuthFailed {
        /// The `Reply-Text` (`-ERR invalid`).
        reply: String,
    },
    /// `text/rude-rejection`: FreeSWITCH's ACL refused this address.
    #[error("rejected by FreeSWITCH: {text}")]
    Rejected {
        /// The rejection's body (`Access Denied, go away.`).
        text: String,
    },
    /// A `text/disconnect-notice` arrived where an answer was expected.
    #[error("FreeSWITCH sent a disconnect notice (linger: {})", notice.linger)]
    DisconnectNotice {
        /// The notice.
        notice: Box<DisconnectNotice>,
    },
    /// The handshake saw a message it cannot take the next step with.
    #[error("handshake: expected {expected}, got {got}")]
    Handshake {
        /// What the handshake waited for (`auth/request`, `command/reply to auth`, …).
        expected: &'static str,
        /// The kind of message that came instead ([`Message::kind`]).
        ///
        /// [`Message::kind`]: crate::message::Message::kind
        got: &'static str,
    },
    /// FreeSWITCH refused a command (`-ERR …` in a `command/reply`).
    #[error("command refused: {reply}")]
    CommandFailed {
        /// The `Reply-Text` (`-ERR invalid session id [...]`, `-ERR command not found`, …).
        reply: String,
    },
    /// No BACKGROUND_JOB came for job `job_uuid` within `after` (BACKGROUND_JOB not
    /// subscribed, filtered out, or the job is still running). The job is forgotten; the
    /// connection is fine.
    #[error("no result for background job {job_uuid} within {after:?}")]
    JobTimeout {
        /// The job's `Job-UUID`.
        job_uuid: String,
        /// The limit that ran out: [`ClientOptions::job_timeout`], or the one given to
        /// [`BackgroundJob::result_within`].
        ///
        /// [`ClientOptions::job_timeout`]: crate::client::ClientOptions::job_timeout
        /// [`BackgroundJob::result_within`]: crate::client::BackgroundJob::result_within
        after: std::time::Duration,
    },
    /// The connection is gone (EOF, I/O error, protocol out of step, shutdown): the call was not
    /// answered and never will be. The reason is in [`crate::client::CloseReason`].
    #[error("connection to FreeSWITCH lost")]
    Disconnected,
    /// The byte stream could not be framed.
    #[error("framing: {0}")]
    Codec(#[source] Arc<CodecError>),
    /// A reply arrived that no command was waiting for, or of the wrong kind: the stream is out
    /// of step and the connection is failed.
    #[error("protocol out of step: {detail}")]
    OutOfStep {
        /// What arrived (`command/reply with no command waiting`, …).
        detail: &'static str,
    },
    /// A command could not be built (a line break in an argument would inject a command).
    #[error("invalid command: {0}")]
    InvalidCommand(#[from] CommandError),
}

impl From<std::io::Error> for EslError {
    fn from(e: std::io::Error) -> EslError {
        EslError::Io(Arc::new(e))
    }
}

impl From<CodecError> for EslError {
    fn from(e: CodecError) -> EslError {
        match e {
            CodecError::Io(io) => EslError::Io(Arc::new(io)),
            other => EslError::Codec(Arc::new(other)),
        }
    }
}
