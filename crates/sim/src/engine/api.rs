//! The engine's command surface: `api` (synchronous, text result), `bgapi` (result later as a
//! BACKGROUND_JOB event), `sendmsg` (execute an application on a channel, or hang it up) and
//! scenario inputs (an inbound call).
//!
//! api commands: `status`, `global_getvar`, `uuid_getvar` (`_undef_` when unset),
//! `uuid_setvar`, `uuid_exists` (`true`/`false`), `uuid_kill`, `uuid_bridge`, `uuid_send_dtmf`,
//! `uuid_transfer`, `uuid_answer`, `uuid_pre_answer`, `uuid_park` (queued like a `sendmsg`),
//! `uuid_broadcast`, `hupall`, `show channels|calls as json` / `count`, `originate` (bgapi only:
//! the engine cannot block), anything else `-ERR <cmd> Command not found!\n`. Bodies end with a
//! newline or not exactly as FreeSWITCH's do.

use parkway_esl::command::split_api_args;
use parkway_esl::dialstring::DialString;

use super::channel::{AppCall, Cause, Vars};
use super::clock::Micros;
use super::headers::{self, Extra};
use super::loopback::PairKind;
use super::origination::Job;
use super::{Engine, EngineError, Work};

/// An inbound call arriving at the switch: a loopback pair into `context` as in the captures
/// (`loopback/<destination>-b` parks, `loopback/<destination>-a` is the caller's phone).
#[derive(Debug, Clone)]
pub struct InboundCall {
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    pub context: String,
    /// SIP X-headers: `("X-Campaign", "solar")` becomes `variable_sip_h_X-Campaign`.
    pub sip_headers: Vec<(String, String)>,
    /// Other channel variables.
    pub variables: Vec<(String, String)>,
    /// `Some((profile, host))`: the call arrives over SIP as `sofia/<profile>/<caller>@<host>`
    /// (its caller's user agent is not a channel of the switch); `None`: a loopback pair as in
    /// the captures.
    pub sip: Option<(String, String)>,
}

impl InboundCall {
    /// A loopback call from `caller_number` (`caller_name`) to `destination` in context
    /// `public`, with no SIP header or extra variable.
    pub fn new(
        caller_number: impl Into<String>,
        caller_name: impl Into<String>,
        destination: impl Into<String>,
    ) -> InboundCall {
        InboundCall {
            caller_number: caller_number.into(),
            caller_name: caller_name.into(),
            destination: destination.into(),
            context: "public".into(),
            sip_headers: Vec::new(),
            variables: Vec::new(),
            sip: None,
        }
    }
}

/// The two channels of an inbound call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallHandles {
    /// The caller's phone (`loopback/<dest>-a`).
    pub phone: String,
    /// The leg that runs the dialplan and parks (`loopback/<dest>-b`).
    pub parked: String,
}

fn uptime(us: Micros) -> String {
    let s = us / 1_000_000;
    let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "UP 0 years, {}, {}, {}, {}, {}, {}",
        plural(s / 86_400, "day"),
        plural(s / 3_600 % 24, "hour"),
        plural(s / 60 % 60, "minute"),
        plural(s % 60, "second"),
        plural(us / 1_000 % 1_000, "millisecond"),
        plural(us % 1_000, "microsecond"),
    )
}

impl Engine {
    /// Runs an api command and returns its output (the `api/response` body).
    pub fn api(&mut self, cmd: &str, args: &str) -> String {
        let out = self.api_returned(cmd, args);
        self.run();
        out
    }

    /// An api command up to its return: what it did at once is done (a `uuid_kill`'s
    /// CHANNEL_HANGUP), what the channels do next is not yet run.
    fn api_returned(&mut self, cmd: &str, args: &str) -> String {
        let mut extra = Extra::default().post("API-Command", cmd);
        if !args.is_empty() {
            extra = extra.post("API-Command-Argument", args);
        }
        self.emit_global("API", headers::API, extra, None);
        self.api_inner(cmd, args)
    }

    fn api_inner(&mut self, cmd: &str, args: &str) -> String {
        let argv: Vec<&str> = args.split_whitespace().collect();
        let no_channel = || "-ERR No such channel!\n".to_owned();
        match cmd {
            "status" => {
                let live = self.live_channels().count();
                format!(
                    "{}\nFreeSWITCH (Version 1.10.12-release  64bit) is ready\n{} session(s) since startup\n{live} session(s) - peak {}, last 5min {} \n0 session(s) per Sec out of max 1000, peak 0, last 5min 0 \n1000 session(s) max\nmin idle cpu 0.00/100.00\nCurrent Stack Size/Max 240K/8192K\n",
                    uptime(self.clock.now),
                    self.sessions,
                    self.sessions,
                    self.sessions
                )
            }
            "global_getvar" => argv
                .first()
                .and_then(|n| self.globals.get(n))
                .unwrap_or_default()
                .to_owned(),
            "uuid_getvar" => match (argv.first().and_then(|u| self.id_of(u)), argv.get(1)) {
                (Some(id), Some(name)) => self
                    .chan(id)
                    .and_then(|c| c.vars.get(name))
                    .unwrap_or("_undef_")
                    .to_owned(),
                (None, _) => no_channel(),
                _ => "-USAGE: <uuid> <var>\n".into(),
            },
            "uuid_setvar" => match (argv.first().and_then(|u| self.id_of(u)), argv.get(1)) {
                (Some(id), Some(name)) => {
                    let value = argv.get(2..).map(|v| v.join(" ")).unwrap_or_default();
                    self.set_var(id, name, &value);
                    "+OK\n".into()
                }
                (None, _) => no_channel(),
                _ => "-USAGE: <uuid> <var> [value]\n".into(),
            },
            "uuid_exists" => {
                let live = argv.first().is_some_and(|u| self.id_of(u).is_some());
                live.to_string()
            }
            "uuid_kill" => match argv.first().and_then(|u| self.id_of(u)) {
                Some(id) => {
                    // Without a cause, NORMAL_CLEARING (`burst`, `dtmf_variants`).
                    let cause = argv
                        .get(1)
                        .and_then(|c| Cause::parse(c))
                        .unwrap_or(Cause::NORMAL_CLEARING);
                    self.hangup(id, cause);
                    "+OK\n".into()
                }
                None => no_channel(),
            },
            "uuid_send_dtmf" => match (argv.first().and_then(|u| self.id_of(u)), argv.get(1)) {
                (Some(id), Some(digits)) => {
                    for d in digits
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '#'))
                    {
                        self.write_dtmf(id, d, 0);
                    }
                    // As after `send_dtmf` (`dtmf_variants`: on every channel it was sent on).
                    self.set_var(id, "last_dtmf_duration", "500");
                    format!("+OK {} sent DTMF {digits}.\n", argv[0])
                }
                (None, _) => no_channel(),
                _ => "-USAGE: <uuid> <dtmf_data>\n".into(),
            },
            "uuid_broadcast" => match (argv.first().and_then(|u| self.id_of(u)), argv.get(1)) {
                (Some(id), Some(path)) => {
                    let (app, arg) = match path.split_once("::") {
                        Some((a, r)) => (a.to_owned(), r.to_owned()),
                        None => ("playback".to_owned(), (*path).to_owned()),
                    };
                    self.enqueue(id, AppCall::new(&app, &arg));
                    "+OK Message sent successfully.\n".into()
                }
                (None, _) => no_channel(),
                _ => "-USAGE: <uuid> <path> [aleg|bleg|both]\n".into(),
            },
            "uuid_transfer" | "uuid_answer" | "uuid_pre_answer" | "uuid_park" => {
                let Some(id) = argv.first().and_then(|u| self.id_of(u)) else {
                    return no_channel();
                };
                let call = match cmd {
                    "uuid_transfer" if argv.len() < 2 => {
                        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n".into();
                    }
                    "uuid_transfer" => AppCall::new("transfer", &argv[1..].join(" ")),
                    "uuid_answer" => AppCall::new("answer", ""),
                    "uuid_pre_answer" => AppCall::new("pre_answer", ""),
                    _ => AppCall::new("park", ""),
                };
                self.enqueue(id, call);
                "+OK\n".into()
            }
            "hupall" => {
                let cause = argv
                    .first()
                    .and_then(|c| Cause::parse(c))
                    .unwrap_or(Cause::parse("MANAGER_REQUEST").unwrap_or(Cause::NORMAL_CLEARING));
                let ids: Vec<_> = self.live_channels().map(|c| c.id).collect();
                for id in ids {
                    self.hangup(id, cause);
                }
                format!("+OK hangup all channels with cause {}\n", cause.name)
            }
            "show" => self.show(&argv),
            "uuid_bridge" => match (argv.first(), argv.get(1)) {
                (Some(a), Some(b)) => match self.uuid_bridge(a, b) {
                    Ok(()) => format!("+OK {b}\n"),
                    Err(super::EngineError::NoSuchChannel) => no_channel(),
                    Err(e) => format!("-ERR {e}\n"),
                },
                _ => "-USAGE: <uuid> <other_uuid>\n".into(),
            },
            "originate" => "-ERR the simulated switch runs originate through bgapi only\n".into(),
            _ => format!("-ERR {cmd} Command not found!\n"),
        }
    }

    /// Starts a background api command; its result comes as a BACKGROUND_JOB event carrying
    /// `job_uuid` (or a generated id, returned).
    pub fn bgapi(&mut self, cmd: &str, args: &str, job_uuid: Option<&str>) -> String {
        let uuid = job_uuid.map_or_else(|| self.rng.uuid_v4(), str::to_owned);
        let job = Job {
            uuid: uuid.clone(),
            command: cmd.to_owned(),
            arg: args.to_owned(),
            then: Vec::new(),
        };
        if cmd != "originate" {
            // The job's result is fired as the command returns, before the channels it touched
            // move on (`burst`: each uuid_kill's `+OK` right after the leg's CHANNEL_HANGUP,
            // before its CHANNEL_UNPARK, in 50 of 50 calls).
            let out = self.api_returned(cmd, args);
            self.background_job(&job, &out);
            self.run();
            return uuid;
        }
        let mut extra = Extra::default().post("API-Command", cmd);
        if !args.is_empty() {
            extra = extra.post("API-Command-Argument", args);
        }
        self.emit_global("API", headers::API, extra, None);
        let argv = split_api_args(args);
        let parsed = argv.first().map(|d| DialString::parse(d));
        match (parsed, argv.get(1)) {
            (Some(Ok(dial)), Some(then)) if dial.legs().next().is_some() => {
                let then = then_apps(then, argv.get(2..).unwrap_or_default());
                self.start_originate(dial, Job { then, ..job });
            }
            _ => self.background_job(&job, "-ERR INVALID_NUMBER_FORMAT\n"),
        }
        self.run();
        uuid
    }

    /// `sendmsg <uuid>` with `call-command: execute`: queues the application (the reply `+OK`
    /// means only queued). `event_uuid` comes back as `Application-UUID`.
    pub fn sendmsg_execute(
        &mut self,
        uuid: &str,
        app: &str,
        arg: &str,
        event_uuid: Option<&str>,
    ) -> Result<(), EngineError> {
        let id = self.id_of(uuid).ok_or(EngineError::NoSuchChannel)?;
        let call = AppCall {
            name: app.to_owned(),
            arg: arg.to_owned(),
            uuid: event_uuid.map(str::to_owned),
            sendmsg: true,
        };
        self.enqueue(id, call);
        self.run();
        Ok(())
    }

    /// `sendmsg <uuid>` with `call-command: hangup` (`hangup-cause`, default NORMAL_CLEARING).
    pub fn sendmsg_hangup(&mut self, uuid: &str, cause: Option<&str>) -> Result<(), EngineError> {
        let id = self.id_of(uuid).ok_or(EngineError::NoSuchChannel)?;
        let cause = cause
            .and_then(Cause::parse)
            .unwrap_or(Cause::NORMAL_CLEARING);
        self.hangup(id, cause);
        self.run();
        Ok(())
    }

    /// A call arrives: its parked leg runs `context`'s dialplan. The phone leg waits (as the
    /// captures' callers do, with `sleep`) until it is hung up.
    pub fn inbound_call(&mut self, call: &InboundCall) -> CallHandles {
        let mut vars = Vars::default();
        vars.set("origination_caller_id_number", &call.caller_number);
        vars.set("origination_caller_id_name", &call.caller_name);
        for (n, v) in &call.sip_headers {
            vars.set(&format!("sip_h_{n}"), v);
        }
        for (n, v) in &call.variables {
            vars.set(n, v);
        }
        let job = Job {
            uuid: String::new(),
            command: String::new(),
            arg: String::new(),
            then: vec![AppCall::new("sleep", "3600000")],
        };
        let kind = match &call.sip {
            Some((profile, host)) => PairKind::SipIn {
                profile: profile.clone(),
                host: host.clone(),
            },
            None => PairKind::Loopback,
        };
        let (a, b) = self.originate_pair(&kind, &call.destination, &call.context, vars, job);
        let handles = CallHandles {
            phone: self.chan(a).map(|c| c.uuid.clone()).unwrap_or_default(),
            parked: self.chan(b).map(|c| c.uuid.clone()).unwrap_or_default(),
        };
        self.work.push_back(Work::Step(b));
        self.run();
        handles
    }
}

/// `&app(args)` / `&app args` / `<extension> [dialplan] [context]` → what the answered leg runs.
fn then_apps(first: &str, rest: &[String]) -> Vec<AppCall> {
    if let Some(app) = first.strip_prefix('&') {
        let (name, arg) = match app.split_once('(') {
            Some((n, a)) => (n.to_owned(), a.trim_end_matches(')').to_owned()),
            None => (app.to_owned(), rest.join(" ")),
        };
        return vec![AppCall::new(&name, &arg)];
    }
    let context = rest.get(1).cloned().unwrap_or_else(|| "default".into());
    vec![AppCall::new("transfer", &format!("{first} XML {context}"))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_like_freeswitch() {
        assert_eq!(
            uptime(3_218_205),
            "UP 0 years, 0 days, 0 hours, 0 minutes, 3 seconds, 218 milliseconds, 205 microseconds"
        );
        assert_eq!(
            uptime(81_824_784),
            "UP 0 years, 0 days, 0 hours, 1 minute, 21 seconds, 824 milliseconds, 784 microseconds"
        );
    }

    #[test]
    fn originate_targets() {
        assert_eq!(then_apps("&park()", &[]), [AppCall::new("park", "")]);
        assert_eq!(
            then_apps("&sleep(3600000)", &[]),
            [AppCall::new("sleep", "3600000")]
        );
        assert_eq!(
            then_apps("1000", &["XML".into(), "buyers".into()]),
            [AppCall::new("transfer", "1000 XML buyers")]
        );
    }
}
