//! What a frame from FreeSWITCH means, by its `Content-Type`.

use bytes::Bytes;

use super::codec::Frame;
use super::event::{Event, EventError};
use super::headers::Headers;

/// A message from FreeSWITCH. Frames of a type parkway does not know are kept as `Unknown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `auth/request`: the inbound socket asks for a password.
    AuthRequest,
    /// `command/reply`: the answer to a command (`Reply-Text`, sometimes `Job-UUID`, and in
    /// outbound mode the channel's data in its headers).
    CommandReply(Reply),
    /// `api/response`: the output of an `api` command (may not end with a newline).
    ApiResponse(Bytes),
    /// `text/event-plain` or `text/event-json`.
    Event(Event),
    /// `log/data`: a log line, sent after a `log <level>` command until `nolog`.
    LogData {
        /// The frame's outer headers (`Log-Level`, `Log-File`, `Log-Line`, … where FreeSWITCH
        /// sends them).
        headers: Headers,
        /// The log line's text.
        body: Bytes,
    },
    /// `text/disconnect-notice`: the socket is about to close, or (linger) the channel hung up and
    /// the socket stays open to deliver the last events.
    Disconnect(DisconnectNotice),
    /// `text/rude-rejection`: the ACL refused this client's address.
    RudeRejection(Bytes),
    /// Anything else, kept whole.
    Unknown(Frame),
}

/// A `command/reply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The frame's headers, values decoded: `Reply-Text`, `Job-UUID` after `bgapi`, and the
    /// channel's data after an outbound `connect`.
    pub headers: Headers,
}

impl Reply {
    /// The decoded `Reply-Text`, without its trailing newline (`+OK accepted`, `-ERR invalid`).
    pub fn text(&self) -> String {
        self.headers
            .get("Reply-Text")
            .map(|t| t.trim_end_matches('\n').to_owned())
            .unwrap_or_default()
    }

    /// Whether `Reply-Text` starts with `+OK` (anything else, `-ERR …` mostly, is a refusal).
    pub fn is_ok(&self) -> bool {
        self.text().starts_with("+OK")
    }

    /// The `Job-UUID` header of a `bgapi` reply (`+OK Job-UUID: <uuid>`).
    pub fn job_uuid(&self) -> Option<String> {
        self.headers.get("Job-UUID").map(|v| v.into_owned())
    }
}

/// A `text/disconnect-notice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisconnectNotice {
    /// `Content-Disposition: linger`: the socket stays open for the channel's last events.
    pub linger: bool,
    /// `Linger-Time` in seconds; -1 means until the client leaves.
    pub linger_time: Option<i64>,
    /// All the notice's headers (`Controlled-Session-UUID`, `Channel-Name`, … in outbound
    /// mode).
    pub headers: Headers,
    /// The notice's text, if any (`Disconnected, goodbye.` and a line about ClueCon on the
    /// final notice; `None` on a linger notice, which has `Content-Length: 0`).
    pub body: Option<Bytes>,
}

/// Why a frame could not be read as the message its type announced.
#[derive(Debug, thiserror::Error)]
#[error("frame at byte {offset} ({content_type}): {source}")]
pub struct MessageError {
    /// Byte offset of the frame's first byte in the stream.
    pub offset: u64,
    /// The frame's `Content-Type` (`text/event-plain` or `text/event-json`).
    pub content_type: String,
    /// Why the event in its body could not be read.
    #[source]
    pub source: EventError,
}

impl Message {
    /// Classifies a frame by its `Content-Type` and parses events.
    pub fn from_frame(frame: Frame) -> Result<Message, MessageError> {
        let content_type = frame.content_type().unwrap_or_default().into_owned();
        let body = frame.body.clone().unwrap_or_default();
        let event = |parsed: Result<Event, EventError>| {
            parsed.map(Message::Event).map_err(|source| MessageError {
                offset: frame.offset,
                content_type: content_type.clone(),
                source,
            })
        };
        match content_type.as_str() {
            "auth/request" => Ok(Message::AuthRequest),
            "command/reply" => Ok(Message::CommandReply(Reply {
                headers: frame.headers,
            })),
            "api/response" => Ok(Message::ApiResponse(body)),
            "text/event-plain" => event(Event::parse_plain(body)),
            "text/event-json" => event(Event::parse_json(&body)),
            "log/data" => Ok(Message::LogData {
                headers: frame.headers,
                body,
            }),
            "text/disconnect-notice" => {
                let linger = frame.headers.get("Content-Disposition").as_deref() == Some("linger");
                let linger_time = frame
                    .headers
                    .get("Linger-Time")
                    .and_then(|t| t.trim().parse().ok());
                Ok(Message::Disconnect(DisconnectNotice {
                    linger,
                    linger_time,
                    headers: frame.headers,
                    body: frame.body,
                }))
            }
            "text/rude-rejection" => Ok(Message::RudeRejection(body)),
            _ => Ok(Message::Unknown(frame)),
        }
    }

    /// A short name of the kind, as `parkway esl decode` prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::AuthRequest => "auth_request",
            Message::CommandReply(_) => "command_reply",
            Message::ApiResponse(_) => "api_response",
            Message::Event(_) => "event",
            Message::LogData { .. } => "log_data",
            Message::Disconnect(_) => "disconnect_notice",
            Message::RudeRejection(_) => "rude_rejection",
            Message::Unknown(_) => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::EslCodec;
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    fn messages(wire: &[u8]) -> Vec<Message> {
        let mut codec = EslCodec::new();
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).expect("test input") {
            out.push(Message::from_frame(frame).expect("test input"));
        }
        out
    }

    #[test]
    fn linger_and_final_disconnect_notices() {
        let m = messages(b"Content-Type: text/disconnect-notice\nContent-Disposition: linger\nLinger-Time: -1\nContent-Length: 0\n\nContent-Type: text/disconnect-notice\nContent-Disposition: disconnect\nContent-Length: 4\n\nbye\n");
        let [Message::Disconnect(a), Message::Disconnect(b)] = &m[..] else {
            panic!("{m:?}")
        };
        assert!(a.linger);
        assert_eq!(a.linger_time, Some(-1));
        assert!(!b.linger);
        assert_eq!(b.body.as_deref(), Some(&b"bye\n"[..]));
    }

    #[test]
    fn outbound_reply_text_is_decoded() {
        let m = messages(b"Content-Type: command/reply\nReply-Text: %2BOK%0A\nUnique-ID: u\n\n");
        let [Message::CommandReply(r)] = &m[..] else {
            panic!("{m:?}")
        };
        assert_eq!(r.text(), "+OK");
        assert!(r.is_ok());
    }

    #[test]
    fn rude_rejection_and_unknown_are_kept() {
        let m = messages(b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\nContent-Type: text/event-xml\nContent-Length: 3\n\n<x>");
        assert_eq!(
            m[0],
            Message::RudeRejection(Bytes::from_static(b"Access Denied, go away.\n"))
        );
        assert_eq!(m[1].kind(), "unknown");
    }
}
