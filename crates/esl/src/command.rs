//! What a client sends to FreeSWITCH's event socket: one command line, optional `Name: value` header
//! lines, a blank line, and a body of `Content-Length` bytes when that header is present.
//!
//! Builders check every field: a `\n` or `\r` in a command line or header would start a new ESL
//! command, so it is refused with [`CommandError`]. [`Command::parse`] is the server side (the
//! simulated FreeSWITCH reads commands with it) and [`Command::kind`] gives it a typed view to
//! dispatch on.

mod api;
mod build;
mod format;
pub(crate) mod fs_split;
#[cfg(feature = "server")]
mod kind;
mod originate;

use bytes::{BufMut, Bytes, BytesMut};

pub use api::{ApiCommand, BroadcastLeg};
pub use format::EventFormat;
pub use fs_split::{expand_app_arg, split_api_args};
#[cfg(feature = "server")]
pub use kind::{CommandKind, SendMsg};
pub use originate::{OriginateError, OriginateTarget};

pub(crate) use fs_split::escape_blank;

/// FreeSWITCH refuses a body above this size (`MAX_CONTENT_LENGTH` in `mod_event_socket.c`).
pub const MAX_BODY_LEN: usize = 16 * 1024 * 1024;

/// Errors from building or parsing a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A field held a byte that would end the line and let the rest start a new ESL command.
    #[error("{field} contains a line break (would inject an ESL command)")]
    LineBreak {
        /// Which argument or header (`command line`, `header value`, `api command`, …).
        field: &'static str,
    },
    /// A uuid argument is not a uuid-like token.
    #[error("{field} is not a uuid-like token: {value:?}")]
    InvalidUuid {
        /// Which argument (`uuid`, `Job-UUID`, `Event-UUID`, …).
        field: &'static str,
        /// The value refused.
        value: String,
    },
    /// A header name is empty or holds `:`, a space or a control byte.
    #[error("invalid header name {name:?}")]
    InvalidHeaderName {
        /// The name refused (`Content-Length` too: it is written from the body).
        name: String,
    },
    /// A header value starts with a space (FreeSWITCH strips leading spaces).
    #[error("header {name} has a value starting with a space")]
    LeadingSpace {
        /// The header's name.
        name: String,
    },
    /// An argument that must be one token is empty or holds a blank or an unsafe byte.
    #[error("{field} is not a valid single token: {value:?}")]
    InvalidToken {
        /// Which argument (`event name`, `hangup cause`, `dtmf digits`, …).
        field: &'static str,
        /// The value refused.
        value: String,
    },
    /// The command line is empty.
    #[error("empty command line")]
    EmptyCommand,
    /// The command text is not UTF-8.
    #[error("command is not valid UTF-8")]
    NotUtf8,
    /// A header line has no `:`.
    #[error("malformed header line {line:?}")]
    MalformedHeader {
        /// The line as received.
        line: String,
    },
    /// `Content-Length` is not a number or disagrees with the body handed over.
    #[error("Content-Length {announced:?} does not match a body of {actual} bytes")]
    BodyLength {
        /// The `Content-Length` value as sent (empty when the header is missing).
        announced: String,
        /// Bytes of body handed over.
        actual: usize,
    },
    /// The body is larger than FreeSWITCH accepts.
    #[error("body of {len} bytes exceeds the {max} byte limit")]
    BodyTooLarge {
        /// The body's length.
        len: usize,
        /// The limit, [`MAX_BODY_LEN`].
        max: usize,
    },
}

/// One ESL command as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    line: String,
    headers: Vec<(String, String)>,
    body: Option<Bytes>,
}

impl Command {
    /// A command line without headers, checked for line breaks.
    pub fn raw(line: impl Into<String>) -> Result<Command, CommandError> {
        let line = line.into();
        check_no_line_break("command line", &line)?;
        if line.trim().is_empty() {
            return Err(CommandError::EmptyCommand);
        }
        Ok(Command {
            line,
            headers: Vec::new(),
            body: None,
        })
    }

    /// Adds a `Name: value` header line (in order). `Content-Length` is managed by [`with_body`].
    ///
    /// [`with_body`]: Command::with_body
    pub fn with_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Command, CommandError> {
        let (name, value) = (name.into(), value.into());
        check_header_name(&name)?;
        if name.eq_ignore_ascii_case("content-length") {
            return Err(CommandError::InvalidHeaderName { name });
        }
        check_no_line_break("header value", &value)?;
        if value.starts_with(' ') {
            return Err(CommandError::LeadingSpace { name });
        }
        self.headers.push((name, value));
        Ok(self)
    }

    /// Attaches a body; `Content-Length` is written as the last header.
    pub fn with_body(mut self, body: Bytes) -> Result<Command, CommandError> {
        if body.len() > MAX_BODY_LEN {
            return Err(CommandError::BodyTooLarge {
                len: body.len(),
                max: MAX_BODY_LEN,
            });
        }
        self.body = Some(body);
        Ok(self)
    }

    /// The command line (`auth ClueCon`, `sendmsg <uuid>`, …).
    pub fn line(&self) -> &str {
        &self.line
    }

    /// The header lines in order, without `Content-Length`.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first header with this name (case-insensitive, as FreeSWITCH looks them up).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// Number of bytes [`encode`](Command::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + 2 + v.len() + 1)
            .sum();
        let body = self.body.as_ref().map_or(0, |b| {
            "Content-Length: ".len() + b.len().to_string().len() + 1 + b.len()
        });
        self.line.len() + 1 + headers + 1 + body
    }

    /// Writes the exact wire bytes: line, headers, (`Content-Length`), blank line, body.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        dst.put_slice(self.line.as_bytes());
        dst.put_u8(b'\n');
        for (name, value) in &self.headers {
            dst.put_slice(name.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(value.as_bytes());
            dst.put_u8(b'\n');
        }
        if let Some(body) = &self.body {
            dst.put_slice(b"Content-Length: ");
            dst.put_slice(body.len().to_string().as_bytes());
            dst.put_u8(b'\n');
        }
        dst.put_u8(b'\n');
        if let Some(body) = &self.body {
            dst.put_slice(body);
        }
    }

    /// The wire bytes as a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf);
        buf.freeze()
    }

    /// Server side (feature `server`): `head` is everything before the blank line (without
    /// it), `body` the bytes announced by `Content-Length` (the caller frames them). `\r\n` line ends are accepted and
    /// a space after `:` is dropped, as FreeSWITCH does.
    #[cfg(feature = "server")]
    pub fn parse(head: &[u8], body: Option<Bytes>) -> Result<Command, CommandError> {
        let head = std::str::from_utf8(head).map_err(|_| CommandError::NotUtf8)?;
        let mut lines = head
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.is_empty());
        let line = lines.next().ok_or(CommandError::EmptyCommand)?.to_owned();
        let mut headers = Vec::new();
        let mut announced = None;
        for l in lines {
            let (name, value) = l
                .split_once(':')
                .ok_or_else(|| CommandError::MalformedHeader { line: l.to_owned() })?;
            let value = value.trim_start_matches(' ');
            if name.eq_ignore_ascii_case("content-length") {
                announced = Some(value.to_owned());
            } else {
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        let actual = body.as_ref().map_or(0, Bytes::len);
        match &announced {
            Some(text) if text.parse::<usize>().ok() != Some(actual) => {
                return Err(CommandError::BodyLength {
                    announced: text.clone(),
                    actual,
                });
            }
            None if actual > 0 => {
                return Err(CommandError::BodyLength {
                    announced: String::new(),
                    actual,
                });
            }
            _ => {}
        }
        if actual > MAX_BODY_LEN {
            return Err(CommandError::BodyTooLarge {
                len: actual,
                max: MAX_BODY_LEN,
            });
        }
        Ok(Command {
            line,
            headers,
            body: body.filter(|b| !b.is_empty()),
        })
    }
}

pub(crate) fn check_no_line_break(field: &'static str, value: &str) -> Result<(), CommandError> {
    if value.contains(['\n', '\r']) {
        Err(CommandError::LineBreak { field })
    } else {
        Ok(())
    }
}

fn check_header_name(name: &str) -> Result<(), CommandError> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if ok {
        Ok(())
    } else if name.contains(['\n', '\r']) {
        Err(CommandError::LineBreak {
            field: "header name",
        })
    } else {
        Err(CommandError::InvalidHeaderName {
            name: name.to_owned(),
        })
    }
}

/// A uuid-like token: 1 to 128 bytes of ASCII letters, digits, `-`, `_` or `.`.
pub fn check_uuid(field: &'static str, value: &str) -> Result<(), CommandError> {
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        check_no_line_break(field, value)?;
        Err(CommandError::InvalidUuid {
            field,
            value: value.to_owned(),
        })
    }
}

/// The rest of a command line, which FreeSWITCH takes whole (`auth`'s password, a `filter`'s
/// value: `mod_event_socket.c` reads `cmd + 5` and everything after the header name): printable
/// ASCII with inner spaces, no line break, and no blank at either end (it would not survive a
/// round trip through [`Command::kind`]).
pub(crate) fn check_line_value(field: &'static str, value: &str) -> Result<(), CommandError> {
    check_no_line_break(field, value)?;
    let ok = !value.is_empty()
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if ok {
        Ok(())
    } else {
        Err(CommandError::InvalidToken {
            field,
            value: value.to_owned(),
        })
    }
}

/// One printable token without blanks (an app name, a cause, a header name in a filter, …).
pub(crate) fn check_token(field: &'static str, value: &str) -> Result<(), CommandError> {
    check_no_line_break(field, value)?;
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(CommandError::InvalidToken {
            field,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
#[cfg(feature = "server")]
mod tests;
