//! The dialplan applications parkway runs on a caller's channel (`sendmsg` `execute`).

use std::fmt;

/// An application parkway executes on a caller's channel ([`crate::calls::Action::Execute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum App {
    /// `set name=value`: the channel variables a bridge needs.
    Set,
    /// `bridge <dial string>`: one plan step.
    Bridge,
    /// `answer`, then `playback <file>`, then `hangup <cause>`: the play fallback.
    Answer,
    Playback,
    /// `hangup <cause>`: the hangup fallback (and the play fallback's end).
    Hangup,
    /// `transfer <extension>`: the transfer fallback.
    Transfer,
}

impl App {
    /// FreeSWITCH's name for it (`execute-app-name`).
    pub fn name(self) -> &'static str {
        match self {
            App::Set => "set",
            App::Bridge => "bridge",
            App::Answer => "answer",
            App::Playback => "playback",
            App::Hangup => "hangup",
            App::Transfer => "transfer",
        }
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_freeswitchs() {
        let all = [
            App::Set,
            App::Bridge,
            App::Answer,
            App::Playback,
            App::Hangup,
            App::Transfer,
        ];
        let names: Vec<&str> = all.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            ["set", "bridge", "answer", "playback", "hangup", "transfer"]
        );
        assert_eq!(App::Bridge.to_string(), "bridge");
        // Each is a valid `execute-app-name`.
        for app in all {
            parkway_esl::command::Command::sendmsg_execute(
                Some("0b1c2d3e-0000-4000-8000-000000000001"),
                app.name(),
                None,
                "0b1c2d3e-0000-4000-8000-000000000002",
            )
            .expect("valid app name");
        }
    }
}
