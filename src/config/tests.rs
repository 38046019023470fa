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
