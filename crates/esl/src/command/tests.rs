use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

const UUID: &str = "44405c6c-4a87-499c-8d43-55c530c0583b";
const EV: &str = "16beb1bb-2239-4aa5-94d1-3c594704c586";

fn wire(cmd: &Command) -> String {
    let mut buf = BytesMut::new();
    cmd.encode(&mut buf);
    assert_eq!(buf.len(), cmd.encoded_len());
    String::from_utf8(buf.to_vec()).expect("utf-8")
}

/// Frames exactly one command out of `bytes` the way FreeSWITCH does (head up to the first
/// blank line, then `Content-Length` bytes) and fails if anything is left over: a left-over
/// would be an injected second command.
fn reparse(cmd: &Command) -> Command {
    let bytes = cmd.to_bytes();
    let end = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("blank line");
    let head = &bytes[..end];
    let rest = bytes.slice(end + 2..);
    let len = std::str::from_utf8(head)
        .expect("utf-8")
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.parse::<usize>().expect("length"));
    assert_eq!(rest.len(), len, "bytes after the command: {:?}", rest);
    let body = (len > 0).then_some(rest);
    let back = Command::parse(head, body).expect("parse");
    assert_eq!(&back, cmd);
    back
}

#[test]
fn encodes_simple_commands() {
    assert_eq!(
        wire(&Command::auth("ClueCon").expect("test input")),
        "auth ClueCon\n\n"
    );
    let ev = Command::event(EventFormat::Plain, &["ALL"]).expect("test input");
    assert_eq!(wire(&ev), "event plain ALL\n\n");
    assert_eq!(wire(&Command::exit()), "exit\n\n");
    assert_eq!(wire(&Command::linger(None)), "linger\n\n");
    assert_eq!(wire(&Command::linger(Some(3))), "linger 3\n\n");
    assert_eq!(wire(&Command::myevents(None)), "myevents\n\n");
    assert_eq!(
        wire(&Command::myevents(Some(EventFormat::Json))),
        "myevents json\n\n"
    );
}

#[test]
fn encodes_bgapi_with_job_uuid() {
    let cmd = Command::bgapi("status", "7a92e529-07c6-4d23-bdfe-bf72dd1c7639").expect("test input");
    assert_eq!(
        wire(&cmd),
        "bgapi status\nJob-UUID: 7a92e529-07c6-4d23-bdfe-bf72dd1c7639\n\n"
    );
}

#[test]
fn encodes_sendmsg_execute_in_capture_order() {
    let cmd = Command::sendmsg_execute(Some(UUID), "set", Some("hangup_after_bridge=true"), EV)
        .expect("test input");
    assert_eq!(
        wire(&cmd),
        format!(
            "sendmsg {UUID}\ncall-command: execute\nexecute-app-name: set\n\
             execute-app-arg: hangup_after_bridge=true\nevent-lock: true\nEvent-UUID: {EV}\n\n"
        )
    );
    let answer = Command::sendmsg_execute(None, "answer", None, EV).expect("test input");
    assert_eq!(
        wire(&answer),
        format!(
            "sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\nEvent-UUID: {EV}\n\n"
        )
    );
}

#[test]
fn multi_line_app_arg_travels_as_body() {
    let cmd = Command::sendmsg_execute(Some(UUID), "log", Some("a\nb"), EV).expect("test input");
    assert_eq!(
        wire(&cmd),
        format!(
            "sendmsg {UUID}\ncall-command: execute\nexecute-app-name: log\nevent-lock: true\n\
             Event-UUID: {EV}\ncontent-type: text/plain\nContent-Length: 3\n\na\nb"
        )
    );
    let back = reparse(&cmd);
    let CommandKind::SendMsg(msg) = back.kind() else {
        panic!("not sendmsg")
    };
    assert_eq!(msg.app_arg.as_deref(), Some("a\nb"));
}

#[test]
fn encodes_sendmsg_hangup() {
    let cmd = Command::sendmsg_hangup(Some(UUID), "NORMAL_TEMPORARY_FAILURE").expect("test input");
    assert_eq!(
        wire(&cmd),
        format!("sendmsg {UUID}\ncall-command: hangup\nhangup-cause: NORMAL_TEMPORARY_FAILURE\n\n")
    );
    assert!(Command::sendmsg_hangup(Some(UUID), "NORMAL\nexit").is_err());
}

#[test]
fn refuses_line_breaks_everywhere() {
    assert_eq!(
        Command::auth("ClueCon\n\napi status"),
        Err(CommandError::LineBreak { field: "password" })
    );
    assert!(Command::api("status\n\nexit").is_err());
    assert!(Command::api("status\rexit").is_err());
    assert!(Command::bgapi("status", "x\nJob-UUID: y").is_err());
    assert!(Command::raw("exit\n").is_err());
    assert!(Command::filter("Unique-ID", "x\n\nexit").is_err());
    assert!(Command::event(EventFormat::Plain, &["ALL\n\nexit"]).is_err());
    assert!(Command::exit().with_header("a\nb", "c").is_err());
    assert!(Command::exit().with_header("a", "c\r\nexit").is_err());
    assert!(Command::exit().with_header("a: b", "c").is_err());
    assert!(Command::exit().with_header("Content-Length", "9").is_err());
}

#[test]
fn uuids_must_be_single_tokens() {
    for bad in ["", "a b", "a\nb", "x;rm", "a/b", &"a".repeat(129)] {
        assert!(
            Command::sendmsg_hangup(Some(bad), "NORMAL_CLEARING").is_err(),
            "{bad:?}"
        );
        assert!(ApiCommand::uuid_kill(bad, None).is_err(), "{bad:?}");
    }
}

#[test]
fn parses_crlf_and_kinds() {
    let cmd = Command::parse(
        b"sendmsg abc\r\ncall-command: hangup\r\nhangup-cause:  USER_BUSY\r",
        None,
    )
    .expect("test input");
    assert_eq!(
        cmd.kind(),
        CommandKind::SendMsg(SendMsg {
            uuid: Some("abc".into()),
            call_command: Some("hangup".into()),
            hangup_cause: Some("USER_BUSY".into()),
            ..SendMsg::default()
        })
    );
    let kind = |t: &str| {
        Command::parse(t.as_bytes(), None)
            .expect("test input")
            .kind()
    };
    assert_eq!(
        kind("parkway_no_such_command"),
        CommandKind::Unknown {
            line: "parkway_no_such_command".into()
        }
    );
    assert_eq!(
        kind("api status"),
        CommandKind::Api {
            cmd: "status".into(),
            args: None
        }
    );
    assert_eq!(
        kind("api show channels as json"),
        CommandKind::Api {
            cmd: "show".into(),
            args: Some("channels as json".into())
        }
    );
    assert_eq!(
        kind("event json ALL"),
        CommandKind::Event {
            format: EventFormat::Json,
            events: vec!["ALL".into()]
        }
    );
    assert_eq!(
        kind("event plain CUSTOM sofia::register"),
        CommandKind::Event {
            format: EventFormat::Plain,
            events: vec!["CUSTOM".into(), "sofia::register".into()]
        }
    );
    assert_eq!(kind("linger"), CommandKind::Linger { secs: None });
    assert_eq!(kind("linger 3"), CommandKind::Linger { secs: Some(3) });
    assert_eq!(
        kind("myevents"),
        CommandKind::MyEvents {
            uuid: None,
            format: EventFormat::Plain
        }
    );
    assert_eq!(
        kind("myevents json"),
        CommandKind::MyEvents {
            uuid: None,
            format: EventFormat::Json
        }
    );
    assert_eq!(
        kind("myevents abc xml"),
        CommandKind::MyEvents {
            uuid: Some("abc".into()),
            format: EventFormat::Xml
        }
    );
    assert_eq!(
        kind("filter delete all"),
        CommandKind::FilterDelete {
            header: "all".into(),
            value: None
        }
    );
    assert_eq!(
        kind("filter Unique-ID abc"),
        CommandKind::Filter {
            header: "Unique-ID".into(),
            value: "abc".into()
        }
    );
    assert_eq!(kind("connect"), CommandKind::Connect);
    assert_eq!(kind("nolinger"), CommandKind::NoLinger);
    assert_eq!(kind("resume"), CommandKind::Resume);
    assert_eq!(kind("noevents"), CommandKind::NoEvents);
    assert_eq!(kind("nolog"), CommandKind::NoLog);
    assert_eq!(
        kind("log debug"),
        CommandKind::Log {
            level: Some("debug".into())
        }
    );
    assert_eq!(
        kind("divert_events on"),
        CommandKind::DivertEvents { on: true }
    );
}

#[test]
fn parse_rejects_bad_input() {
    assert_eq!(Command::parse(b"", None), Err(CommandError::EmptyCommand));
    assert_eq!(
        Command::parse(&[0xff, b'x'], None),
        Err(CommandError::NotUtf8)
    );
    assert!(matches!(
        Command::parse(b"sendmsg\nno colon here", None),
        Err(CommandError::MalformedHeader { .. })
    ));
    assert!(matches!(
        Command::parse(
            b"sendmsg\nContent-Length: 5",
            Some(Bytes::from_static(b"abc"))
        ),
        Err(CommandError::BodyLength { .. })
    ));
    assert!(matches!(
        Command::parse(b"sendmsg\nContent-Length: x", None),
        Err(CommandError::BodyLength { .. })
    ));
    assert!(matches!(
        Command::parse(b"sendmsg", Some(Bytes::from_static(b"abc"))),
        Err(CommandError::BodyLength { .. })
    ));
}

#[test]
fn api_helpers_follow_mod_commands_syntax() {
    let a = "b35470be-34d1-4a0f-b099-6d4cc9610cde";
    let b = "00746fd5-c064-4f0c-b4a0-2d81a8dedc9c";
    let text = |c: Result<ApiCommand, CommandError>| c.expect("test input").as_str().to_owned();
    assert_eq!(
        text(ApiCommand::uuid_bridge(a, b)),
        format!("uuid_bridge {a} {b}")
    );
    assert_eq!(
        text(ApiCommand::uuid_kill(a, None)),
        format!("uuid_kill {a}")
    );
    assert_eq!(
        text(ApiCommand::uuid_kill(a, Some("NORMAL_CLEARING"))),
        format!("uuid_kill {a} NORMAL_CLEARING")
    );
    assert_eq!(text(ApiCommand::uuid_exists(a)), format!("uuid_exists {a}"));
    assert_eq!(
        text(ApiCommand::uuid_getvar(a, "sip_h_X-Campaign")),
        format!("uuid_getvar {a} sip_h_X-Campaign")
    );
    assert_eq!(
        text(ApiCommand::uuid_send_dtmf(a, "9")),
        format!("uuid_send_dtmf {a} 9")
    );
    assert_eq!(
        text(ApiCommand::uuid_broadcast(
            a,
            "whisper.wav",
            BroadcastLeg::ALeg
        )),
        format!("uuid_broadcast {a} whisper.wav aleg")
    );
    assert_eq!(
        text(ApiCommand::uuid_setvar(a, "name", Some("Maria Lopez"))),
        format!("uuid_setvar {a} name 'Maria Lopez'")
    );
    assert!(ApiCommand::uuid_getvar(a, "x y").is_err());
    assert!(ApiCommand::uuid_send_dtmf(a, "1 2").is_err());
    assert!(ApiCommand::uuid_broadcast(a, "a b.wav", BroadcastLeg::Both).is_err());
    assert!(ApiCommand::uuid_kill(a, Some("normal clearing")).is_err());
}

proptest! {
    /// A setvar value, however hostile, comes back as one argument.
    #[test]
    fn setvar_value_stays_one_argument(value in "[ -~]{1,24}") {
        let cmd = ApiCommand::uuid_setvar(UUID, "v", Some(&value)).expect("test input");
        let args = split_api_args(cmd.as_str().strip_prefix("uuid_setvar ").expect("test input"));
        prop_assert_eq!(args, vec![UUID.to_owned(), "v".to_owned(), value]);
    }

    #[test]
    fn auth_round_trips(pw in "[ -~\n\r]{0,16}") {
        match Command::auth(&pw) {
            Ok(cmd) => {
                prop_assert_eq!(reparse(&cmd).kind(), CommandKind::Auth { password: pw });
            }
            Err(_) => prop_assert!(
                pw.is_empty() || pw.contains(['\n', '\r']) || pw.starts_with(' ') || pw.ends_with(' ')
            ),
        }
    }

    #[test]
    fn event_round_trips(names in proptest::collection::vec("[ -~\n]{1,12}", 0..4), f in 0..3usize) {
        let format = [EventFormat::Plain, EventFormat::Json, EventFormat::Xml][f];
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match Command::event(format, &refs) {
            Ok(cmd) => prop_assert_eq!(reparse(&cmd).kind(), CommandKind::Event { format, events: names }),
            Err(_) => prop_assert!(names.iter().any(|n| n.contains([' ', '\n']))),
        }
    }

    #[test]
    fn filter_round_trips(h in "[ -~\n]{1,12}", v in "[ -~\r]{1,12}") {
        match Command::filter(&h, &v) {
            Ok(cmd) => prop_assert_eq!(reparse(&cmd).kind(), CommandKind::Filter { header: h.clone(), value: v.clone() }),
            // The header is one token; the value is the rest of the line.
            Err(_) => prop_assert!(
                h.contains([' ', '\n']) || ["add", "delete"].iter().any(|w| h.eq_ignore_ascii_case(w))
                    || v.contains('\r') || v.starts_with(' ') || v.ends_with(' ')
            ),
        }
        if let Ok(cmd) = Command::filter_delete(&h, Some(&v)) {
            prop_assert_eq!(reparse(&cmd).kind(), CommandKind::FilterDelete { header: h, value: Some(v) });
        }
    }

    #[test]
    fn api_and_bgapi_round_trip(cmd in "[a-z_]{1,10}", args in "[ -~\n\r]{0,30}", job in "[ -~\n]{1,40}") {
        let text = if args.is_empty() { cmd.clone() } else { format!("{cmd} {args}") };
        let expect_args = (!args.is_empty()).then(|| args.clone());
        match Command::api(&text) {
            Ok(c) => prop_assert_eq!(reparse(&c).kind(), CommandKind::Api { cmd: cmd.clone(), args: expect_args.clone() }),
            Err(_) => prop_assert!(args.contains(['\n', '\r'])),
        }
        match Command::bgapi(&text, &job) {
            Ok(c) => prop_assert_eq!(
                reparse(&c).kind(),
                CommandKind::BgApi { cmd, args: expect_args, job_uuid: Some(job) }
            ),
            Err(_) => prop_assert!(args.contains(['\n', '\r']) || check_uuid("j", &job).is_err()),
        }
    }

    #[test]
    fn sendmsg_round_trips(
        uuid in proptest::option::of("[0-9a-f-]{1,36}"),
        app in "[ -~\n]{1,10}",
        arg in proptest::option::of("[ -~\n\r]{0,40}"),
        ev in "[0-9a-f-]{1,36}",
        cause in "[A-Z_]{1,20}",
    ) {
        match Command::sendmsg_execute(uuid.as_deref(), &app, arg.as_deref(), &ev) {
            Ok(cmd) => {
                let expected = SendMsg {
                    uuid: uuid.clone(),
                    call_command: Some("execute".into()),
                    app_name: Some(app),
                    app_arg: arg.filter(|a| !a.is_empty()),
                    event_lock: true,
                    event_uuid: Some(ev),
                    ..SendMsg::default()
                };
                prop_assert_eq!(reparse(&cmd).kind(), CommandKind::SendMsg(expected));
            }
            Err(_) => prop_assert!(app.contains([' ', '\n'])),
        }
        let cmd = Command::sendmsg_hangup(uuid.as_deref(), &cause).expect("test input");
        let expected = SendMsg {
            uuid,
            call_command: Some("hangup".into()),
            hangup_cause: Some(cause),
            ..SendMsg::default()
        };
        prop_assert_eq!(reparse(&cmd).kind(), CommandKind::SendMsg(expected));
    }

    #[test]
    fn session_commands_round_trip(secs in proptest::option::of(0u32..100_000), f in proptest::option::of(0..3usize), uuid in "[0-9a-f-]{1,36}") {
        prop_assert_eq!(reparse(&Command::linger(secs)).kind(), CommandKind::Linger { secs: secs.map(i64::from) });
        let format = f.map(|i| [EventFormat::Plain, EventFormat::Json, EventFormat::Xml][i]);
        prop_assert_eq!(
            reparse(&Command::myevents(format)).kind(),
            CommandKind::MyEvents { uuid: None, format: format.unwrap_or(EventFormat::Plain) }
        );
        prop_assert_eq!(
            reparse(&Command::myevents_uuid(&uuid, format).expect("test input")).kind(),
            CommandKind::MyEvents { uuid: Some(uuid), format: format.unwrap_or(EventFormat::Plain) }
        );
        for (cmd, kind) in [
            (Command::nolinger(), CommandKind::NoLinger),
            (Command::noevents(), CommandKind::NoEvents),
            (Command::exit(), CommandKind::Exit),
            (Command::connect(), CommandKind::Connect),
            (Command::resume(), CommandKind::Resume),
            (Command::nolog(), CommandKind::NoLog),
            (Command::divert_events(true), CommandKind::DivertEvents { on: true }),
            (Command::divert_events(false), CommandKind::DivertEvents { on: false }),
            (Command::log("debug").expect("test input"), CommandKind::Log { level: Some("debug".into()) }),
            (Command::nixevent(&["DTMF", "CHANNEL_PARK"]).expect("test input"), CommandKind::NixEvent { events: vec!["DTMF".into(), "CHANNEL_PARK".into()] }),
        ] {
            prop_assert_eq!(reparse(&cmd).kind(), kind);
        }
    }

    /// Arbitrary header values: accepted ones come back unchanged and never add a command.
    #[test]
    fn hostile_headers_never_inject(name in "[ -~\n\r]{1,12}", value in "[ -~\n\r]{0,30}") {
        if let Ok(cmd) = Command::exit().with_header(&name, &value) {
            let back = reparse(&cmd);
            prop_assert_eq!(back.header(&name), Some(value.as_str()));
        }
    }
}

/// `mod_event_socket.c` takes the rest of the line as `auth`'s password and as a filter's value.
#[test]
fn auth_and_filter_values_keep_inner_spaces() {
    let auth = Command::auth("Clue Con 2").expect("test input");
    assert_eq!(wire(&auth), "auth Clue Con 2\n\n");
    assert_eq!(
        reparse(&auth).kind(),
        CommandKind::Auth {
            password: "Clue Con 2".into()
        }
    );
    let filter = Command::filter("Caller-Caller-ID-Name", "John Smith").expect("test input");
    assert_eq!(wire(&filter), "filter Caller-Caller-ID-Name John Smith\n\n");
    assert_eq!(
        reparse(&filter).kind(),
        CommandKind::Filter {
            header: "Caller-Caller-ID-Name".into(),
            value: "John Smith".into()
        }
    );
    for bad in ["", " lead", "trail ", "a\rb", "a\nb"] {
        assert!(Command::auth(bad).is_err(), "{bad:?}");
        assert!(Command::filter("H", bad).is_err(), "{bad:?}");
    }
    assert!(Command::filter("Two words", "v").is_err());
}
