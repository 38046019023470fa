//! What several integration tests share: the names of the real FreeSWITCH captures copied into
//! `captures/` (each has `NAME.recv`, what the switch sent, and `NAME.sent`, what the client sent).

/// Every capture scenario of `captures/`.
pub const CAPTURES: [&str; 16] = [
    "all_fail",
    "auth_fail",
    "burst",
    "caller_abandon",
    "dtmf_variants",
    "group_sequential",
    "group_simultaneous",
    "inbound_json",
    "inbound_plain",
    "noauth_command",
    "originate_uuid_bridge",
    "outbound_json",
    "outbound_plain",
    "show_channels",
    "sip_leg",
    "uuid_bridge_unanswered",
];
