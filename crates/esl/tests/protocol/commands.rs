//! Commands and dial strings against the bytes a real FreeSWITCH 1.10.12 client sent
//! (`captures/*.sent`, real FreeSWITCH 1.10.12 captures), plus round-trip properties.

use bytes::{Bytes, BytesMut};
use parkway_esl::command::{
    ApiCommand, BroadcastLeg, Command, CommandKind, EventFormat, OriginateTarget, SendMsg,
    split_api_args,
};
use parkway_esl::dialstring::{
    Branch, DialString, DialStringError, Endpoint, Group, Leg, MAX_PEERS, Quoting, Vars,
};
use proptest::prelude::*;

use crate::common::CAPTURES;

fn sent(name: &str) -> Vec<u8> {
    let path = format!("{}/../../captures/{name}.sent", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Splits a client byte stream into (head, body) the way FreeSWITCH frames it.
fn frames(bytes: &[u8]) -> Vec<(Vec<u8>, Option<Bytes>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\n\n")
            .expect("every command ends with a blank line");
        let head = rest[..end].to_vec();
        let len = String::from_utf8_lossy(&head)
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: ").map(str::to_owned))
            .map_or(0, |n| n.parse::<usize>().expect("length"));
        let body = (len > 0).then(|| Bytes::copy_from_slice(&rest[end + 2..end + 2 + len]));
        rest = &rest[end + 2 + len..];
        out.push((head, body));
    }
    out
}

fn wire(commands: &[Command]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for c in commands {
        c.encode(&mut buf);
    }
    buf.to_vec()
}

fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn buyer(ext: &str) -> Endpoint {
    Endpoint::Loopback {
        ext: ext.into(),
        context: Some("buyers".into()),
    }
}

/// The test caller: `bgapi originate {…}loopback/18005550199/public &sleep(3600000)`.
fn caller(uuid: &str, call_id: &str, job: &str) -> Command {
    let dial = DialString::new(
        vars(&[
            ("origination_uuid", uuid),
            ("origination_caller_id_number", "+13055550123"),
            ("origination_caller_id_name", "Maria Lopez"),
            ("originate_timeout", "3600"),
            ("sleep_eat_digits", "true"),
            ("playback_terminators", "none"),
            ("sip_h_X-Campaign", "solar"),
            ("parkway_call_id", call_id),
        ]),
        vec![Group::of(vec![Leg::new(
            vec![],
            Endpoint::Loopback {
                ext: "18005550199".into(),
                context: Some("public".into()),
            },
        )])],
    );
    let target = OriginateTarget::App {
        name: "sleep".into(),
        arg: Some("3600000".into()),
    };
    Command::bgapi(ApiCommand::originate(&dial, &target).unwrap(), job).unwrap()
}

fn execute(uuid: Option<&str>, app: &str, arg: Option<&str>, ev: &str) -> Command {
    Command::sendmsg_execute(uuid, app, arg, ev).unwrap()
}

#[test]
fn every_captured_command_parses_and_re_encodes_byte_for_byte() {
    for name in CAPTURES {
        let bytes = sent(name);
        let mut again = BytesMut::new();
        for (head, body) in frames(&bytes) {
            let cmd = Command::parse(&head, body).unwrap_or_else(|e| panic!("{name}: {e}"));
            cmd.encode(&mut again);
        }
        assert_eq!(again.to_vec(), bytes, "{name}");
    }
}

#[test]
fn reproduces_inbound_plain() {
    let parked = "44405c6c-4a87-499c-8d43-55c530c0583b";
    let bridge = DialString::new(
        vars(&[
            ("parkway_call_id", "pk-dab34f92-dc48"),
            ("ignore_early_media", "true"),
        ]),
        vec![Group::of(vec![Leg::new(
            vars(&[("parkway_buyer", "b1"), ("leg_timeout", "20")]),
            buyer("answer_dtmf"),
        )])],
    )
    .encode()
    .unwrap();
    let getvar = |v: &str| Command::api(ApiCommand::uuid_getvar(parked, v).unwrap()).unwrap();
    let commands = [
        Command::auth("ClueCon").unwrap(),
        Command::event(EventFormat::Plain, &["ALL"]).unwrap(),
        caller(
            "e21f6ab9-01d2-4b3a-85a2-8b554eeabd6c",
            "pk-dab34f92-dc48",
            "7a92e529-07c6-4d23-bdfe-bf72dd1c7639",
        ),
        Command::api("status").unwrap(),
        Command::api("global_getvar domain").unwrap(),
        getvar("parkway_call_id"),
        getvar("sip_h_X-Campaign"),
        getvar("no_such_variable"),
        Command::api("parkway_no_such_command").unwrap(),
        Command::raw("parkway_no_such_command").unwrap(),
        execute(
            Some(parked),
            "set",
            Some("hangup_after_bridge=true"),
            "16beb1bb-2239-4aa5-94d1-3c594704c586",
        ),
        execute(
            Some(parked),
            "bridge",
            Some(&bridge),
            "4ec8b30e-6b27-4eb9-8117-9e9fc1387b38",
        ),
        Command::exit(),
    ];
    assert_eq!(
        String::from_utf8(wire(&commands)).unwrap(),
        String::from_utf8(sent("inbound_plain")).unwrap()
    );
}

#[test]
fn reproduces_group_simultaneous_and_sequential() {
    let parked = "85c6d40a-f987-4897-8571-d6b98bf5ce4e";
    let leg = |t: &str, b: &str, ext: &str| {
        Leg::new(
            vars(&[("leg_timeout", t), ("parkway_buyer", b)]),
            buyer(ext),
        )
    };
    let simultaneous = DialString::new(
        vars(&[
            ("ignore_early_media", "true"),
            ("originate_timeout", "30"),
            ("parkway_call_id", "pk-36f18d11-4f37"),
            ("group_confirm_key", "exec"),
            ("group_confirm_file", "playback whisper.wav"),
            ("group_confirm_cancel_timeout", "1"),
        ]),
        vec![Group::of(vec![
            leg("20", "b1", "no_answer"),
            leg("20", "b2", "answer_dtmf"),
        ])],
    );
    let commands = [
        Command::auth("ClueCon").unwrap(),
        Command::event(EventFormat::Plain, &["ALL"]).unwrap(),
        caller(
            "7b27682f-34a3-4e76-aca9-e50282ada7cc",
            "pk-36f18d11-4f37",
            "0ec558d2-c053-491c-a9fc-f7df324941e0",
        ),
        execute(
            Some(parked),
            "set",
            Some("hangup_after_bridge=true"),
            "27fdc04f-f493-4099-8e35-d9d0fa0b2f4f",
        ),
        execute(
            Some(parked),
            "bridge",
            Some(&simultaneous.encode().unwrap()),
            "27ab2de8-ad83-4b8d-b289-a99a51591901",
        ),
        Command::exit(),
    ];
    assert_eq!(wire(&commands), sent("group_simultaneous"));

    let sequential = DialString::new(
        vars(&[
            ("ignore_early_media", "true"),
            ("originate_timeout", "60"),
            ("parkway_call_id", "pk-6e4cec7f-7fff"),
        ]),
        vec![
            Group::of(vec![leg("10", "b1", "busy")]),
            Group::of(vec![leg("4", "b2", "no_answer")]),
            Group::of(vec![leg("20", "b3", "answer_talk")]),
        ],
    );
    let bytes = sent("group_sequential");
    let (head, body) = frames(&bytes).swap_remove(4);
    let captured = Command::parse(&head, body).unwrap();
    let CommandKind::SendMsg(SendMsg {
        app_arg: Some(arg), ..
    }) = captured.kind()
    else {
        panic!("not a sendmsg")
    };
    assert_eq!(DialString::parse_app_arg(&arg), Ok(sequential.clone()));
    assert_eq!(sequential.encode(), Ok(arg));
}

#[test]
fn reproduces_originate_uuid_bridge() {
    let parked = "b35470be-34d1-4a0f-b099-6d4cc9610cde";
    let buyer_leg = |uuid: &str, b: &str, ext: &str, job: &str| {
        let dial = DialString::new(
            vars(&[
                ("origination_uuid", uuid),
                ("parkway_call_id", "pk-a2cd34a1-0b96"),
                ("parkway_buyer", b),
                ("originate_timeout", "20"),
                ("ignore_early_media", "true"),
            ]),
            vec![Group::of(vec![Leg::new(vec![], buyer(ext))])],
        );
        let park = OriginateTarget::App {
            name: "park".into(),
            arg: None,
        };
        Command::bgapi(ApiCommand::originate(&dial, &park).unwrap(), job).unwrap()
    };
    let commands = [
        Command::auth("ClueCon").unwrap(),
        Command::event(EventFormat::Plain, &["ALL"]).unwrap(),
        caller(
            "cec82da6-f80f-4c5c-b1c3-95e3cb157227",
            "pk-a2cd34a1-0b96",
            "6c217ad7-3e84-4512-8d42-a90e167ec783",
        ),
        buyer_leg(
            "ebcabd9c-6c26-47ad-9371-8e3abf72eb46",
            "b1",
            "busy",
            "79fe1aac-bf59-4f14-bf65-7b118a7379fd",
        ),
        buyer_leg(
            "00746fd5-c064-4f0c-b4a0-2d81a8dedc9c",
            "b2",
            "answer_dtmf",
            "1a55f8f6-0cdf-4521-b24a-ff3ce2ca78b7",
        ),
        execute(
            Some(parked),
            "answer",
            None,
            "305c4cc3-bf65-4052-bc7a-905b565fc71e",
        ),
        Command::api(
            ApiCommand::uuid_bridge(parked, "00746fd5-c064-4f0c-b4a0-2d81a8dedc9c").unwrap(),
        )
        .unwrap(),
        Command::api(ApiCommand::uuid_exists(parked).unwrap()).unwrap(),
        Command::exit(),
    ];
    assert_eq!(wire(&commands), sent("originate_uuid_bridge"));
}

#[test]
fn reproduces_all_fail_hangup_and_outbound_plain() {
    let bytes = sent("all_fail");
    let all = frames(&bytes);
    let uuid = "9ed6d4e3-36ff-4fb8-9f10-4ac118d0a026";
    let tail = [
        Command::api(ApiCommand::uuid_exists(uuid).unwrap()).unwrap(),
        Command::api(ApiCommand::uuid_getvar(uuid, "originate_disposition").unwrap()).unwrap(),
        execute(
            Some(uuid),
            "answer",
            None,
            "2ad3fb85-f588-486c-b04b-31dafd18582e",
        ),
        execute(
            Some(uuid),
            "playback",
            Some("fallback.wav"),
            "ea45691b-2ae7-4381-ab2c-95fd8d4270e4",
        ),
        Command::sendmsg_hangup(Some(uuid), "NORMAL_TEMPORARY_FAILURE").unwrap(),
        Command::exit(),
    ];
    let captured_tail: Vec<Command> = all[all.len() - tail.len()..]
        .iter()
        .map(|(h, b)| Command::parse(h, b.clone()).unwrap())
        .collect();
    assert_eq!(wire(&captured_tail), wire(&tail));

    let outbound = [
        Command::connect(),
        Command::myevents(None),
        Command::linger(None),
        execute(
            None,
            "set",
            Some("hangup_after_bridge=true"),
            "062d8314-e5fa-4739-bf63-02f8ce1a8b17",
        ),
        execute(None, "answer", None, "ea30b14b-0296-4c6f-b49f-20d163d79244"),
        execute(
            None,
            "playback",
            Some("tone_stream://%(1000,0,620)"),
            "0b61a950-a620-45cc-ba99-ea8db605648e",
        ),
        execute(
            None,
            "bridge",
            Some("{parkway_call_id=pk-2c5835c5-d701}[parkway_buyer=b1]loopback/answer_dtmf/buyers"),
            "6d6898cd-3d04-4b4d-8372-79c55b12bc88",
        ),
        Command::exit(),
    ];
    assert_eq!(wire(&outbound), sent("outbound_plain"));
}

#[test]
fn captured_kinds_dispatch() {
    let bytes = sent("dtmf_variants");
    let kinds: Vec<CommandKind> = frames(&bytes)
        .into_iter()
        .map(|(h, b)| Command::parse(&h, b).unwrap().kind())
        .collect();
    assert_eq!(
        kinds[2],
        CommandKind::BgApi {
            cmd: "originate".into(),
            args: Some("{origination_uuid=c1676e4b-3f24-4ea3-ab06-7396b0e350a1,origination_caller_id_number=+13055550123,origination_caller_id_name='Maria Lopez',originate_timeout=3600,sleep_eat_digits=true,playback_terminators=none,sip_h_X-Campaign=solar,parkway_call_id=pk-5885efc2-aab7}loopback/18005550199/public &sleep(3600000)".into()),
            job_uuid: Some("800f37fa-3978-493a-a26e-ab6d8264b82b".into()),
        }
    );
    let CommandKind::SendMsg(msg) = &kinds[4] else {
        panic!("not sendmsg")
    };
    let arg = msg.app_arg.as_deref().unwrap();
    let leg = &DialString::parse_app_arg(arg).unwrap().branches[0].groups[0].legs[0];
    assert_eq!(
        leg.endpoint,
        Endpoint::Sofia {
            profile: "parkway".into(),
            dest: "answer_dtmf@127.0.0.1:5080".into()
        }
    );
    assert_eq!(
        kinds[kinds.len() - 2],
        CommandKind::Api {
            cmd: "uuid_kill".into(),
            args: Some("4ff11074-12eb-4f30-a9a9-4229f62123b3".into())
        }
    );
    assert_eq!(kinds.last(), Some(&CommandKind::Exit));
    let send_dtmf =
        ApiCommand::uuid_send_dtmf("2c230d03-0e11-4e6e-b345-25bf22b5409b", "9").unwrap();
    assert_eq!(
        Command::api(send_dtmf).unwrap().to_bytes(),
        Command::parse(&frames(&bytes)[11].0, None)
            .unwrap()
            .to_bytes()
    );
    let broadcast = ApiCommand::uuid_broadcast(
        "2c230d03-0e11-4e6e-b345-25bf22b5409b",
        "whisper.wav",
        BroadcastLeg::BLeg,
    )
    .unwrap();
    assert!(broadcast.as_str().ends_with(" whisper.wav bleg"));
}

#[test]
fn the_simulator_can_run_a_captured_originate() {
    let bytes = sent("inbound_plain");
    let (head, body) = frames(&bytes).swap_remove(2);
    let CommandKind::BgApi { cmd, args, .. } = Command::parse(&head, body).unwrap().kind() else {
        panic!("not bgapi")
    };
    assert_eq!(cmd, "originate");
    let args = split_api_args(&args.unwrap());
    assert_eq!(args.len(), 2);
    assert_eq!(args[1], "&sleep(3600000)");
    let dial = DialString::parse(&args[0]).unwrap();
    let globals = &dial.branches[0].global_vars;
    assert!(globals.contains(&("origination_caller_id_name".into(), "Maria Lopez".into())));
    assert_eq!(
        dial.legs().map(|l| l.endpoint.clone()).collect::<Vec<_>>(),
        vec![Endpoint::Loopback {
            ext: "18005550199".into(),
            context: Some("public".into())
        }]
    );
}

// ---- dial strings from the captures, parsed with concrete values ----

#[test]
fn parses_the_simultaneous_capture() {
    let text = "{ignore_early_media=true,originate_timeout=30,parkway_call_id=pk-36f18d11-4f37,group_confirm_key=exec,group_confirm_file=playback whisper.wav,group_confirm_cancel_timeout=1}[leg_timeout=20,parkway_buyer=b1]loopback/no_answer/buyers,[leg_timeout=20,parkway_buyer=b2]loopback/answer_dtmf/buyers";
    let expected = DialString::new(
        vars(&[
            ("ignore_early_media", "true"),
            ("originate_timeout", "30"),
            ("parkway_call_id", "pk-36f18d11-4f37"),
            ("group_confirm_key", "exec"),
            ("group_confirm_file", "playback whisper.wav"),
            ("group_confirm_cancel_timeout", "1"),
        ]),
        vec![Group::of(vec![
            Leg::new(
                vars(&[("leg_timeout", "20"), ("parkway_buyer", "b1")]),
                buyer("no_answer"),
            ),
            Leg::new(
                vars(&[("leg_timeout", "20"), ("parkway_buyer", "b2")]),
                buyer("answer_dtmf"),
            ),
        ])],
    );
    assert_eq!(DialString::parse(text), Ok(expected.clone()));
    assert_eq!(expected.encode().as_deref(), Ok(text));
}

#[test]
fn parses_the_sequential_capture() {
    let text = "{ignore_early_media=true,originate_timeout=60,parkway_call_id=pk-6e4cec7f-7fff}[leg_timeout=10,parkway_buyer=b1]loopback/busy/buyers|[leg_timeout=4,parkway_buyer=b2]loopback/no_answer/buyers|[leg_timeout=20,parkway_buyer=b3]loopback/answer_talk/buyers";
    let parsed = DialString::parse(text).unwrap();
    assert_eq!(parsed.branches.len(), 1);
    let groups = &parsed.branches[0].groups;
    assert_eq!(groups.len(), 3);
    let summary: Vec<(String, String, Endpoint)> = groups
        .iter()
        .map(|g| {
            assert_eq!(g.legs.len(), 1);
            let leg = &g.legs[0];
            (
                leg.vars[0].1.clone(),
                leg.vars[1].1.clone(),
                leg.endpoint.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("10".into(), "b1".into(), buyer("busy")),
            ("4".into(), "b2".into(), buyer("no_answer")),
            ("20".into(), "b3".into(), buyer("answer_talk")),
        ]
    );
    assert_eq!(parsed.encode().as_deref(), Ok(text));
}

// ---- dial strings: FreeSWITCH syntax, endpoints and refusals ----

#[test]
fn parses_freeswitch_escapes_and_enterprise() {
    let text = "<ent=1>{a='x,y',b=p\\,q}[c=r\\,s,d=t]sofia/gateway/gw1/+15551234:_:[^^;e=1,2;f=3]user/1000@example.com";
    let parsed = DialString::parse(text).unwrap();
    assert_eq!(parsed.enterprise_vars, vars(&[("ent", "1")]));
    assert_eq!(parsed.branches.len(), 2);
    assert_eq!(
        parsed.branches[0].global_vars,
        vars(&[("a", "x,y"), ("b", "p,q")])
    );
    let first = &parsed.branches[0].groups[0].legs[0];
    assert_eq!(first.vars, vars(&[("c", "r,s"), ("d", "t")]));
    assert_eq!(
        first.endpoint,
        Endpoint::SofiaGateway {
            gateway: "gw1".into(),
            number: "+15551234".into()
        }
    );
    let second = &parsed.branches[1].groups[0].legs[0];
    assert_eq!(second.vars, vars(&[("e", "1,2"), ("f", "3")]));
    assert_eq!(
        second.endpoint,
        Endpoint::User {
            id: "1000@example.com".into()
        }
    );
}

#[test]
fn refuses_what_cannot_be_made_safe() {
    let leg = |k: &str, v: &str| {
        DialString::new(
            vec![],
            vec![Group::of(vec![Leg::new(
                vars(&[(k, v)]),
                Endpoint::User { id: "1".into() },
            )])],
        )
        .encode()
    };
    for bad in [
        "a]b",
        "a}b",
        "x:_:y",
        "${system(rm)}",
        "a\\b",
        "it's",
        " lead",
        "trail ",
        "a\nb",
        "",
    ] {
        assert!(leg("k", bad).is_err(), "{bad:?}");
    }
    assert!(matches!(
        leg("bad name", "v"),
        Err(DialStringError::InvalidName { .. })
    ));
    let raw = |e: &str| {
        DialString::new(
            vec![],
            vec![Group::of(vec![Leg::new(vec![], Endpoint::Raw(e.into()))])],
        )
        .encode()
    };
    for bad in ["a,b", "a|b", "x:_:y", "a b", "", "^^:x", "a'b", "gw/1:_"] {
        assert!(raw(bad).is_err(), "{bad:?}");
    }
    let slash = Endpoint::Sofia {
        profile: "a/b".into(),
        dest: "c".into(),
    };
    assert!(
        DialString::new(vec![], vec![Group::of(vec![Leg::new(vec![], slash)])])
            .encode()
            .is_err()
    );
    assert_eq!(DialString::default().encode(), Err(DialStringError::NoLegs));
    let twice = DialString::new(
        vars(&[("a", "1"), ("a", "2")]),
        vec![Group::of(vec![Leg::new(
            vec![],
            Endpoint::User { id: "1".into() },
        )])],
    );
    assert!(matches!(
        twice.encode(),
        Err(DialStringError::DuplicateName { .. })
    ));
    let many = Group::of(vec![
        Leg::new(vec![], Endpoint::User { id: "1".into() });
        MAX_PEERS + 1
    ]);
    assert!(matches!(
        DialString::new(vec![], vec![many]).encode(),
        Err(DialStringError::TooMany { .. })
    ));
    assert_eq!(
        DialString::new(vec![], vec![Group::default()]).encode(),
        Err(DialStringError::NoLegs)
    );
}

#[test]
fn endpoints_are_typed_only_when_they_round_trip() {
    for (text, typed) in [
        ("loopback/busy", true),
        ("loopback/busy/buyers", true),
        ("loopback/a/b/c", false),
        ("loopback//b", false),
        ("sofia/gateway/gw", false),
        ("sofia/gateway/gw/+15551234", true),
        ("sofia/internal/1000@h", true),
        ("sofia/internal/", false),
        ("user/", false),
        ("user/1000@example.com", true),
        ("freetdm/1/a/1000", false),
    ] {
        let ep = Endpoint::parse(text);
        assert_eq!(!matches!(ep, Endpoint::Raw(_)), typed, "{text}");
        assert_eq!(ep.to_string(), text);
    }
}

// ---- round trips with hostile values ----

/// Values built from every byte that matters to FreeSWITCH's dial-string parser.
fn hostile() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9 ,|'\"=:_}{\\]\\[<>$\\\\^@/.+\\-]{1,16}").expect("regex")
}

/// Separators and quotes the encoder must escape rather than refuse (`'` only where
/// `quote` is set: `{…}` and `<…>`).
fn escapable(quote: bool) -> impl Strategy<Value = String> {
    let re = if quote {
        "[a-z0-9 ,|'\"=:_^@/.+-]{1,16}"
    } else {
        "[a-z0-9 ,|\"=:_^@/.+-]{1,16}"
    };
    proptest::string::string_regex(re)
        .expect("regex")
        .prop_map(|v| {
            let v = v.trim().replace(":_:", ":-:");
            if v.is_empty() { "x".to_owned() } else { v }
        })
}

fn name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_.-]{0,8}"
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    let tok = || "[a-z0-9@.:+_-]{1,10}".prop_map(|t| t.replace(":_", ":-"));
    prop_oneof![
        (tok(), tok()).prop_map(|(p, d)| Endpoint::Sofia {
            profile: format!("p{p}"),
            dest: d
        }),
        (tok(), tok()).prop_map(|(g, n)| Endpoint::SofiaGateway {
            gateway: g,
            number: n
        }),
        (tok(), proptest::option::of(tok()))
            .prop_map(|(e, c)| Endpoint::Loopback { ext: e, context: c }),
        tok().prop_map(|id| Endpoint::User { id }),
        tok().prop_map(|t| Endpoint::Raw(format!("freetdm/{t}"))),
    ]
}

fn unique(pairs: Vec<(String, String)>) -> Vars {
    let mut out: Vars = Vec::new();
    for (k, v) in pairs {
        if !out.iter().any(|(n, _)| *n == k) {
            out.push((k, v));
        }
    }
    out
}

fn var_list(value: BoxedStrategy<String>) -> impl Strategy<Value = Vars> {
    proptest::collection::vec((name(), value), 0..4).prop_map(unique)
}

/// `safe`: values the encoder must accept; otherwise any hostile value.
fn dial_string(safe: bool) -> impl Strategy<Value = DialString> {
    let (global, leg_value) = if safe {
        (escapable(true).boxed(), escapable(false).boxed())
    } else {
        (hostile().boxed(), hostile().boxed())
    };
    let leg = (var_list(leg_value), endpoint()).prop_map(|(v, e)| Leg::new(v, e));
    let group = proptest::collection::vec(leg, 1..4).prop_map(Group::of);
    let branch = (
        var_list(global.clone()),
        proptest::collection::vec(group, 1..4),
    );
    (var_list(global), proptest::collection::vec(branch, 1..3)).prop_map(|(ent, branches)| {
        DialString {
            enterprise_vars: ent,
            branches: branches
                .into_iter()
                .map(|(global_vars, groups)| Branch {
                    global_vars,
                    groups,
                })
                .collect(),
        }
    })
}

/// What the encoder may refuse: everything else (commas, blanks inside, `|`, `"`, `'` in
/// `{…}`, `=`, `^`) must be escaped, not refused.
fn refusable(v: &str) -> bool {
    v.contains(['\\', '$', '{', '}', '[', ']', '<', '>', '\''])
        || v.contains(":_:")
        || v.starts_with(' ')
        || v.ends_with(' ')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// build → parse gives back exactly the same legs, vars and endpoints: no value can split
    /// or inject a leg.
    #[test]
    fn escapable_values_are_accepted_and_round_trip(dial in dial_string(true)) {
        let text = dial.encode();
        prop_assert!(text.is_ok(), "{:?}", text);
        prop_assert_eq!(DialString::parse_app_arg(&text.unwrap_or_default()), Ok(dial));
    }

    #[test]
    fn dial_strings_round_trip_for_bridge(dial in dial_string(false)) {
        match dial.encode() {
            Ok(text) => prop_assert_eq!(DialString::parse_app_arg(&text), Ok(dial)),
            Err(_) => {
                let any_refusable = dial.enterprise_vars.iter()
                    .chain(dial.branches.iter().flat_map(|b| b.global_vars.iter()))
                    .chain(dial.legs().flat_map(|l| l.vars.iter()))
                    .any(|(_, v)| refusable(v));
                prop_assert!(any_refusable);
            }
        }
    }

    /// The same through `originate`: mod_commands splits on blanks first.
    #[test]
    fn dial_strings_round_trip_for_originate(dial in prop_oneof![dial_string(true), dial_string(false)]) {
        if let Ok(text) = dial.encode_with(Quoting::ApiArgument) {
            let args = split_api_args(&format!("{text} &park"));
            prop_assert_eq!(args.len(), 2);
            prop_assert_eq!(&args[1], "&park");
            prop_assert_eq!(DialString::parse(&args[0]), Ok(dial));
        }
    }

    /// A bridge argument from a hostile dial string still makes exactly one sendmsg.
    #[test]
    fn bridge_command_round_trips(dial in prop_oneof![dial_string(true), dial_string(false)]) {
        if let Ok(text) = dial.encode() {
            let cmd = Command::sendmsg_execute(Some("abc-123"), "bridge", Some(&text), "ev-1").unwrap();
            let bytes = cmd.to_bytes();
            let all = frames(&bytes);
            prop_assert_eq!(all.len(), 1);
            let back = Command::parse(&all[0].0, all[0].1.clone()).unwrap();
            let CommandKind::SendMsg(msg) = back.kind() else { panic!("not sendmsg") };
            prop_assert_eq!(DialString::parse_app_arg(msg.app_arg.as_deref().unwrap_or_default()), Ok(dial));
        }
    }

    /// Hostile raw endpoints, two branches and two groups around them: either refused, or
    /// every leg comes back with exactly its own endpoint.
    #[test]
    fn hostile_endpoints_never_split(a in hostile(), b in hostile()) {
        let leg = |e: &str| Leg::new(vec![], Endpoint::Raw(e.to_owned()));
        let branch = |x: &str, y: &str| Branch {
            global_vars: vec![],
            groups: vec![Group::of(vec![leg(x), leg(y)]), Group::of(vec![leg(y)])],
        };
        let dial = DialString { enterprise_vars: vec![], branches: vec![branch(&a, &b), branch(&b, &a)] };
        for quoting in [Quoting::Bridge, Quoting::ApiArgument] {
            if let Ok(text) = dial.encode_with(quoting) {
                let text = match quoting {
                    Quoting::Bridge => parkway_esl::command::expand_app_arg(&text),
                    Quoting::ApiArgument => {
                        let args = split_api_args(&text);
                        prop_assert_eq!(args.len(), 1);
                        args.concat()
                    }
                };
                let back = DialString::parse(&text).expect("parse");
                let got: Vec<String> = back.legs().map(|l| l.endpoint.to_string()).collect();
                prop_assert_eq!(got, vec![a.clone(), b.clone(), b.clone(), b.clone(), a.clone(), a.clone()]);
            }
        }
    }
}
