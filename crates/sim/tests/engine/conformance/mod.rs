//! Conformance of the simulated switch's engine with real FreeSWITCH captures: each scenario's
//! commands (from `captures/<name>.sent`, at the times its `.md` gives) are replayed into the
//! engine, and for every channel, identified by its role (see [`roles`]: the channel name, with
//! an ordinal when several channels share one), the sequence of steps (event, Answer-State,
//! Channel-State, Hangup-Cause, DTMF digit, source and duration, Application, its response and
//! which events share an Application-UUID, originate_disposition, Call-Direction, Other-Leg and
//! Bridge-A/B roles) must equal the one decoded from the real `.recv`; so must the
//! BACKGROUND_JOB bodies and the `api` replies (uuids as roles).
//!
//! Not modelled, so left out of both sides: CODEC, CALL_UPDATE, PRIVATE_COMMAND,
//! RECV_RTCP_MESSAGE, HEARTBEAT, RE_SCHEDULE, RECV_INFO, API (global). Cross-channel
//! interleaving is not compared: FreeSWITCH's threads interleave events differently from run to
//! run. Races within a channel are forgiven only where a capture shows them ([`races`]).

mod capture;
mod headers;
mod races;
mod replay;
mod replies;
mod roles;
mod sequences;
mod timing;
