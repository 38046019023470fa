//! The thread races the captures really show, and how a comparison forgives them.

use std::collections::BTreeMap;

use super::roles::Step;

/// Which known thread races a comparison forgives. Each is one the named capture really shows,
/// forgiven on the `-a` halves of loopback pairs only, by bringing both sides to one order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Races {
    /// A loopback `-a` leg's own thread (CREATE, ORIGINATE, CS_ROUTING, CS_CONSUME_MEDIA) races
    /// with its `-b` leg answering or hanging up at once; these steps are dropped and the
    /// start-up states read alike (`originate_uuid_bridge`, `uuid_bridge_unanswered`).
    LegStart,
    /// The caller's phone leg finishes its originate (CS_EXECUTE, EXECUTE of its `&sleep`) on
    /// early media, before the answer crosses to it (`inbound_plain`, the simulated order), or
    /// after (`inbound_json`: answered at 0.049 s, BACKGROUND_JOB at 0.069 s).
    CallerAnswer,
    /// A loopback `-b` leg is killed by `uuid_kill` while bridged: the `-a` leg's application
    /// is broken and completes before mod_loopback (from the `-b` leg's thread, once its bridge
    /// has torn down) hangs it up (`dtmf_variants` call 3: 22 ms apart), whereas a `-b` leg
    /// hanging up on its own thread hangs the `-a` leg up first (the simulated order, calls 1
    /// and 2).
    PeerKilled,
}

/// `steps[i..i + names.len()]` are events of those names.
pub(crate) fn run_at(steps: &[Step], i: usize, names: &[&str]) -> bool {
    steps.len() >= i + names.len() && names.iter().enumerate().all(|(k, n)| steps[i + k][0] == *n)
}

pub(crate) fn forgive(roles: &mut BTreeMap<String, Vec<Step>>, races: &[Races]) {
    for (role, steps) in roles.iter_mut() {
        let loopback_a = role.starts_with("loopback/")
            && (role.ends_with("-a")
                || role
                    .rsplit_once('#')
                    .is_some_and(|(r, _)| r.ends_with("-a")));
        if !loopback_a {
            continue;
        }
        for race in races {
            match race {
                Races::LegStart => {
                    steps.retain(|s| {
                        let startup_state = s[0] == "CHANNEL_STATE"
                            && matches!(s[2].as_str(), "CS_ROUTING" | "CS_CONSUME_MEDIA");
                        !(startup_state
                            || matches!(s[0].as_str(), "CHANNEL_CREATE" | "CHANNEL_ORIGINATE"))
                    });
                    for s in steps.iter_mut() {
                        if matches!(s[2].as_str(), "CS_INIT" | "CS_ROUTING" | "CS_CONSUME_MEDIA") {
                            s[2] = "CS_(start-up)".into();
                        }
                    }
                }
                Races::CallerAnswer => {
                    let exec_first = [
                        "CHANNEL_STATE",
                        "CHANNEL_EXECUTE",
                        "CHANNEL_ANSWER",
                        "CHANNEL_CALLSTATE",
                    ];
                    let answer_first = [
                        "CHANNEL_ANSWER",
                        "CHANNEL_CALLSTATE",
                        "CHANNEL_STATE",
                        "CHANNEL_EXECUTE",
                    ];
                    for i in 0..steps.len() {
                        if run_at(steps, i, &exec_first) && steps[i][2] == "CS_EXECUTE" {
                            steps[i..i + 4].rotate_left(2);
                        }
                        if run_at(steps, i, &answer_first) && steps[i + 2][2] == "CS_EXECUTE" {
                            for s in &mut steps[i..i + 4] {
                                s[1] = "(early|answered)".into();
                                s[2] = "(CS_CONSUME_MEDIA|CS_EXECUTE)".into();
                            }
                        }
                    }
                }
                Races::PeerKilled => {
                    for i in 0..steps.len() {
                        if run_at(steps, i, &["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"]) {
                            steps.swap(i, i + 1);
                            steps[i + 1][1] = steps[i][1].clone();
                            steps[i + 1][3] = steps[i][3].clone();
                        }
                    }
                }
            }
        }
    }
}
