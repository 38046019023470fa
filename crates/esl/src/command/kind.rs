//! A typed view of a parsed [`Command`], for the simulated FreeSWITCH to dispatch on. Matching
//! follows `parse_command` in `mod_event_socket.c` (case-insensitive command words).

use super::Command;

/// Serialisation asked for by `event` / `myevents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFormat {
    Plain,
    Json,
    Xml,
}

impl EventFormat {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Plain => "plain",
            EventFormat::Json => "json",
            EventFormat::Xml => "xml",
        }
    }

    /// Parses `plain` / `json` / `xml` (case-insensitive).
    pub fn parse(word: &str) -> Option<EventFormat> {
        [EventFormat::Plain, EventFormat::Json, EventFormat::Xml]
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(word))
    }
}

/// The headers of a `sendmsg` that FreeSWITCH acts on (`switch_ivr_parse_event`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMsg {
    /// `None` in outbound mode (the socket's own channel).
    pub uuid: Option<String>,
    pub call_command: Option<String>,
    pub app_name: Option<String>,
    /// `execute-app-arg`, or the body when that header is absent and `content-type: text/plain`.
    pub app_arg: Option<String>,
    pub event_lock: bool,
    pub event_uuid: Option<String>,
    pub hangup_cause: Option<String>,
    pub loops: Option<i32>,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    Auth {
        password: String,
    },
    Event {
        format: EventFormat,
        events: Vec<String>,
    },
    Filter {
        header: String,
        value: String,
    },
    FilterDelete {
        header: String,
        value: Option<String>,
    },
    NixEvent {
        events: Vec<String>,
    },
    NoEvents,
    Api {
        cmd: String,
        args: Option<String>,
    },
    BgApi {
        cmd: String,
        args: Option<String>,
        job_uuid: Option<String>,
    },
    SendMsg(SendMsg),
    Linger {
        secs: Option<i64>,
    },
    NoLinger,
    MyEvents {
        uuid: Option<String>,
        format: EventFormat,
    },
    Exit,
    Connect,
    Resume,
    Log {
        level: Option<String>,
    },
    NoLog,
    DivertEvents {
        on: bool,
    },
    Unknown {
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
