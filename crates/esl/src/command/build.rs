//! Typed constructors for every command parkway sends. Header order follows the captures in
//! the repository's `captures/*.sent` (FreeSWITCH 1.10.12).

use bytes::Bytes;

use super::{
    Command, CommandError, EventFormat, check_line_value, check_no_line_break, check_token,
    check_uuid,
};

impl Command {
    /// `auth <password>`: FreeSWITCH compares the rest of the line, so inner spaces are fine.
    pub fn auth(password: &str) -> Result<Command, CommandError> {
        check_line_value("password", password)?;
        Command::raw(format!("auth {password}"))
    }

    /// `event <format> <names…>`; `CUSTOM` subclasses follow `CUSTOM` as their own words
    /// (`&["CUSTOM", "sofia::register"]`).
    pub fn event(format: EventFormat, names: &[&str]) -> Result<Command, CommandError> {
        let mut line = format!("event {}", format.as_str());
        for name in names {
            check_token("event name", name)?;
            line.push(' ');
            line.push_str(name);
        }
        Command::raw(line)
    }

    /// `filter <header> <value>` (positive filters are OR'ed by FreeSWITCH); the value may hold
    /// inner spaces.
    pub fn filter(header: &str, value: &str) -> Result<Command, CommandError> {
        check_token("filter header", header)?;
        if header.eq_ignore_ascii_case("delete") || header.eq_ignore_ascii_case("add") {
            return Err(CommandError::InvalidToken {
                field: "filter header",
                value: header.to_owned(),
            });
        }
        // FreeSWITCH takes everything after the header name as the value.
        check_line_value("filter value", value)?;
        Command::raw(format!("filter {header} {value}"))
    }

    /// `filter delete <header> [<value>]`; `filter_delete("all", None)` drops every filter.
    pub fn filter_delete(header: &str, value: Option<&str>) -> Result<Command, CommandError> {
        check_token("filter header", header)?;
        match value {
            Some(v) => {
                check_token("filter value", v)?;
                Command::raw(format!("filter delete {header} {v}"))
            }
            None => Command::raw(format!("filter delete {header}")),
        }
    }

    /// `nixevent <names…>`.
    pub fn nixevent(names: &[&str]) -> Result<Command, CommandError> {
        let mut line = String::from("nixevent");
        for name in names {
            check_token("event name", name)?;
            line.push(' ');
            line.push_str(name);
        }
        Command::raw(line)
    }

    /// `noevents`.
    pub fn noevents() -> Command {
        Command::fixed("noevents")
    }

    /// `api <cmd>`: runs in FreeSWITCH's listener thread and blocks the socket until done.
    pub fn api(cmd: impl AsRef<str>) -> Result<Command, CommandError> {
        let cmd = cmd.as_ref();
        check_no_line_break("api command", cmd)?;
        if cmd.trim().is_empty() {
            return Err(CommandError::EmptyCommand);
        }
        Command::raw(format!("api {cmd}"))
    }

    /// `bgapi <cmd>` with a client-chosen `Job-UUID` header (register the job before sending).
    pub fn bgapi(cmd: impl AsRef<str>, job_uuid: &str) -> Result<Command, CommandError> {
        let cmd = cmd.as_ref();
        check_no_line_break("bgapi command", cmd)?;
        check_uuid("Job-UUID", job_uuid)?;
        if cmd.trim().is_empty() {
            return Err(CommandError::EmptyCommand);
        }
        Command::raw(format!("bgapi {cmd}"))?.with_header("Job-UUID", job_uuid)
    }

    /// `sendmsg [<uuid>]` with `call-command: execute`, `event-lock: true` and `Event-UUID`
    /// (it comes back as `Application-UUID`). `uuid` is `None` in outbound mode. An argument with
    /// line breaks travels as a `text/plain` body, which FreeSWITCH uses when
    /// `execute-app-arg` is absent.
    pub fn sendmsg_execute(
        uuid: Option<&str>,
        app: &str,
        arg: Option<&str>,
        event_uuid: &str,
    ) -> Result<Command, CommandError> {
        check_token("execute-app-name", app)?;
        check_uuid("Event-UUID", event_uuid)?;
        let mut cmd = sendmsg_line(uuid)?
            .with_header("call-command", "execute")?
            .with_header("execute-app-name", app)?;
        let mut body = None;
        match arg {
            Some(a) if a.contains(['\n', '\r']) || a.starts_with(' ') => body = Some(a),
            Some(a) if !a.is_empty() => cmd = cmd.with_header("execute-app-arg", a)?,
            _ => {}
        }
        cmd = cmd
            .with_header("event-lock", "true")?
            .with_header("Event-UUID", event_uuid)?;
        match body {
            Some(b) => cmd
                .with_header("content-type", "text/plain")?
                .with_body(Bytes::copy_from_slice(b.as_bytes())),
            None => Ok(cmd),
        }
    }

    /// `sendmsg [<uuid>]` with `call-command: hangup` and `hangup-cause: <CAUSE>`.
    pub fn sendmsg_hangup(uuid: Option<&str>, cause: &str) -> Result<Command, CommandError> {
        check_cause(cause)?;
        sendmsg_line(uuid)?
            .with_header("call-command", "hangup")?
            .with_header("hangup-cause", cause)
    }

    /// `linger [<secs>]`: without seconds FreeSWITCH lingers until the client leaves.
    pub fn linger(secs: Option<u32>) -> Command {
        match secs {
            Some(s) => Command::fixed(&format!("linger {s}")),
            None => Command::fixed("linger"),
        }
    }

    /// `nolinger`.
    pub fn nolinger() -> Command {
        Command::fixed("nolinger")
    }

    /// `myevents [<format>]` (outbound mode: events of the controlled channel).
    pub fn myevents(format: Option<EventFormat>) -> Command {
        match format {
            Some(f) => Command::fixed(&format!("myevents {}", f.as_str())),
            None => Command::fixed("myevents"),
        }
    }

    /// `myevents <uuid> [<format>]` (inbound mode: follow one channel).
    pub fn myevents_uuid(uuid: &str, format: Option<EventFormat>) -> Result<Command, CommandError> {
        check_uuid("uuid", uuid)?;
        match format {
            Some(f) => Command::raw(format!("myevents {uuid} {}", f.as_str())),
            None => Command::raw(format!("myevents {uuid}")),
        }
    }

    /// `divert_events on|off`.
    pub fn divert_events(on: bool) -> Command {
        Command::fixed(if on {
            "divert_events on"
        } else {
            "divert_events off"
        })
    }

    /// `log <level>`.
    pub fn log(level: &str) -> Result<Command, CommandError> {
        check_token("log level", level)?;
        Command::raw(format!("log {level}"))
    }

    /// `nolog`.
    pub fn nolog() -> Command {
        Command::fixed("nolog")
    }

    /// `exit`: FreeSWITCH replies `+OK bye` and closes.
    pub fn exit() -> Command {
        Command::fixed("exit")
    }

    /// `connect`: the first command in outbound mode.
    pub fn connect() -> Command {
        Command::fixed("connect")
    }

    /// `resume`: outbound mode, let the dialplan continue when the socket closes.
    pub fn resume() -> Command {
        Command::fixed("resume")
    }

    fn fixed(line: &str) -> Command {
        Command {
            line: line.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }
}

fn sendmsg_line(uuid: Option<&str>) -> Result<Command, CommandError> {
    match uuid {
        Some(u) => {
            check_uuid("sendmsg uuid", u)?;
            Command::raw(format!("sendmsg {u}"))
        }
        None => Ok(Command::fixed("sendmsg")),
    }
}

/// A hangup cause: `NORMAL_CLEARING` style (upper-case letters, digits, `_`).
pub(crate) fn check_cause(cause: &str) -> Result<(), CommandError> {
    check_no_line_break("hangup cause", cause)?;
    let ok = !cause.is_empty()
        && cause
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CommandError::InvalidToken {
            field: "hangup cause",
            value: cause.to_owned(),
        })
    }
}
