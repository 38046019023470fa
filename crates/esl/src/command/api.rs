//! Text of the `mod_commands` API calls parkway uses, checked so that every argument stays one
//! argument (`mod_commands` splits on blanks outside quotes). Pass the result to
//! [`Command::api`](super::Command::api) or [`Command::bgapi`](super::Command::bgapi).

use std::fmt;

use super::build::check_cause;
use super::{CommandError, check_no_line_break, check_token, check_uuid, escape_blank};

/// Which legs `uuid_broadcast` plays to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastLeg {
    /// `aleg`: the channel named by the uuid.
    ALeg,
    /// `bleg`: the channel it is bridged to.
    BLeg,
    /// `both`: both of them.
    Both,
}

impl BroadcastLeg {
    fn as_str(self) -> &'static str {
        match self {
            BroadcastLeg::ALeg => "aleg",
            BroadcastLeg::BLeg => "bleg",
            BroadcastLeg::Both => "both",
        }
    }
}

/// The text of one API command (what follows `api ` / `bgapi `), already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCommand(String);

impl ApiCommand {
    /// Any API command text without line breaks (e.g. `status`, `show channels as json`).
    pub fn raw(text: impl Into<String>) -> Result<ApiCommand, CommandError> {
        let text = text.into();
        check_no_line_break("api command", &text)?;
        if text.trim().is_empty() {
            return Err(CommandError::EmptyCommand);
        }
        Ok(ApiCommand(text))
    }

    /// `uuid_kill <uuid> [<cause>]`.
    pub fn uuid_kill(uuid: &str, cause: Option<&str>) -> Result<ApiCommand, CommandError> {
        check_uuid("uuid", uuid)?;
        match cause {
            Some(c) => {
                check_cause(c)?;
                Ok(ApiCommand(format!("uuid_kill {uuid} {c}")))
            }
            None => Ok(ApiCommand(format!("uuid_kill {uuid}"))),
        }
    }

    /// `uuid_bridge <uuid> <other_uuid>`; `+OK` means only "accepted": wait for CHANNEL_BRIDGE.
    pub fn uuid_bridge(a: &str, b: &str) -> Result<ApiCommand, CommandError> {
        check_uuid("uuid", a)?;
        check_uuid("other uuid", b)?;
        Ok(ApiCommand(format!("uuid_bridge {a} {b}")))
    }

    /// `uuid_setvar <uuid> <name> [<value>]`; without a value the variable is unset. The value
    /// is quoted or escaped so that it stays one argument.
    pub fn uuid_setvar(
        uuid: &str,
        name: &str,
        value: Option<&str>,
    ) -> Result<ApiCommand, CommandError> {
        check_uuid("uuid", uuid)?;
        check_var_name(name)?;
        match value {
            Some(v) if !v.is_empty() => {
                check_no_line_break("variable value", v)?;
                Ok(ApiCommand(format!(
                    "uuid_setvar {uuid} {name} {}",
                    escape_blank(v)
                )))
            }
            _ => Ok(ApiCommand(format!("uuid_setvar {uuid} {name}"))),
        }
    }

    /// `uuid_getvar <uuid> <name>` (the reply body is the bare value, or `_undef_`).
    pub fn uuid_getvar(uuid: &str, name: &str) -> Result<ApiCommand, CommandError> {
        check_uuid("uuid", uuid)?;
        check_var_name(name)?;
        Ok(ApiCommand(format!("uuid_getvar {uuid} {name}")))
    }

    /// `uuid_broadcast <uuid> <path> <aleg|bleg|both>`.
    pub fn uuid_broadcast(
        uuid: &str,
        path: &str,
        leg: BroadcastLeg,
    ) -> Result<ApiCommand, CommandError> {
        check_uuid("uuid", uuid)?;
        check_token("broadcast path", path)?;
        check_plain_arg("broadcast path", path)?;
        Ok(ApiCommand(format!(
            "uuid_broadcast {uuid} {path} {}",
            leg.as_str()
        )))
    }

    /// `uuid_exists <uuid>` (`true` / `false`).
    pub fn uuid_exists(uuid: &str) -> Result<ApiCommand, CommandError> {
        check_uuid("uuid", uuid)?;
        Ok(ApiCommand(format!("uuid_exists {uuid}")))
    }

    /// `uuid_send_dtmf <uuid> <digits>`; digits are `0-9*#A-D`, `w`/`W` pauses and `@<ms>`.
    pub fn uuid_send_dtmf(uuid: &str, digits: &str) -> Result<ApiCommand, CommandError> {
        check_uuid("uuid", uuid)?;
        let ok = !digits.is_empty()
            && digits.bytes().all(|b| {
                b.is_ascii_digit()
                    || matches!(b, b'*' | b'#' | b'A'..=b'D' | b'a'..=b'd' | b'w' | b'W' | b'@')
            });
        if !ok {
            check_no_line_break("dtmf digits", digits)?;
            return Err(CommandError::InvalidToken {
                field: "dtmf digits",
                value: digits.to_owned(),
            });
        }
        Ok(ApiCommand(format!("uuid_send_dtmf {uuid} {digits}")))
    }

    /// The command text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ApiCommand {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A channel variable name: letters, digits, `_`, `-`, `.`.
fn check_var_name(name: &str) -> Result<(), CommandError> {
    check_no_line_break("variable name", name)?;
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(CommandError::InvalidToken {
            field: "variable name",
            value: name.to_owned(),
        })
    }
}

/// No quote or backslash: the blank splitter would remove or interpret them.
pub(crate) fn check_plain_arg(field: &'static str, value: &str) -> Result<(), CommandError> {
    if value.contains(['\'', '\\']) {
        Err(CommandError::InvalidToken {
            field,
            value: value.to_owned(),
        })
    } else {
        Ok(())
    }
}
