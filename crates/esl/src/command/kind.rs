//! A typed view of a parsed [`Command`], for the simulated FreeSWITCH to dispatch on. Matching
//! follows `parse_command` in `mod_event_socket.c` (case-insensitive command words).

use super::{Command, EventFormat};

/// The headers of a `sendmsg` that FreeSWITCH acts on (`switch_ivr_parse_event`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMsg {
    /// `None` in outbound mode (the socket's own channel).
    pub uuid: Option<String>,
    /// `call-command`: `execute`, `hangup`, … (what the message asks of the channel).
    pub call_command: Option<String>,
    /// `execute-app-name`: the dialplan application to run (`bridge`, `playback`, …).
    pub app_name: Option<String>,
    /// `execute-app-arg`, or the body when that header is absent and `content-type: text/plain`.
    pub app_arg: Option<String>,
    /// `event-lock: true`: the channel finishes this application before it takes its next
    /// queued message.
    pub event_lock: bool,
    /// `Event-UUID`: comes back as `Application-UUID` on CHANNEL_EXECUTE and
    /// CHANNEL_EXECUTE_COMPLETE.
    pub event_uuid: Option<String>,
    /// `hangup-cause` of a `call-command: hangup` (`NORMAL_CLEARING`, …).
    pub hangup_cause: Option<String>,
    /// `loops`: how many times to run the application (once when absent).
    pub loops: Option<i32>,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    /// `auth <password>`: FreeSWITCH answers `+OK accepted`, or `-ERR invalid` and closes.
    Auth {
        /// The rest of the line.
        password: String,
    },
    /// `event [plain|json|xml] <names…>`: adds subscriptions (`+OK event listener enabled
    /// <format>`).
    Event {
        /// The first word when it names a format (any case), else `Plain`. FreeSWITCH itself
        /// keeps the socket's current format when none is named.
        format: EventFormat,
        /// The event names, in order: `ALL`, `CHANNEL_PARK`, …; `CUSTOM` is followed by its
        /// subclasses as words of their own.
        events: Vec<String>,
    },
    /// `filter [add] <header> <value>`: only events whose `header` has this value are sent;
    /// filters on the same header or on different headers are OR'ed, and an event that lacks
    /// a filtered header is dropped.
    Filter {
        /// The header name, as written.
        header: String,
        /// The rest of the line.
        value: String,
    },
    /// `filter delete <header> [<value>]`: removes filters; header `all` removes every filter.
    FilterDelete {
        /// The header name (or `all`).
        header: String,
        /// The value to remove; `None` removes every filter on the header.
        value: Option<String>,
    },
    /// `nixevent <names…>`: removes events from the subscriptions.
    NixEvent {
        /// The event names, in order.
        events: Vec<String>,
    },
    /// `noevents`: drops every subscription and the events already queued for the socket.
    NoEvents,
    /// `api <cmd> [<args>]`: runs an API command in the socket's thread; the answer is an
    /// `api/response`.
    Api {
        /// The API command (the first word: `status`, `originate`, …).
        cmd: String,
        /// Everything after the first space, if anything.
        args: Option<String>,
    },
    /// `bgapi <cmd> [<args>]`: runs an API command in its own thread; the reply is
    /// `+OK Job-UUID: <id>` and the output comes later as a BACKGROUND_JOB event.
    BgApi {
        /// The API command (the first word).
        cmd: String,
        /// Everything after the first space, if anything.
        args: Option<String>,
        /// The client-chosen `Job-UUID` header; FreeSWITCH makes one up when it is absent.
        job_uuid: Option<String>,
    },
    /// `sendmsg [<uuid>]` and the headers FreeSWITCH acts on.
    SendMsg(SendMsg),
    /// `linger [<secs>]` (outbound mode): keep the socket open after the channel hangs up.
    Linger {
        /// How long; `None` (no number) lingers until the client leaves (`Linger-Time: -1`).
        secs: Option<i64>,
    },
    /// `nolinger`: close the socket when the channel hangs up.
    NoLinger,
    /// `myevents [<uuid>] [plain|json|xml]`: events of one channel only (`+OK Events
    /// Enabled`).
    MyEvents {
        /// The channel to follow (inbound mode); `None` for the socket's own channel
        /// (outbound mode).
        uuid: Option<String>,
        /// The format word (after the uuid, if any); `Plain` when none is named.
        format: EventFormat,
    },
    /// `exit` (or `...`): FreeSWITCH answers `+OK bye`, sends a final disconnect notice and
    /// closes.
    Exit,
    /// `connect`: the first command in outbound mode; the reply carries the channel's data.
    Connect,
    /// `resume` (outbound mode): when the socket closes, the channel goes on in the dialplan
    /// instead of hanging up (FreeSWITCH sets `socket_resume=true`).
    Resume,
    /// `log [<level>]`: FreeSWITCH's log lines at this level and above come as `log/data`
    /// messages.
    Log {
        /// The level (`debug`, `info`, `warning`, …); FreeSWITCH uses `debug` when absent.
        level: Option<String>,
    },
    /// `nolog`: stop sending log lines.
    NoLog,
    /// `divert_events on|off`: with `on`, events an embedded script on the controlled channel
    /// would get in its input callback come to the socket instead.
    DivertEvents {
        /// True for `on` (any case); any other word is off.
        on: bool,
    },
    /// Any other line: FreeSWITCH answers `-ERR command not found`.
    Unknown {
        /// The command line as sent.
        line: String,
    },
}

impl Command {
    /// The typed view of this command.
    pub fn kind(&self) -> CommandKind {
        let line = self.line();
        let (word, rest) = match line.split_once(' ') {
            Some((w, r)) => (w, r.trim_start_matches(' ')),
            None => (line, ""),
        };
        let rest_opt = (!rest.is_empty()).then(|| rest.to_owned());
        let words = || rest.split(' ').filter(|w| !w.is_empty()).map(str::to_owned);
        match word.to_ascii_lowercase().as_str() {
            "auth" if !rest.is_empty() => CommandKind::Auth {
                password: rest.to_owned(),
            },
            "exit" | "..." => CommandKind::Exit,
            "event" => {
                let mut all: Vec<String> = words().collect();
                let format = match all.first().and_then(|w| EventFormat::parse(w)) {
                    Some(f) => {
                        all.remove(0);
                        f
                    }
                    None => EventFormat::Plain,
                };
                CommandKind::Event {
                    format,
                    events: all,
                }
            }
            "nixevent" => CommandKind::NixEvent {
                events: words().collect(),
            },
            "noevents" => CommandKind::NoEvents,
            "filter" => filter_kind(rest).unwrap_or_else(|| unknown(line)),
            "api" if !rest.is_empty() => {
                let (cmd, args) = split_api(rest);
                CommandKind::Api { cmd, args }
            }
            "bgapi" if !rest.is_empty() => {
                let (cmd, args) = split_api(rest);
                CommandKind::BgApi {
                    cmd,
                    args,
                    job_uuid: self.header("Job-UUID").map(str::to_owned),
                }
            }
            "sendmsg" => CommandKind::SendMsg(self.sendmsg(rest_opt)),
            "linger" => CommandKind::Linger {
                secs: rest.split(' ').next().and_then(|s| s.parse().ok()),
            },
            "nolinger" => CommandKind::NoLinger,
            "myevents" => {
                let mut it = words();
                let (uuid, format) = match (it.next(), it.next()) {
                    (None, _) => (None, EventFormat::Plain),
                    (Some(a), None) => match EventFormat::parse(&a) {
                        Some(f) => (None, f),
                        None => (Some(a), EventFormat::Plain),
                    },
                    (Some(a), Some(b)) => (
                        Some(a),
                        EventFormat::parse(&b).unwrap_or(EventFormat::Plain),
                    ),
                };
                CommandKind::MyEvents { uuid, format }
            }
            "connect" => CommandKind::Connect,
            "resume" => CommandKind::Resume,
            "log" => CommandKind::Log {
                level: words().next(),
            },
            "nolog" => CommandKind::NoLog,
            "divert_events" => CommandKind::DivertEvents {
                on: rest.eq_ignore_ascii_case("on"),
            },
            _ => unknown(line),
        }
    }

    fn sendmsg(&self, uuid: Option<String>) -> SendMsg {
        let text = |name: &str| self.header(name).map(str::to_owned);
        let body_arg = || {
            let plain = self
                .header("content-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("text/plain"));
            self.body()
                .filter(|_| plain)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        SendMsg {
            uuid,
            call_command: text("call-command"),
            app_name: text("execute-app-name"),
            app_arg: text("execute-app-arg")
                .filter(|a| !a.is_empty())
                .or_else(body_arg),
            event_lock: self
                .header("event-lock")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            event_uuid: text("Event-UUID"),
            hangup_cause: text("hangup-cause"),
            loops: self.header("loops").and_then(|l| l.trim().parse().ok()),
        }
    }
}

fn unknown(line: &str) -> CommandKind {
    CommandKind::Unknown {
        line: line.to_owned(),
    }
}

fn split_api(rest: &str) -> (String, Option<String>) {
    match rest.split_once(' ') {
        Some((cmd, args)) => (cmd.to_owned(), Some(args.to_owned())),
        None => (rest.to_owned(), None),
    }
}

fn filter_kind(rest: &str) -> Option<CommandKind> {
    let (first, after) = rest.split_once(' ')?;
    if first.eq_ignore_ascii_case("delete") {
        let (header, value) = match after.split_once(' ') {
            Some((h, v)) => (h, Some(v.to_owned())),
            None => (after, None),
        };
        return Some(CommandKind::FilterDelete {
            header: header.to_owned(),
            value,
        });
    }
    let (header, value) = if first.eq_ignore_ascii_case("add") {
        after.split_once(' ')?
    } else {
        (first, after)
    };
    Some(CommandKind::Filter {
        header: header.to_owned(),
        value: value.to_owned(),
    })
}
