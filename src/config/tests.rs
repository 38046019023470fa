//! Config validation tests: every error names its line and column.

use std::path::Path;

use super::*;
use crate::routing::decision::Algorithm;
use crate::routing::filter::Op;

fn no_lists(p: &Path) -> std::io::Result<String> {
    if p.ends_with("dnc.txt") {
        Ok("2125550199\n".into())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))
    }
}

fn parse_str(text: &str) -> Result<Config, ConfigErrors> {
    parse(text, Path::new("test.toml"), &no_lists)
}

/// (line, column, message) of every problem.
fn problems(text: &str) -> Vec<(usize, usize, String)> {
    match parse_str(text) {
        Ok(_) => panic!("config was accepted"),
        Err(ConfigErrors(ps)) => ps
            .into_iter()
            .map(|p| (p.line, p.column, p.error.to_string()))
            .collect(),
    }
}

const MINIMAL: &str = r#"
[[buyer]]
id = "b1"
destination = { sip = "sip:a@b" }

[[router]]
id = "r1"
match = { destination = "18005550100" }
buyers = ["b1"]
algorithm = "tier"
"#;

#[test]
fn minimal_config_and_defaults() {
    let c = parse_str(MINIMAL).unwrap();
    let b = c.buyer("b1").unwrap();
    assert_eq!((b.tier, b.weight, b.bid.minor), (1, 1, 0));
    assert_eq!(b.tz, chrono_tz::UTC);
    assert!(b.schedule.is_always_open());
    assert_eq!(c.router("r1").unwrap().algorithm, Algorithm::Tier);
    assert_eq!(
        c.router("r1").unwrap().fallback,
        Fallback::Hangup {
            cause: "NO_ROUTE_DESTINATION".into()
        }
    );
}

#[test]
fn example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/parkway.toml");
    let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.currency, Currency::USD);
    let acme = c.buyer("acme").unwrap();
    assert_eq!(acme.bid.minor, 3200);
    assert_eq!(acme.filters.len(), 3);
    assert_eq!(acme.filters[1].op(), Op::In);
    assert_eq!(acme.caps.slots.len(), 2);
    assert_eq!(acme.suppress.len(), 1);
    assert!(!acme.schedule.is_open_at(6, 10), "closed on Sunday");
    assert!(acme.schedule.is_open_at(5, 10));
    assert_eq!(
        c.buyer("northwind").unwrap().conversion,
        ConversionRule::Any {
            seconds: 60,
            digit: '9'
        }
    );
    assert_eq!(
        c.buyer("northwind").unwrap().payout.unwrap().per,
        PayoutBasis::Minute
    );
    assert_eq!(c.routers.len(), 3);
    assert_eq!(c.epc.prior.minor, 1800);
}

#[test]
fn unknown_key_points_at_it() {
    let text = format!(
        "{MINIMAL}\n[[group]]\nid = \"g\"\nmembers = [\"b1\"]\nmode = \"sequential\"\ncolour = \"red\"\n"
    );
    let ps = problems(&text);
    assert_eq!(ps.len(), 1);
    let (line, col, msg) = &ps[0];
    assert_eq!((*line, *col), (16, 1), "{msg}");
    assert!(msg.contains("colour"), "{msg}");
}

#[test]
fn float_money_is_refused() {
    let text = MINIMAL.replace(
        "destination = { sip = \"sip:a@b\" }",
        "destination = { sip = \"sip:a@b\" }\nbid = 12.5",
    );
    let ps = problems(&text);
    assert_eq!((ps[0].0, ps[0].1), (5, 7));
    assert!(ps[0].2.contains("not a float"), "{}", ps[0].2);
}

#[test]
fn too_many_decimals_is_refused() {
    let text = MINIMAL.replace(
        "destination = { sip = \"sip:a@b\" }",
        "destination = { sip = \"sip:a@b\" }\nbid = \"12.505\"",
    );
    let ps = problems(&text);
    assert_eq!((ps[0].0, ps[0].1), (5, 7));
    assert!(ps[0].2.contains("more than 2 decimal"), "{}", ps[0].2);
}

/// Semantic problems are all collected, each with its own position.
#[test]
fn semantic_problems_are_collected_with_positions() {
    let text = r#"
[[buyer]]
id = "b1"
destination = { sip = "sip:a@b" }
timezone = "Mars/Olympus_Mons"
filters = [
  { token = "campaign", op = "=~", value = "(unclosed" },
  { token = "age", op = ">", value = "old" },
  { token = "x", op = "~~", value = "y" },
]

[buyer.hours]
mon = [[9, 25]]
tue = [[24, 24]]

[buyer.caps]
daily = { connections = -5 }

[[buyer]]
id = "b1"
destination = { sip = "sip:c@d" }

[[group]]
id = "g1"
members = ["b1", "ghost"]
mode = "simultaneous"

[[router]]
id = "r1"
match = { destination = "1" }
buyers = ["nobody"]
groups = ["nogroup"]
algorithm = "revenue"
"#;
    let ps = problems(text);
    let at = |line: usize| {
        ps.iter()
            .filter(|p| p.0 == line)
            .map(|p| (p.1, p.2.clone()))
            .collect::<Vec<_>>()
    };
    let one = |line: usize, needle: &str| {
        let found = at(line);
        assert!(
            found.iter().any(|(_, m)| m.contains(needle)),
            "line {line}: want {needle:?}, got {found:?} (all: {ps:#?})"
        );
        found
            .iter()
            .find(|(_, m)| m.contains(needle))
            .map(|(c, _)| *c)
            .unwrap_or(0)
    };
    assert_eq!(one(5, "unknown time zone `Mars/Olympus_Mons`"), 12);
    assert_eq!(one(7, "bad regex"), 44);
    assert_eq!(
        one(8, "`>` compares numbers, but `\"old\"` is not a number"),
        38
    );
    assert_eq!(one(9, "unknown filter operator `~~`"), 23);
    assert_eq!(one(13, "hour range end 25"), 12);
    assert_eq!(one(14, "schedule hour 24 is not an hour 0–23"), 9);
    assert_eq!(one(17, "cap `daily.connections` is negative"), 25);
    assert_eq!(one(20, "duplicate id `b1`"), 6);
    assert_eq!(one(25, "names buyer `ghost`"), 18);
    assert_eq!(one(31, "names buyer `nobody`"), 11);
    assert_eq!(one(32, "names group `nogroup`"), 11);
}

#[test]
fn shapes_are_checked() {
    let text = r#"
[[buyer]]
id = "b1"
destination = { sip = "sip:a@b", number = "1" }
conversion = { talk_seconds = 30, digit = "1" }
payout = { per = "hour", amount = "1.00" }
suppress = ["missing.txt"]

[[group]]
id = "g"
members = ["b1"]
mode = "sequential"

[[router]]
id = "r1"
match = { variable = "campaign" }
buyers = ["b1"]
groups = ["g"]
algorithm = "epc"
fallback = { hangup = "X", transfer = "1000" }
"#;
    let ps = problems(text);
    let lines: Vec<usize> = ps.iter().map(|p| p.0).collect();
    for (line, needle) in [
        (4, "destination needs exactly one"),
        (5, "needs when"),
        (6, "payout per"),
        (7, "cannot read"),
        (16, "match needs"),
        (18, "reached more than once"),
        (20, "fallback needs exactly one"),
    ] {
        assert!(
            ps.iter().any(|p| p.0 == line && p.2.contains(needle)),
            "line {line} {needle:?} not in {ps:#?}"
        );
    }
    assert_eq!(lines.len(), 7, "{ps:#?}");
}

#[test]
fn problem_display_has_file_line_col() {
    let Err(e) = parse_str("nonsense = 1\n") else {
        panic!()
    };
    let s = e.to_string();
    assert!(s.starts_with("test.toml:1:1: "), "{s}");
}

#[test]
fn durations() {
    use build::parse_duration;
    assert_eq!(parse_duration("45s"), Some(45));
    assert_eq!(parse_duration("15m"), Some(900));
    assert_eq!(parse_duration("24h"), Some(86_400));
    assert_eq!(parse_duration("7d"), Some(604_800));
    assert_eq!(parse_duration("3650d"), Some(build::MAX_DURATION_SECS));
    for bad in [
        "",
        "7",
        "d",
        "0h",
        "-1h",
        "1w",
        "1.5h",
        "3651d",
        "99999999999999999d",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn when_without_both_parts_is_reported_not_silently_replaced() {
    for conversion in [
        r#"conversion = { digit = "1", when = "any" }"#,
        r#"conversion = { talk_seconds = 60, when = "all" }"#,
    ] {
        let text = MINIMAL.replace(
            "destination = { sip = \"sip:a@b\" }",
            &format!("destination = {{ sip = \"sip:a@b\" }}\n{conversion}"),
        );
        let got = problems(&text);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 5, "{got:?}");
        assert!(
            got[0].2.contains("needs both talk_seconds and digit"),
            "{got:?}"
        );
    }
}

#[test]
fn overlapping_cap_slots_are_reported() {
    let text = MINIMAL.replace(
        "destination = { sip = \"sip:a@b\" }",
        "destination = { sip = \"sip:a@b\" }\n\
         caps = { slot = [{ hours = [9, 17], hourly = { attempts = 10 } }, \
         { hours = [12, 14], hourly = { attempts = 1 } }] }",
    );
    let got = problems(&text);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].2.contains("overlaps slot 9–17"), "{got:?}");
}

#[test]
fn destinations_that_could_never_be_dialled_are_reported() {
    for destination in [
        r#"{ sip = "" }"#,
        r#"{ sip = "sip:a,b@c" }"#,
        r#"{ number = "1800 555 0100", gateway = "gw" }"#,
        r#"{ dial_string = "{x=1" }"#,
        r#"{ dial_string = "sofia/external/a@b,sofia/external/c@d" }"#,
        r#"{ dial_string = "sofia/external/a@b|sofia/external/c@d" }"#,
    ] {
        let text = MINIMAL.replace(r#"{ sip = "sip:a@b" }"#, destination);
        let got = problems(&text);
        assert!(!got.is_empty(), "{destination} accepted");
        assert_eq!(got[0].0, 4, "{destination}: {got:?}");
    }
    let ok = MINIMAL.replace(
        r#"{ sip = "sip:a@b" }"#,
        r#"{ number = "+18005550100", gateway = "carrier" }"#,
    );
    assert!(parse_str(&ok).is_ok());
}

#[test]
fn sip_buyers_go_through_the_configured_profile_external_by_default() {
    let profile_of = |c: &Config, id: &str| match &c.buyer(id).unwrap().destination {
        Destination::Sip { profile, .. } => profile.clone(),
        other => panic!("{other:?}"),
    };
    let c = parse_str(MINIMAL).unwrap();
    assert_eq!(profile_of(&c, "b1"), "external");
    assert_eq!(c.freeswitch.sip_profile, "external");

    let text = format!(
        "[freeswitch]\naddress = \"127.0.0.1:8021\"\npassword = \"ClueCon\"\n\
         sip_profile = \"carriers\"\n{MINIMAL}\n\
         [[buyer]]\nid = \"b2\"\ndestination = {{ sip = \"sip:c@d\", profile = \"internal\" }}\n"
    );
    let c = parse_str(&text).unwrap();
    assert_eq!(profile_of(&c, "b1"), "carriers");
    assert_eq!(profile_of(&c, "b2"), "internal");

    // A profile that cannot stand in `sofia/<profile>/…`, or one without a SIP address.
    let bad = format!(
        "[freeswitch]\naddress = \"127.0.0.1:8021\"\npassword = \"ClueCon\"\n\
         sip_profile = \"a/b\"\n{MINIMAL}"
    );
    let got = problems(&bad);
    assert_eq!(got[0].0, 4, "{got:?}");
    assert!(got[0].2.contains("SIP profile"), "{got:?}");
    let got = problems(&MINIMAL.replace(
        r#"{ sip = "sip:a@b" }"#,
        r#"{ number = "+18005550100", gateway = "g", profile = "x" }"#,
    ));
    assert!(got[0].2.contains("profile goes with sip"), "{got:?}");
}

fn with_freeswitch(address: &str, password: &str) -> String {
    format!("[freeswitch]\naddress = {address:?}\npassword = {password:?}\n{MINIMAL}")
}

#[test]
fn check_refuses_what_run_cannot_work_with() {
    // An empty file, and a config that names no router.
    for empty in ["", "  \n\n"] {
        let got = problems(empty);
        assert!(got[0].2.contains("the config is empty"), "{got:?}");
    }
    let no_router = &MINIMAL[..MINIMAL.find("[[router]]").unwrap()];
    let got = problems(no_router);
    assert!(got.iter().any(|p| p.2.contains("no [[router]]")), "{got:?}");

    // `address` must be host:port, the password something `auth` can send.
    for address in [
        "http://127.0.0.1:8021",
        "",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:70000",
        ":8021",
        "fs host:8021",
        "[::1:8021",
    ] {
        let got = problems(&with_freeswitch(address, "ClueCon"));
        assert_eq!(got.len(), 1, "{address:?}: {got:?}");
        assert_eq!(got[0].0, 2, "{address:?}: {got:?}");
        assert!(got[0].2.contains("[freeswitch] address"), "{got:?}");
        assert!(got[0].2.contains("host:port"), "{got:?}");
    }
    for address in [
        "127.0.0.1:8021",
        "fs-1.example.com:8021",
        "[::1]:8021",
        "fs:1",
    ] {
        parse_str(&with_freeswitch(address, "ClueCon"))
            .unwrap_or_else(|e| panic!("{address}: {:?}", e.0));
    }
    for password in ["", " ClueCon", "Clue\nCon"] {
        let got = problems(&with_freeswitch("127.0.0.1:8021", password));
        assert_eq!(got.len(), 1, "{password:?}: {got:?}");
        assert_eq!(got[0].0, 3, "{password:?}: {got:?}");
        assert!(got[0].2.contains("[freeswitch] password"), "{got:?}");
    }
}

#[test]
fn check_refuses_bridges_the_dial_time_encoder_would_refuse() {
    // Each of these passed `parkway check` but had every call refused at dial time.
    for (from, to, line) in [
        // A dial string setting a variable the driver sets on every leg: a duplicate.
        (
            r#"{ sip = "sip:a@b" }"#,
            r#"{ dial_string = "[leg_timeout=10]sofia/gateway/g/18005550100" }"#,
            4,
        ),
        (
            r#"{ sip = "sip:a@b" }"#,
            r#"{ dial_string = "{origination_uuid=x}sofia/gateway/g/18005550100" }"#,
            4,
        ),
        // A buyer id the driver sends as `parkway_buyer` that FreeSWITCH would expand.
        (r#"id = "b1""#, r#"id = "b${x}""#, 4),
        // A router id sent as `parkway_router`.
        (r#"id = "r1""#, r#"id = "r$1""#, 7),
    ] {
        let text = MINIMAL
            .replace(from, to)
            .replace(r#"["b1"]"#, r#"["b${x}"]"#);
        let text = if from.starts_with("id = \"b1") {
            text
        } else {
            text.replace(r#"["b${x}"]"#, r#"["b1"]"#)
        };
        let got = problems(&text);
        assert_eq!(got.len(), 1, "{to}: {got:?}");
        assert_eq!(got[0].0, line, "{to}: {got:?}");
        assert!(got[0].2.contains("could never be dialled"), "{to}: {got:?}");
    }

    // A whisper cache path the driver puts in `group_confirm_file`.
    let text = format!(
        "[whisper]\ncache_dir = \"/tmp/w$x\"\n{}",
        MINIMAL.replace(
            r#"destination = { sip = "sip:a@b" }"#,
            "destination = { sip = \"sip:a@b\" }\nwhisper = \"call from {state}\"",
        )
    );
    let got = problems(&text);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].2.contains("group_confirm_file"), "{got:?}");
}

/// A suppression list, or the config itself, that is a device or a FIFO is refused at once with
/// the file named, instead of hanging `check` or reading until memory runs out.
#[cfg(unix)]
#[test]
fn files_that_are_not_regular_files_are_refused_naming_them() {
    let dir = std::env::temp_dir().join(format!("parkway-config-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("parkway.toml");
    let fifo = dir.join("fifo");
    let have_fifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut lists = vec!["/dev/zero".to_owned(), "/dev/urandom".to_owned()];
    if have_fifo {
        lists.push(fifo.display().to_string());
    }
    for list in &lists {
        let text = MINIMAL.replace(
            "algorithm = \"tier\"",
            &format!("algorithm = \"tier\"\nsuppress = [{list:?}]"),
        );
        std::fs::write(&config, text).unwrap();
        let err = load(&config).unwrap_err();
        let shown = err.0[0].to_string();
        assert!(shown.contains(list.as_str()), "{shown}");
        assert!(shown.contains("not a regular file"), "{shown}");
    }
    for path in lists {
        let err = load(Path::new(&path)).unwrap_err();
        let shown = err.0[0].to_string();
        assert!(shown.contains(&path), "{shown}");
        assert!(shown.contains("not a regular file"), "{shown}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
