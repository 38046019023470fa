//! The FreeSWITCH events the switchboard reads: the one list the daemon subscribes to and the
//! switchboard dispatches on.

use parkway_esl::event::Event;

/// An event the switchboard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwitchEvent {
    ChannelPark,
    ChannelCreate,
    ChannelAnswer,
    ChannelBridge,
    ChannelExecuteComplete,
    ChannelHangupComplete,
    Dtmf,
}

impl SwitchEvent {
    /// Every event the switchboard reads (subscribe to exactly these), in subscription order.
    pub const ALL: [SwitchEvent; 7] = [
        SwitchEvent::ChannelPark,
        SwitchEvent::ChannelCreate,
        SwitchEvent::ChannelAnswer,
        SwitchEvent::ChannelBridge,
        SwitchEvent::ChannelExecuteComplete,
        SwitchEvent::ChannelHangupComplete,
        SwitchEvent::Dtmf,
    ];

    /// FreeSWITCH's name for it (`Event-Name`, and the `event` command's argument).
    pub fn name(self) -> &'static str {
        match self {
            SwitchEvent::ChannelPark => "CHANNEL_PARK",
            SwitchEvent::ChannelCreate => "CHANNEL_CREATE",
            SwitchEvent::ChannelAnswer => "CHANNEL_ANSWER",
            SwitchEvent::ChannelBridge => "CHANNEL_BRIDGE",
            SwitchEvent::ChannelExecuteComplete => "CHANNEL_EXECUTE_COMPLETE",
            SwitchEvent::ChannelHangupComplete => "CHANNEL_HANGUP_COMPLETE",
            SwitchEvent::Dtmf => "DTMF",
        }
    }

    /// The event named `name` (exactly, as FreeSWITCH spells it); `None` for one the
    /// switchboard does not read.
    pub fn from_name(name: &str) -> Option<SwitchEvent> {
        Some(match name {
            "CHANNEL_PARK" => SwitchEvent::ChannelPark,
            "CHANNEL_CREATE" => SwitchEvent::ChannelCreate,
            "CHANNEL_ANSWER" => SwitchEvent::ChannelAnswer,
            "CHANNEL_BRIDGE" => SwitchEvent::ChannelBridge,
            "CHANNEL_EXECUTE_COMPLETE" => SwitchEvent::ChannelExecuteComplete,
            "CHANNEL_HANGUP_COMPLETE" => SwitchEvent::ChannelHangupComplete,
            "DTMF" => SwitchEvent::Dtmf,
            _ => return None,
        })
    }

    /// What `ev` is (its `Event-Name`), when the switchboard reads it.
    pub fn of(ev: &Event) -> Option<SwitchEvent> {
        SwitchEvent::from_name(&ev.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in SwitchEvent::ALL {
            assert_eq!(SwitchEvent::from_name(e.name()), Some(e), "{e:?}");
        }
        assert_eq!(SwitchEvent::from_name("CHANNEL_DESTROY"), None);
        assert_eq!(
            SwitchEvent::from_name("channel_park"),
            None,
            "names are exact"
        );
        assert_eq!(SwitchEvent::from_name(""), None);
    }

    #[test]
    fn all_lists_every_event_once_in_subscription_order() {
        // Adding a variant breaks this match until it is placed in ALL too.
        let position = |e: SwitchEvent| match e {
            SwitchEvent::ChannelPark => 0,
            SwitchEvent::ChannelCreate => 1,
            SwitchEvent::ChannelAnswer => 2,
            SwitchEvent::ChannelBridge => 3,
            SwitchEvent::ChannelExecuteComplete => 4,
            SwitchEvent::ChannelHangupComplete => 5,
            SwitchEvent::Dtmf => 6,
        };
        for (i, e) in SwitchEvent::ALL.into_iter().enumerate() {
            assert_eq!(position(e), i, "{e:?}");
        }
        // The subscription FreeSWITCH gets, as it was when these were strings.
        assert_eq!(
            SwitchEvent::ALL.map(SwitchEvent::name),
            [
                "CHANNEL_PARK",
                "CHANNEL_CREATE",
                "CHANNEL_ANSWER",
                "CHANNEL_BRIDGE",
                "CHANNEL_EXECUTE_COMPLETE",
                "CHANNEL_HANGUP_COMPLETE",
                "DTMF",
            ]
        );
    }
}
