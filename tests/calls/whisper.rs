//! The whisper: played to the buyer on answer, before the bridge, and not counted as talk time.

use std::path::PathBuf;
use std::sync::LazyLock;

use parkway::calls::{Disposition, LegOutcome};
use parkway_esl::dialstring::DialString;
use parkway_sim::engine::{Behaviour, SEC};

use crate::rig::{Rig, acme, answers, dialled, ids, rig};

static BODY: LazyLock<String> = LazyLock::new(|| {
    acme(
        r#"whisper = "Auto insurance caller from Texas."
conversion = { talk_seconds = 30 }
payout = { per = "conversion", amount = "30.00" }"#,
    )
});

/// The only bridge's leg variables, and the whisper file it plays (checked to be a WAV).
fn whisper_leg(rig: &Rig) -> (Vec<(String, String)>, PathBuf) {
    let bridges = rig.bridges();
    assert_eq!(bridges.len(), 1, "{bridges:?}");
    let ds = DialString::parse_app_arg(&bridges[0]).expect("dial string");
    let legs: Vec<_> = ds.legs().collect();
    assert_eq!(legs.len(), 1);
    let vars = legs[0].vars.clone();
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("group_confirm_key").as_deref(), Some("exec"));
    assert_eq!(get("group_confirm_cancel_timeout").as_deref(), Some("true"));
    let file = get("group_confirm_file").expect("group_confirm_file");
    let path = PathBuf::from(file.strip_prefix("playback ").expect("playback <file>"));
    assert!(path.is_absolute(), "{path:?}");
    (vars, path)
}

/// A WAV's length in microseconds, from its header.
fn wav_micros(path: &PathBuf) -> u64 {
    let reader = hound::WavReader::open(path).expect("a WAV");
    let spec = reader.spec();
    u64::from(reader.duration()) * SEC / u64::from(spec.sample_rate)
}

#[tokio::test]
async fn whisper_plays_before_the_bridge_and_is_not_talk_time() {
    // Answers after 2 s, hangs up 40 s after answering (whisper included).
    let mut rig = rig("whisper", &BODY, &[("acme", answers(2, 40, &[]))]).await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme"]));
    assert_eq!(rig.bridged_buyers(), ids(&[&["acme"]]));
    let (vars, path) = whisper_leg(&rig);
    let whisper = wav_micros(&path);
    assert!(whisper > SEC, "whisper of {whisper} µs");
    assert!(
        vars.contains(&("leg_timeout".into(), "15".into())),
        "{vars:?}"
    );
    // The originate as a whole gets the ring time plus the whisper (`originate_timeout`: the bridge's whole ringing budget).
    let ds = DialString::parse_app_arg(&rig.bridges()[0]).expect("dial string");
    let timeout = format!("{}", 15 + whisper.div_ceil(SEC) + 5);
    assert!(
        ds.branches[0]
            .global_vars
            .contains(&("originate_timeout".into(), timeout.clone())),
        "originate_timeout {timeout}: {:?}",
        ds.branches[0].global_vars
    );

    assert_eq!(record.disposition, Disposition::Connected);
    let a = &record.attempts[0];
    assert_eq!(a.outcome, LegOutcome::Connected);
    let answered = a.answered_at.expect("answered");
    let bridged = a.bridged_at.expect("bridged");
    assert_eq!(record.bridged_at, Some(bridged));
    let gap = u64::try_from((bridged - answered).num_microseconds().expect("small"))
        .expect("bridged after answer");
    assert!(
        gap >= whisper && gap < whisper + SEC / 2,
        "bridge {gap} µs after answer, whisper {whisper} µs"
    );
    // Talk time is bridge → hangup: the 40 s after answer minus the whisper.
    let talk = 40 - whisper.div_ceil(SEC);
    assert!(
        (talk - 1..=talk + 1).contains(&record.talk_secs),
        "talk {} s, expected about {talk} s",
        record.talk_secs
    );
    assert!(record.conversion.expect("evaluated").converted);
    assert_eq!(record.payout, 3000);
    let acme = rig.buyer("acme").await;
    assert_eq!(
        (acme.attempts, acme.connections, acme.conversions),
        (1, 1, 1)
    );
    assert_eq!(rig.concurrency("acme").await, 0);
}

#[tokio::test]
async fn caller_abandons_during_the_whisper() {
    let mut rig = rig("whisper-abandon", &BODY, &[("acme", answers(2, 40, &[]))]).await;
    let call = rig.campaign_call("+13105550100", "auto").await;
    // The buyer answers at 2 s and hears the whisper (over 1 s long); the caller leaves at 2.5 s.
    rig.caller_hangs_up(&call, 2 * SEC + SEC / 2).await;
    let record = rig.record().await;
    assert_eq!(
        rig.commands(),
        dialled(&["acme"]),
        "nothing after the caller left"
    );
    let (_, path) = whisper_leg(&rig);
    assert!(wav_micros(&path) > SEC);

    assert_eq!(record.disposition, Disposition::Abandoned);
    assert_eq!(record.connected, None);
    assert_eq!(record.bridged_at, None);
    assert_eq!(record.attempts.len(), 1, "the attempt is recorded");
    let a = &record.attempts[0];
    assert!(a.answered_at.is_some(), "the buyer answered");
    assert_eq!(a.bridged_at, None);
    assert!(a.ended_at.is_some(), "the buyer leg ended");
    assert_eq!(a.outcome, LegOutcome::AnsweredNotBridged, "{a:?}");
    assert_eq!(record.payout, 0);
    let acme = rig.buyer("acme").await;
    assert_eq!((acme.attempts, acme.connections, acme.revenue), (1, 0, 0));
    assert_eq!(rig.concurrency("acme").await, 0);
    let totals = rig.totals().await;
    assert_eq!((totals.connected, totals.abandoned), (0, 1));
}

#[tokio::test]
async fn simultaneous_group_whispers_to_the_leg_that_answers() {
    let body = r#"
[[buyer]]
id = "acme"
destination = { sip = "acme@buyers.example.com" }
bid = "30.00"
ring_timeout = 15
whisper = "Auto insurance caller from Texas."

[[buyer]]
id = "beacon"
destination = { sip = "beacon@buyers.example.com" }
bid = "20.00"
ring_timeout = 15
whisper = "Solar lead."

[[group]]
id = "pair"
members = ["acme", "beacon"]
mode = "simultaneous"

[[router]]
id = "auto"
match = { variable = "campaign", value = "auto" }
groups = ["pair"]
algorithm = "revenue"
fallback = { hangup = "NO_ROUTE_DESTINATION" }
max_wait = 60
"#;
    let mut rig = rig(
        "whisper-group",
        body,
        &[
            ("acme", Behaviour::NeverAnswer),
            ("beacon", answers(3, 40, &[])),
        ],
    )
    .await;
    rig.campaign_call("+13105550100", "auto").await;
    let record = rig.record().await;
    assert_eq!(rig.commands(), dialled(&["acme,beacon"]));
    let ds = DialString::parse_app_arg(&rig.bridges()[0]).expect("dial string");
    let files: Vec<PathBuf> = ds
        .legs()
        .map(|l| {
            let file = l
                .vars
                .iter()
                .find(|(k, _)| k == "group_confirm_file")
                .map(|(_, v)| v.clone())
                .expect("each leg has its own whisper");
            PathBuf::from(file.strip_prefix("playback ").expect("playback <file>"))
        })
        .collect();
    assert_eq!(files.len(), 2);
    assert_ne!(files[0], files[1], "each buyer hears its own whisper");
    let whisper = wav_micros(&files[1]);
    let beacon = &record.attempts[1];
    assert_eq!(beacon.buyer.as_str(), "beacon");
    assert_eq!(beacon.outcome, LegOutcome::Connected);
    let gap = (beacon.bridged_at.expect("bridged") - beacon.answered_at.expect("answered"))
        .num_microseconds()
        .expect("small");
    assert!(
        u64::try_from(gap).expect("after answer") >= whisper,
        "bridged {gap} µs after answer, whisper {whisper} µs"
    );
    assert_eq!(record.attempts[0].outcome, LegOutcome::LostRace);
    let talk = 40 - whisper.div_ceil(SEC);
    assert!(
        (talk - 1..=talk + 1).contains(&record.talk_secs),
        "talk {} s, expected about {talk} s",
        record.talk_secs
    );
    assert_eq!(rig.concurrency("acme").await, 0);
    assert_eq!(rig.concurrency("beacon").await, 0);
}

/// A channel variable the caller's side sets (the dialplan's `age=${sip_h_X-Age}`) is spoken
/// only when it fits its type: "yes qualified homeowner, press one to accept" in `age` is
/// treated as absent (its sentence is left out, as on a call without it) and the record says
/// why; a real age is spoken.
#[tokio::test]
async fn a_token_that_does_not_fit_its_type_is_never_spoken() {
    let body = format!(
        "{}\n[tokens.age]\ntype = \"number\"\nmin = 18\nmax = 120\n",
        acme(r#"whisper = "Insurance lead. Caller age {age}.""#)
    );
    let mut rig = rig("typed-token", &body, &[("acme", answers(1, 5, &[]))]).await;
    let mut files = Vec::new();
    for age in [
        Some("yes qualified homeowner insured press one to accept"),
        None,
        Some("44"),
    ] {
        let mut vars = vec![("campaign", "auto")];
        vars.extend(age.map(|a| ("age", a)));
        rig.call("+13105550100", "18005550199", &vars).await;
        let record = rig.record().await;
        assert_eq!(record.disposition, Disposition::Connected);
        let bridge = rig.bridges().pop().expect("a bridge");
        let ds = DialString::parse_app_arg(&bridge).expect("dial string");
        let file = ds
            .legs()
            .flat_map(|l| &l.vars)
            .find(|(k, _)| k == "group_confirm_file")
            .map(|(_, v)| v.clone())
            .expect("a whisper");
        files.push(file);
        if age == Some("44") {
            assert_eq!(record.tokens.get("age").map(String::as_str), Some("44"));
            assert!(record.notes.is_empty(), "{:?}", record.notes);
        } else if age.is_some() {
            assert_eq!(record.tokens.get("age"), None, "{:?}", record.tokens);
            assert!(
                record
                    .notes
                    .iter()
                    .any(|n| n.contains("token `age`") && n.contains("never spoken")),
                "{:?}",
                record.notes
            );
        }
    }
    assert_eq!(
        files[0], files[1],
        "the hostile value is spoken as no value"
    );
    assert_ne!(files[1], files[2], "a real age is spoken");
}
