//! The switchboard driven by hand-made events.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{Action, Switchboard};
use crate::calls::App;
use crate::calls::record::{CallRecord, LegOutcome};
use crate::config::{self, Config};
use parkway_esl::event::Event;

const CONFIG: &str = r#"
currency = "USD"
timezone = "UTC"

[freeswitch]
address = "127.0.0.1:8021"
password = "ClueCon"

[[buyer]]
id = "acme"
destination = { sip = "acme@buyers.example.com" }
bid = "30.00"
payout = { per = "minute", amount = "1.00" }

[[router]]
id = "auto"
match = { variable = "campaign", value = "auto" }
buyers = ["acme"]
algorithm = "revenue"
fallback = { hangup = "NO_ROUTE_DESTINATION" }
"#;

fn parsed(text: &str) -> Arc<Config> {
    let read = |p: &Path| std::fs::read_to_string(p);
    Arc::new(
        config::parse(text, Path::new("parkway.toml"), &read).unwrap_or_else(|e| panic!("{e}")),
    )
}

fn config() -> Arc<Config> {
    parsed(CONFIG)
}

/// Monday 2026-01-05 10:00 UTC, when most of these calls park.
fn monday_10am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0)
        .single()
        .expect("a plain UTC time")
}

/// A plain event stamped `at` (FreeSWITCH's clock).
fn event(name: &str, at: DateTime<Utc>, headers: &[(&str, &str)]) -> Event {
    let mut text = format!(
        "Event-Name: {name}\nEvent-Date-Timestamp: {}\n",
        at.timestamp_micros()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\n"));
    }
    Event::parse_plain(Bytes::from(text)).expect("event")
}

/// The CHANNEL_PARK of an inbound caller `caller`, with these headers too.
/// FreeSWITCH makes every leg the switchboard dialled (their CHANNEL_CREATE): the legs are
/// attempts now.
fn legs_created(board: &mut Switchboard, at: DateTime<Utc>) {
    let legs: Vec<String> = board.legs.keys().cloned().collect();
    for leg in legs {
        board.on_event(&event("CHANNEL_CREATE", at, &[("Unique-ID", &leg)]), at);
    }
}

fn park_event(at: DateTime<Utc>, headers: &[(&str, &str)]) -> Event {
    let mut all = vec![("Unique-ID", "caller"), ("Call-Direction", "inbound")];
    all.extend_from_slice(headers);
    event("CHANNEL_PARK", at, &all)
}

fn record(actions: Vec<Action>) -> Option<CallRecord> {
    actions.into_iter().find_map(|a| match a {
        Action::Record(r) => Some(*r),
        _ => None,
    })
}

#[test]
fn reconcile_reads_the_driver_clock_on_the_switch_clock() {
    // The switch's clock (a simulator's virtual time, or a skewed host) is days behind the
    // driver's.
    let switch = monday_10am();
    let driver = Utc
        .with_ymd_and_hms(2026, 1, 9, 3, 0, 0)
        .single()
        .expect("time");
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(
        switch,
        &[
            ("Caller-Caller-ID-Number", "+13105550100"),
            ("variable_campaign", "auto"),
        ],
    );
    let actions = board.on_event(&park, driver);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Execute {
            app: App::Bridge,
            ..
        }
    )));
    let leg = board.legs.keys().next().cloned().expect("a leg");
    let bridge = event(
        "CHANNEL_BRIDGE",
        switch + Duration::seconds(3),
        &[
            ("Unique-ID", "caller"),
            ("Bridge-A-Unique-ID", "caller"),
            ("Bridge-B-Unique-ID", &leg),
        ],
    );
    board.on_event(&bridge, driver + Duration::seconds(3));
    // The socket drops; 90 s later (driver's clock) the reconcile finds both channels gone.
    let asked: HashSet<String> = board.known_channels().into_iter().collect();
    let actions = board.reconcile(
        &HashSet::new(),
        &asked,
        &Default::default(),
        driver + Duration::seconds(93),
    );
    let record = record(actions).expect("the call ends");
    let end = switch + Duration::seconds(93);
    assert_eq!(record.ended_at, Some(end));
    assert_eq!(record.attempts[0].ended_at, Some(end));
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    assert_eq!(record.talk_secs, 90);
    // Without a CDR the talk time ends when parkway noticed: a guess, never paid on.
    assert_eq!(record.payout, 0, "per-minute pay on a guessed talk time");
    assert!(
        record
            .notes
            .iter()
            .any(|n| n.contains("reconciled") && n.contains("no CDR"))
    );
    assert_eq!(board.ledger().concurrency(0), 0);
}

const SEQUENTIAL: &str = r#"
currency = "USD"
timezone = "UTC"

[freeswitch]
address = "127.0.0.1:8021"
password = "ClueCon"

[[buyer]]
id = "acme"
destination = { sip = "acme@buyers.example.com" }
bid = "30.00"

[[buyer]]
id = "beacon"
destination = { sip = "beacon@buyers.example.com" }
bid = "20.00"

[[group]]
id = "pair"
members = ["acme", "beacon"]
mode = "sequential"

[[router]]
id = "auto"
match = { variable = "campaign", value = "auto" }
groups = ["pair"]
algorithm = "revenue"
fallback = { hangup = "NO_ROUTE_DESTINATION" }
"#;

/// A call parked at `t` on the sequential group: the switchboard, the bridge's Event-UUID
/// and the legs' uuids in dial order.
fn sequential_call(t: DateTime<Utc>) -> (Switchboard, String, Vec<String>) {
    let mut board = Switchboard::new(parsed(SEQUENTIAL), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    let (arg, event_uuid) = board
        .on_event(&park, t)
        .into_iter()
        .find_map(|a| match a {
            Action::Execute {
                app: App::Bridge,
                arg,
                event_uuid,
                ..
            } => Some((arg, event_uuid)),
            _ => None,
        })
        .expect("a bridge");
    let ds = parkway_esl::dialstring::DialString::parse_app_arg(&arg).expect("dial string");
    let uuids: Vec<String> = ds
        .legs()
        .filter_map(|l| l.vars.iter().find(|(k, _)| k == "origination_uuid"))
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(uuids.len(), 2, "{arg}");
    (board, event_uuid, uuids)
}

/// A board with a call to the `auto` router parked at `t` and its first bridge out: the
/// bridge's Event-UUID and the buyer leg's uuid.
fn dialled_at(t: DateTime<Utc>) -> (Switchboard, String, String) {
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    let event_uuid = board
        .on_event(&park, t)
        .into_iter()
        .find_map(|a| match a {
            Action::Execute {
                app: App::Bridge,
                event_uuid,
                ..
            } => Some(event_uuid),
            _ => None,
        })
        .expect("a bridge");
    let leg = board.legs.keys().next().cloned().expect("a leg");
    (board, event_uuid, leg)
}

#[test]
fn sequential_member_never_dialled_does_not_hold_the_call_open() {
    let t = monday_10am();
    let at = |s: i64| t + Duration::seconds(s);
    let (mut board, _, uuids) = sequential_call(t);
    let first = uuids[0].as_str();
    board.on_event(&event("CHANNEL_CREATE", at(0), &[("Unique-ID", first)]), t);
    board.on_event(&event("CHANNEL_ANSWER", at(2), &[("Unique-ID", first)]), t);
    let bridge = [
        ("Unique-ID", "caller"),
        ("Bridge-A-Unique-ID", "caller"),
        ("Bridge-B-Unique-ID", first),
    ];
    board.on_event(&event("CHANNEL_BRIDGE", at(2), &bridge), t);
    let leg_down = [("Unique-ID", first), ("Hangup-Cause", "NORMAL_CLEARING")];
    assert!(
        record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", at(32), &leg_down), t)).is_none()
    );
    let caller_down = [("Unique-ID", "caller"), ("Hangup-Cause", "NORMAL_CLEARING")];
    let record = record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", at(32), &caller_down), t))
        .expect("the call ends once the caller and the bridged leg are gone");
    assert_eq!(
        record.attempts.len(),
        1,
        "beacon never rang: {:?}",
        record.attempts
    );
    assert_eq!(record.attempts[0].buyer.as_str(), "acme");
    assert_eq!(record.talk_secs, 30);
    assert_eq!(board.live_calls(), 0);
    assert!(board.known_channels().is_empty());
    assert_eq!(board.ledger().totals(1).attempts, 0);
}

#[test]
fn sequential_member_after_a_cancelled_one_is_not_an_attempt() {
    let t = monday_10am();
    let (mut board, event_uuid, uuids) = sequential_call(t);
    let first = uuids[0].as_str();
    board.on_event(&event("CHANNEL_CREATE", t, &[("Unique-ID", first)]), t);
    // The caller leaves while acme rings: the bridge returns, naming only acme's leg.
    let causes = format!("ARRAY::{first};ORIGINATOR_CANCEL");
    let done = [
        ("Unique-ID", "caller"),
        ("Answer-State", "hangup"),
        ("Hangup-Cause", "NORMAL_CLEARING"),
        ("Application", "bridge"),
        ("Application-UUID", event_uuid.as_str()),
        ("variable_originate_failed_cause", "ORIGINATOR_CANCEL"),
        ("variable_originate_causes", causes.as_str()),
    ];
    let t5 = t + Duration::seconds(5);
    // The caller is gone with it: the call ends here.
    let record = record(board.on_event(&event("CHANNEL_EXECUTE_COMPLETE", t5, &done), t))
        .expect("the call ends");
    assert_eq!(record.attempts.len(), 1, "{:?}", record.attempts);
    assert_eq!(record.attempts[0].outcome, LegOutcome::Cancelled);
    // Finished before the caller's CHANNEL_HANGUP_COMPLETE, the record still has its cause.
    assert_eq!(
        record.caller_hangup_cause.as_deref(),
        Some("NORMAL_CLEARING")
    );
    assert_eq!(board.live_calls(), 0);
    assert!(board.known_channels().is_empty());
    assert_eq!(board.ledger().concurrency(0), 0);
}

#[test]
fn bridge_seen_only_in_its_execute_complete_still_connects() {
    let t = monday_10am();
    let (mut board, event_uuid, leg) = dialled_at(t);
    // CHANNEL_ANSWER and CHANNEL_BRIDGE were lost; the bridge's completion names the leg.
    let end = t + Duration::seconds(100);
    let done = [
        ("Unique-ID", "caller"),
        ("Answer-State", "hangup"),
        ("Application", "bridge"),
        ("Application-UUID", event_uuid.as_str()),
        ("variable_originate_disposition", "SUCCESS"),
        ("variable_bridge_uuid", leg.as_str()),
    ];
    let out = board.on_event(&event("CHANNEL_EXECUTE_COMPLETE", end, &done), t);
    assert!(record(out).is_none(), "the leg's hangup is still to come");
    assert_eq!(board.totals().connected, 1);
    let bridge_epoch = (t + Duration::seconds(10)).timestamp().to_string();
    let end_epoch = end.timestamp().to_string();
    let down = [
        ("Unique-ID", leg.as_str()),
        ("Hangup-Cause", "NORMAL_CLEARING"),
        ("variable_bridge_epoch", bridge_epoch.as_str()),
        ("variable_end_epoch", end_epoch.as_str()),
    ];
    let record = record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", end, &down), t))
        .expect("the call ends");
    assert_eq!(record.disposition, crate::calls::Disposition::Connected);
    assert_eq!(record.connected.as_deref(), Some("acme"));
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    assert_eq!(record.bridged_at, Some(t + Duration::seconds(10)));
    assert_eq!(record.talk_secs, 90);
    assert_eq!(record.payout, 200);
    assert_eq!(board.ledger().totals(0).connections, 1);
    assert_eq!(board.ledger().concurrency(0), 0);
    assert_eq!(board.live_calls(), 0);
}

#[test]
fn a_bridge_never_sent_is_dialled_again_after_the_reconnect() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    let first = board.on_event(&park, t);
    assert_eq!(first.len(), 4, "three sets and a bridge");
    // The socket was down: none of it was written.
    for app in [App::Set, App::Set, App::Set, App::Bridge] {
        board.command_not_sent("caller", app);
    }
    let live: HashSet<String> = ["caller".to_owned()].into();
    let asked: HashSet<String> = board.known_channels().into_iter().collect();
    let again = board.reconcile(&live, &asked, &Default::default(), t + Duration::seconds(2));
    let apps: Vec<App> = again
        .iter()
        .filter_map(|a| match a {
            Action::Execute { app, .. } => Some(*app),
            _ => None,
        })
        .collect();
    assert_eq!(
        apps,
        [App::Set, App::Set, App::Set, App::Bridge],
        "prepared and dialled again"
    );
    legs_created(&mut board, t + Duration::seconds(2));
    assert_eq!(board.live_calls(), 1);
    // The bridge that never left rang nobody: the leg dialling acme again is its one attempt
    // (attempts count per leg, and the new leg takes over the unsent one's key).
    assert_eq!(board.ledger().totals(0).attempts, 1);
    assert_eq!(board.ledger().concurrency(0), 1, "only the new leg is up");
}

#[test]
fn a_caller_the_dialplan_prepared_gets_only_the_bridge() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(
        t,
        &[
            ("variable_campaign", "auto"),
            ("variable_hangup_after_bridge", "true"),
            ("variable_ringback", "%(2000,4000,440,480)"),
        ],
    );
    let apps: Vec<String> = board
        .on_event(&park, t)
        .iter()
        .filter_map(|a| match a {
            Action::Execute { app, arg, .. } if *app == App::Set => Some(arg.clone()),
            Action::Execute { app, .. } => Some(app.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(apps, ["continue_on_fail=true", "bridge"]);
}

#[test]
fn a_bridge_refused_for_a_gone_caller_is_cancelled_and_the_hangup_ends_the_call() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    board.on_event(&park, t);
    legs_created(&mut board, t);
    let refused =
        board.command_failed("caller", App::Bridge, "-ERR invalid session id [caller]", t);
    assert!(
        record(refused).is_none(),
        "the caller's hangup finishes the call"
    );
    assert_eq!(board.ledger().concurrency(0), 0, "nothing was dialled");
    let hangup = event(
        "CHANNEL_HANGUP_COMPLETE",
        t,
        &[("Unique-ID", "caller"), ("Hangup-Cause", "NORMAL_CLEARING")],
    );
    let record = record(board.on_event(&hangup, t)).expect("the call ends");
    assert_eq!(record.attempts[0].outcome, LegOutcome::Cancelled);
    assert_eq!(
        record.caller_hangup_cause.as_deref(),
        Some("NORMAL_CLEARING")
    );
    assert_eq!(board.live_calls(), 0);
}

#[test]
fn a_bridge_refused_before_it_was_sent_is_not_an_attempt() {
    // The engine's encoder refuses the command (the caller's uuid, or the argument): nothing
    // reached FreeSWITCH, nothing rang.
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    assert!(bridge_arg(&board.on_event(&park, t)).is_some());
    let refused =
        board.command_failed("caller", App::Bridge, "invalid sendmsg uuid: \"caller\"", t);
    let record = record(refused).expect("the call cannot be handled");
    assert!(record.attempts.is_empty(), "{:?}", record.attempts);
    assert!(
        record
            .notes
            .iter()
            .any(|n| n.contains("not dialled (acme)")),
        "{:?}",
        record.notes
    );
    assert_eq!(board.ledger().totals(0).attempts, 0, "nothing was dialled");
    assert_eq!(board.ledger().concurrency(0), 0);
    assert!(board.known_channels().is_empty());
    // Nothing is held against acme's caps either: a later call sees no attempt.
    let usage = board.ledger().snapshot().buyer("acme");
    let attempts = usage
        .and_then(|u| {
            u.window(crate::routing::zonetime::Window::Total)
                .get(crate::routing::Metric::Attempts)
        })
        .map_or(0, |c| c.value);
    assert_eq!(attempts, 0);
}

#[test]
fn a_step_the_dial_string_encoder_refuses_is_not_an_attempt() {
    // A value FreeSWITCH would expand (`$`) in the caller's uuid, which every leg carries:
    // the bridge is never built.
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = event(
        "CHANNEL_PARK",
        t,
        &[
            ("Unique-ID", "caller${x}"),
            ("Call-Direction", "inbound"),
            ("variable_campaign", "auto"),
        ],
    );
    let actions = board.on_event(&park, t);
    assert_eq!(bridge_arg(&actions), None);
    assert_eq!(board.ledger().totals(0).attempts, 0, "nothing was dialled");
    assert_eq!(board.ledger().concurrency(0), 0);
    let gone = [
        ("Unique-ID", "caller${x}"),
        ("Hangup-Cause", "NO_ROUTE_DESTINATION"),
    ];
    let record = record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", t, &gone), t))
        .expect("the call ends");
    assert!(record.attempts.is_empty(), "{:?}", record.attempts);
    assert_eq!(board.ledger().totals(0).attempts, 0);
}

#[test]
fn an_attempt_counts_once_freeswitch_makes_the_leg() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    board.on_event(&park, t);
    assert_eq!(board.ledger().totals(0).attempts, 0, "only held");
    legs_created(&mut board, t);
    assert_eq!(board.ledger().totals(0).attempts, 1);
    legs_created(&mut board, t);
    assert_eq!(board.ledger().totals(0).attempts, 1, "once");
}

#[test]
fn a_leg_freeswitch_never_made_ends_with_the_caller() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    board.on_event(&park, t);
    assert_eq!(board.ledger().concurrency(0), 1, "counted up when dialled");
    // No channel was made for the leg (no CREATE, no HANGUP_COMPLETE for it) and no bridge
    // completion came; then the caller hangs up: the caller's leaving ended the attempt.
    let hangup = event(
        "CHANNEL_HANGUP_COMPLETE",
        t + Duration::seconds(5),
        &[("Unique-ID", "caller"), ("Hangup-Cause", "NORMAL_CLEARING")],
    );
    let record = record(board.on_event(&hangup, t)).expect("the call ends");
    assert_eq!(
        record.attempts[0].hangup_cause.as_deref(),
        Some("NOT_CREATED")
    );
    assert_eq!(record.attempts[0].outcome, LegOutcome::Cancelled);
    assert_eq!(board.live_calls(), 0);
    assert_eq!(board.ledger().concurrency(0), 0);
}

#[test]
fn a_reconcile_judges_only_the_channels_it_asked_about() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(t, &[("variable_campaign", "auto")]);
    board.on_event(&park, t);
    // The snapshot was taken before this call parked: it is not judged gone.
    let actions = board.reconcile(&HashSet::new(), &HashSet::new(), &Default::default(), t);
    assert!(record(actions).is_none());
    assert_eq!(board.live_calls(), 1);
    assert_eq!(board.ledger().concurrency(0), 1);
}

#[test]
fn park_timeout_bounds_the_wait_budget() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(
        t,
        &[
            ("variable_campaign", "auto"),
            ("variable_park_timeout", "8:NORMAL_CLEARING"),
        ],
    );
    let bridge = board
        .on_event(&park, t)
        .into_iter()
        .find_map(|a| match a {
            Action::Execute {
                app: App::Bridge,
                arg,
                ..
            } => Some(arg),
            _ => None,
        })
        .expect("a bridge");
    assert!(
        bridge.contains("leg_timeout=5"),
        "the buyer rings no longer than FreeSWITCH keeps the caller, less what its whole-second \
         timers and the fallback take: {bridge}"
    );
}

/// The bridge argument of the actions.
fn bridge_arg(actions: &[Action]) -> Option<String> {
    actions.iter().find_map(|a| match a {
        Action::Execute {
            app: App::Bridge,
            arg,
            ..
        } => Some(arg.clone()),
        _ => None,
    })
}

#[test]
fn park_timeout_is_read_from_parkways_own_variable() {
    // A real FreeSWITCH: `park` took `park_timeout` off the channel before CHANNEL_PARK
    // (inbound_plain.recv); the dialplan's copy in parkway_park_timeout is still there.
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = park_event(
        t,
        &[
            ("variable_campaign", "auto"),
            (
                "variable_parkway_park_timeout",
                "10:NORMAL_TEMPORARY_FAILURE",
            ),
        ],
    );
    let bridge = bridge_arg(&board.on_event(&park, t)).expect("a bridge");
    assert!(bridge.contains("leg_timeout=7"), "{bridge}");
}

#[test]
fn no_step_is_started_that_the_park_timer_would_cut() {
    // Found by a reconcile 9 s after the park, with a 10 s park timer: nothing can ring.
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let park = super::MissedPark {
        uuid: "caller".into(),
        created: Some(t),
        vars: vec![
            ("campaign".into(), "auto".into()),
            (
                "parkway_park_timeout".into(),
                "10:NORMAL_TEMPORARY_FAILURE".into(),
            ),
        ],
        ..super::MissedPark::default()
    };
    let actions = board.missed_parks(vec![park], t + Duration::seconds(9));
    assert_eq!(bridge_arg(&actions), None, "nothing dialled");
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Execute {
            app: App::Hangup,
            ..
        }
    )));
}

/// A call on `config()` whose one step failed at `t + 10 s`: the fallback is sent. Returns the
/// board and the fallback hangup's Event-UUID.
fn fallen_back(t: DateTime<Utc>) -> (Switchboard, String) {
    let (mut board, event_uuid, leg) = dialled_at(t);
    let causes = format!("ARRAY::{leg};NO_ANSWER");
    let done = [
        ("Unique-ID", "caller"),
        ("Answer-State", "ringing"),
        ("Application", "bridge"),
        ("Application-UUID", event_uuid.as_str()),
        ("variable_originate_disposition", "NO_ANSWER"),
        ("variable_originate_causes", causes.as_str()),
    ];
    let t10 = t + Duration::seconds(10);
    let actions = board.on_event(&event("CHANNEL_EXECUTE_COMPLETE", t10, &done), t);
    let hangup = actions
        .iter()
        .find_map(|a| match a {
            Action::Execute {
                app: App::Hangup,
                event_uuid,
                ..
            } => Some(event_uuid.clone()),
            _ => None,
        })
        .expect("the fallback");
    let leg_down = [("Unique-ID", leg.as_str()), ("Hangup-Cause", "NO_ANSWER")];
    board.on_event(&event("CHANNEL_HANGUP_COMPLETE", t10, &leg_down), t);
    (board, hangup)
}

#[test]
fn a_fallback_the_caller_never_got_is_not_recorded() {
    // FreeSWITCH's park timer hung the caller up as the bridge returned: parkway's hangup
    // never ran.
    let t = monday_10am();
    let (mut board, _) = fallen_back(t);
    let gone = [
        ("Unique-ID", "caller"),
        ("Hangup-Cause", "NORMAL_TEMPORARY_FAILURE"),
    ];
    let t11 = t + Duration::seconds(11);
    let record = record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", t11, &gone), t))
        .expect("the call ends");
    assert_eq!(record.fallback, None);
    assert_eq!(
        record.caller_hangup_cause.as_deref(),
        Some("NORMAL_TEMPORARY_FAILURE")
    );
    assert!(
        record.notes.iter().any(|n| n.contains("never ran")),
        "{:?}",
        record.notes
    );
    assert_eq!(board.totals().fallbacks, 0);
}

#[test]
fn a_fallback_that_ran_is_recorded() {
    let t = monday_10am();
    let (mut board, hangup) = fallen_back(t);
    let t11 = t + Duration::seconds(11);
    let ran = [
        ("Unique-ID", "caller"),
        ("Application", "hangup"),
        ("Application-UUID", hangup.as_str()),
    ];
    board.on_event(&event("CHANNEL_EXECUTE_COMPLETE", t11, &ran), t);
    let gone = [("Unique-ID", "caller"), ("Hangup-Cause", "NORMAL_CLEARING")];
    let first = record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", t11, &gone), t))
        .expect("the call ends");
    assert!(first.fallback.is_some());
    assert_eq!(first.disposition, crate::calls::Disposition::Fallback);
    assert_eq!(board.totals().fallbacks, 1);

    // Its completion lost, the fallback's own cause on the caller's hangup shows it ran.
    let (mut board, _) = fallen_back(t);
    let gone = [
        ("Unique-ID", "caller"),
        ("Hangup-Cause", "NO_ROUTE_DESTINATION"),
    ];
    let record = record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", t11, &gone), t))
        .expect("the call ends");
    assert!(record.fallback.is_some());
}

#[test]
fn parks_of_our_own_buyer_legs_are_not_routed() {
    let t0 = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let routed = board.on_event(
        &park_event(
            t0,
            &[
                ("Caller-Caller-ID-Number", "+13105550100"),
                ("variable_campaign", "auto"),
            ],
        ),
        t0,
    );
    assert!(routed.iter().any(|a| matches!(
        a,
        Action::Execute {
            app: App::Bridge,
            ..
        }
    )));
    let leg = board.legs.keys().next().cloned().expect("a leg");
    // A buyer destination on this same switch: the leg's far side parks as an inbound call
    // that carries the campaign too. Over SIP only the X-header crosses; over loopback/ the
    // leg's variables do; and the leg's own uuid may park.
    let markers: [(&str, &str, &str); 3] = [
        ("looped-sip", "variable_sip_h_X-Parkway-Call", leg.as_str()),
        (
            "looped-loopback",
            "variable_sip_h_X-Parkway-Call",
            leg.as_str(),
        ),
        (leg.as_str(), "variable_other", "x"),
    ];
    for (i, (uuid, name, value)) in markers.iter().enumerate() {
        let park = event(
            "CHANNEL_PARK",
            t0 + Duration::seconds(1),
            &[
                ("Unique-ID", uuid),
                ("Call-Direction", "inbound"),
                ("Caller-Caller-ID-Number", "+13105550100"),
                ("variable_campaign", "auto"),
                (name, value),
            ],
        );
        let actions = board.on_event(&park, t0);
        assert!(actions.is_empty(), "{uuid}: {actions:?}");
        assert_eq!(board.totals().own_legs_parked, i as u64 + 1);
    }
    assert_eq!(board.live_calls(), 1);
    assert_eq!(board.totals().calls, 1);
}

#[test]
fn a_forged_leg_marker_does_not_hide_a_call() {
    // A caller sends `X-Parkway-Call: anything` (or the dialplan copies caller input into
    // parkway's variables): no leg of ours has that uuid, so the park is routed.
    let t0 = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    let forged: [(&str, &str, &str); 3] = [
        ("forged-sip", "variable_sip_h_X-Parkway-Call", "anything"),
        ("forged-call", "variable_parkway_call", "caller"),
        ("forged-buyer", "variable_parkway_buyer", "acme"),
    ];
    for (i, (uuid, name, value)) in forged.iter().enumerate() {
        let park = event(
            "CHANNEL_PARK",
            t0,
            &[
                ("Unique-ID", uuid),
                ("Call-Direction", "inbound"),
                ("variable_campaign", "auto"),
                (name, value),
            ],
        );
        let actions = board.on_event(&park, t0);
        assert!(
            bridge_arg(&actions).is_some(),
            "{uuid} is a call: {actions:?}"
        );
        assert_eq!(board.totals().forged_markers, i as u64 + 1);
    }
    assert_eq!(board.totals().own_legs_parked, 0);
    assert_eq!(board.totals().calls, 3);
    // The value of a live call's leg is not enough once that leg is over: a marker is good
    // only while parkway dials the leg.
    let leg = board.legs.keys().next().cloned().expect("a leg");
    let park = event(
        "CHANNEL_PARK",
        t0,
        &[
            ("Unique-ID", "looped"),
            ("Call-Direction", "inbound"),
            ("variable_campaign", "auto"),
            ("variable_sip_h_X-Parkway-Call", leg.as_str()),
        ],
    );
    assert!(board.on_event(&park, t0).is_empty(), "our own leg");
    assert_eq!(board.totals().own_legs_parked, 1);
}

#[test]
fn a_park_found_by_the_reconcile_is_routed_once_and_our_legs_never() {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    assert!(board.park_variables().contains(&"campaign".to_owned()));
    let park = |uuid: &str, vars: &[(&str, &str)]| super::MissedPark {
        uuid: uuid.into(),
        caller_number: "+13105550100".into(),
        caller_name: "Test".into(),
        destination: "18005550199".into(),
        created: Some(t - Duration::seconds(20)),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let found = vec![park("missed", &[("campaign", "auto")])];
    let actions = board.missed_parks(found.clone(), t);
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::Execute { call, app: App::Bridge, .. } if call == "missed")
        )
    );
    // The leg dialled for it loops back into this switch and parks unseen too.
    let leg = board.legs.keys().next().cloned().expect("a leg");
    let looped = park(
        "looped",
        &[("campaign", "auto"), ("sip_h_X-Parkway-Call", leg.as_str())],
    );
    let actions = board.missed_parks(vec![looped], t);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Execute { call, .. } if call == "looped"))
    );
    let totals = board.totals();
    assert_eq!(
        (totals.calls, totals.missed_parks, totals.own_legs_parked),
        (1, 2, 1)
    );
    // Found again (a second reconcile): the call is known, nothing happens.
    assert!(board.missed_parks(found.clone(), t).is_empty());
    assert_eq!(board.live_calls(), 1);
    // Its wait counts from the park, not from when it was found.
    let hangup = event(
        "CHANNEL_HANGUP_COMPLETE",
        t + Duration::seconds(1),
        &[("Unique-ID", "missed"), ("Hangup-Cause", "NORMAL_CLEARING")],
    );
    let record = record(board.on_event(&hangup, t)).expect("ends");
    assert_eq!(record.parked_at, t - Duration::seconds(20));
    assert!(record.notes.iter().any(|n| n.contains("reconcile")));
    // A `show channels` taken just before the end still lists it: not routed again.
    assert!(board.missed_parks(found, t).is_empty());
    assert_eq!((board.live_calls(), board.totals().calls), (0, 1));
}

#[test]
fn a_missed_bridge_whose_leg_hangs_up_first_is_paid_from_the_legs_epochs() {
    let t = monday_10am();
    let (mut board, event_uuid, leg) = dialled_at(t);
    // The socket was down through the answer and the bridge; back in view, the buyer hangs up
    // first. Its hangup carries what inbound_plain's buyer leg shows: bridge_uuid, and the
    // answer, bridge and end epochs (seconds and microseconds).
    let bridged = t + Duration::seconds(10);
    let end = t + Duration::seconds(100);
    let (b_s, b_us) = (
        bridged.timestamp().to_string(),
        bridged.timestamp_micros().to_string(),
    );
    let (e_s, e_us) = (
        end.timestamp().to_string(),
        end.timestamp_micros().to_string(),
    );
    let down = [
        ("Unique-ID", leg.as_str()),
        ("Hangup-Cause", "NORMAL_CLEARING"),
        ("variable_bridge_uuid", "caller"),
        ("variable_last_bridge_to", "caller"),
        ("variable_answer_epoch", b_s.as_str()),
        ("variable_answer_uepoch", b_us.as_str()),
        ("variable_bridge_epoch", b_s.as_str()),
        ("variable_bridge_uepoch", b_us.as_str()),
        ("variable_end_epoch", e_s.as_str()),
        ("variable_end_uepoch", e_us.as_str()),
        ("variable_billsec", "90"),
    ];
    let out = board.on_event(&event("CHANNEL_HANGUP_COMPLETE", end, &down), t);
    assert!(record(out).is_none(), "the caller is still up");
    assert_eq!(
        board.totals().connected,
        1,
        "connected from the leg's hangup"
    );
    // Then the caller's bridge completes (hangup_after_bridge) and the caller hangs up.
    let done = [
        ("Unique-ID", "caller"),
        ("Answer-State", "hangup"),
        ("Application", "bridge"),
        ("Application-UUID", event_uuid.as_str()),
        ("variable_originate_disposition", "SUCCESS"),
        ("variable_bridge_uuid", leg.as_str()),
    ];
    let later = end + Duration::seconds(1);
    board.on_event(&event("CHANNEL_EXECUTE_COMPLETE", later, &done), t);
    let hangup = [("Unique-ID", "caller"), ("Hangup-Cause", "NORMAL_CLEARING")];
    let record = record(board.on_event(&event("CHANNEL_HANGUP_COMPLETE", later, &hangup), t))
        .expect("the call ends");
    assert_eq!(record.disposition, crate::calls::Disposition::Connected);
    assert_eq!(record.attempts[0].outcome, LegOutcome::Connected);
    assert_eq!(record.bridged_at, Some(bridged));
    assert_eq!(record.talk_secs, 90, "bridge to the leg's end");
    assert_eq!(record.payout, 200, "two started minutes at 1.00");
    assert_eq!(board.ledger().totals(0).connections, 1);
    assert_eq!(board.ledger().concurrency(0), 0);
}

/// A call bridged at `t + 10 s` to acme, whose leg goes at `t + 40 s`; the caller hangs up at
/// `t + 200 s` with this `transfer_history`.
fn transfer_call(history: Option<&str>) -> CallRecord {
    let t = monday_10am();
    let mut board = Switchboard::new(config(), 1, false);
    board.on_event(&park_event(t, &[("variable_campaign", "auto")]), t);
    let leg = board.legs.keys().next().cloned().expect("a leg");
    let bridge = [
        ("Unique-ID", "caller"),
        ("Bridge-A-Unique-ID", "caller"),
        ("Bridge-B-Unique-ID", leg.as_str()),
    ];
    board.on_event(
        &event("CHANNEL_BRIDGE", t + Duration::seconds(10), &bridge),
        t,
    );
    let down = [
        ("Unique-ID", leg.as_str()),
        ("Hangup-Cause", "NORMAL_CLEARING"),
    ];
    let out = board.on_event(
        &event("CHANNEL_HANGUP_COMPLETE", t + Duration::seconds(40), &down),
        t,
    );
    assert!(record(out).is_none(), "the caller is still on the line");
    let mut hangup = vec![("Unique-ID", "caller"), ("Hangup-Cause", "NORMAL_CLEARING")];
    if let Some(h) = history {
        hangup.push(("variable_transfer_history", h));
    }
    record(board.on_event(
        &event(
            "CHANNEL_HANGUP_COMPLETE",
            t + Duration::seconds(200),
            &hangup,
        ),
        t,
    ))
    .expect("the call ends")
}

#[test]
fn a_caller_the_buyer_transfers_is_paid_until_the_caller_hangs_up() {
    let t = monday_10am();
    let at = (t + Duration::seconds(40)).timestamp();
    // As FreeSWITCH writes it (dtmf_variants.recv): `<epoch>:<uuid>:bl_xfer:<ext>/<ctx>/XML`.
    let history = format!("{at}:caller:bl_xfer:1000/default/XML");
    let record = transfer_call(Some(&history));
    assert_eq!(record.transferred_at, Some(t + Duration::seconds(40)));
    assert_eq!(record.talk_secs, 190, "bridge to the caller's hangup");
    assert_eq!(record.payout, 400, "four started minutes at 1.00");
    assert!(record.notes.iter().any(|n| n.contains("transferred")));

    // Without a transfer the talk ends with the buyer's leg.
    let plain = transfer_call(None);
    assert_eq!(
        (plain.talk_secs, plain.payout, plain.transferred_at),
        (30, 100, None)
    );
    // A transfer in the dialplan before the park is not the buyer's.
    let early = format!(
        "ARRAY::{}:caller:bl_xfer:park/public/XML",
        (t - Duration::seconds(5)).timestamp()
    );
    let before = transfer_call(Some(&early));
    assert_eq!((before.talk_secs, before.transferred_at), (30, None));
}
