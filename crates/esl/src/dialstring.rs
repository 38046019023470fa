//! Dial strings for `bridge` and `originate` (`switch_ivr_originate.c`), built so that no value
//! can split or inject a leg, and parsed back the way FreeSWITCH does (the simulated switch runs
//! them).
//!
//! Shape: `<ent vars>` then branches joined by `:_:`; a branch is `{global vars}` then groups
//! joined by `|` (tried in turn); a group is legs joined by `,` (dialled at once); a leg is
//! `[leg vars]endpoint`.
//!
//! How FreeSWITCH reads it, and therefore how values are escaped:
//! - `:_:` anywhere (even inside a value) splits branches, unquoted: refused in values and
//!   endpoints, and so is an endpoint ending in `:_` (it would join the next `:_:`).
//! - `{…}`, `[…]`, `<…>` end at the matching close byte, counted without regard to quotes or
//!   escapes: brackets are refused in values.
//! - `{…}`/`<…>` vars are split on `,` then on the first `=`, each split removing balanced `'`
//!   and unescaping `\x`: a `,` is written `\,`, a `'` is written `\\\'`.
//! - the rest is split on `|`, then each group on `,` (commas inside `[…]` protected unless
//!   preceded by `\`), then `[…]` vars on that protected comma and `=`: four rounds. A `|` is
//!   written `\|` and a `,` `\,`; a `'` in a leg value would flip FreeSWITCH's quote tracking for
//!   the whole group, so it is refused.
//! - `\` is refused everywhere (each round halves it), and `$` too (variable and API expansion
//!   would run on the value). Leading or trailing blanks would be trimmed: refused.
//! - a `bridge` argument is variable-expanded before parsing, which turns `\\` into `\` and drops
//!   `\'` whenever the text holds such escapes: every `\` is then doubled.
//! - for `originate` (an API argument) one more blank-splitting round applies: values with blanks
//!   are wrapped in `'…'` (or escaped), as in `origination_caller_id_name='Maria Lopez'`.

use std::fmt;

use crate::command::fs_split::{
    QUOTED_ESC_COMMA, UNQUOTED_ESC_COMMA, escape_blank, escape_for_expansion, expand_app_arg,
    find_end, protect_leg_commas, separate as fs_separate, split_str, trim_spaces, unique_vars,
};

/// Ordered `name=value` pairs.
pub type Vars = Vec<(String, String)>;

/// FreeSWITCH's limit on branches, groups and legs per group (`MAX_PEERS`): past it the last
/// element silently takes the rest of the string.
pub const MAX_PEERS: usize = 128;

/// FreeSWITCH's limit on variables in one bracket block (`var_array[1024]`).
pub const MAX_BLOCK_VARS: usize = 1024;

/// Errors from encoding or parsing a dial string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialStringError {
    /// A variable name is empty or holds a byte other than letters, digits, `_`, `-` and `.`
    /// (or starts with `-` or `.`).
    #[error("invalid variable name {name:?}")]
    InvalidName {
        /// The name refused.
        name: String,
    },
    /// A variable has an empty value: FreeSWITCH would drop it.
    #[error("variable {name} has an empty value (FreeSWITCH would drop it)")]
    EmptyValue {
        /// The variable's name.
        name: String,
    },
    /// A value cannot be escaped so that FreeSWITCH reads it back whole (a bracket, `\`, `$`,
    /// `:_:`, a control byte, an outer blank, or a `'` in `[…]`).
    #[error("variable {name} has an unsafe value {value:?}: {reason}")]
    UnsafeValue {
        /// The variable's name.
        name: String,
        /// The value refused.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// An endpoint is empty or holds a separator, quote, blank or other byte that would
    /// change how the dial string splits.
    #[error("unsafe endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as it would be written.
        endpoint: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// No branch, a branch without groups, or a group without legs.
    #[error("dial string has no legs (or an empty group)")]
    NoLegs,
    /// More than FreeSWITCH's limit of something ([`MAX_PEERS`] or [`MAX_BLOCK_VARS`]).
    #[error("more than {max} {what} (FreeSWITCH would merge the rest)")]
    TooMany {
        /// What there are too many of (`branches`, `groups`, `legs in a group`, `variables in
        /// a block`).
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The same name twice in one block (FreeSWITCH keeps only the last value).
    #[error("variable {name} appears twice in one block")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// Parsing: a `<`, `{` or `[` block has no matching close bracket.
    #[error("unclosed {open:?} block in dial string")]
    Unclosed {
        /// The opening bracket.
        open: char,
    },
    /// Parsing: a leg is only a `[…]` block, or nothing at all.
    #[error("a leg has no endpoint")]
    MissingEndpoint,
}

/// A whole dial string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialString {
    /// `<k=v>` applied to every branch.
    pub enterprise_vars: Vars,
    /// Branches joined by `:_:` (one, unless enterprise dialling is wanted).
    pub branches: Vec<Branch>,
}

/// Groups dialled in turn, with `{k=v}` vars for all their legs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Branch {
    /// `{k=v}` applied to every leg of the branch.
    pub global_vars: Vars,
    /// Joined by `|`: the next group is tried when the previous one failed.
    pub groups: Vec<Group>,
}

/// Legs dialled at the same time (first answer wins).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// Joined by `,`.
    pub legs: Vec<Leg>,
}

/// One endpoint with its own `[k=v]` vars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    /// `[k=v]` for this leg only.
    pub vars: Vars,
    /// Where it goes.
    pub endpoint: Endpoint,
}

/// Where a leg goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `sofia/<profile>/<dest>`.
    Sofia {
        /// The SIP profile (`internal`, `external`, …).
        profile: String,
        /// The SIP destination (`1000@10.0.0.5:5060`, say).
        dest: String,
    },
    /// `sofia/gateway/<gateway>/<number>`.
    SofiaGateway {
        /// The gateway's name in the sofia configuration.
        gateway: String,
        /// The number sent to the gateway.
        number: String,
    },
    /// `loopback/<ext>[/<context>]`: a leg that runs the dialplan at `ext`.
    Loopback {
        /// The extension.
        ext: String,
        /// The context (FreeSWITCH's default when `None`).
        context: Option<String>,
    },
    /// `user/<id>`: a user of the directory, dialled at its registered contact.
    User {
        /// The user id (`1000`, or `1000@domain`).
        id: String,
    },
    /// Anything else, as written.
    Raw(String),
}

/// Which extra round of splitting the dial string goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// The argument of the `bridge` application (`sendmsg … execute-app-arg`), which FreeSWITCH
    /// passes through variable expansion first.
    Bridge,
    /// The first argument of the `originate` API (split on blanks first).
    ApiArgument,
}

impl DialString {
    /// One branch: `{global}` then the groups joined by `|`.
    pub fn new(global_vars: Vars, groups: Vec<Group>) -> DialString {
        DialString {
            enterprise_vars: Vars::new(),
            branches: vec![Branch {
                global_vars,
                groups,
            }],
        }
    }

    /// Encodes for `bridge`.
    pub fn encode(&self) -> Result<String, DialStringError> {
        self.encode_with(Quoting::Bridge)
    }

    /// Encodes for the given context, refusing anything that cannot be made safe.
    pub fn encode_with(&self, quoting: Quoting) -> Result<String, DialStringError> {
        if self.branches.is_empty() {
            return Err(DialStringError::NoLegs);
        }
        too_many("branches", self.branches.len(), MAX_PEERS)?;
        let mut out = String::new();
        write_vars(
            &mut out,
            '<',
            '>',
            &self.enterprise_vars,
            Position::Global,
            quoting,
        )?;
        for (i, branch) in self.branches.iter().enumerate() {
            if i > 0 {
                out.push_str(":_:");
            }
            if branch.groups.is_empty() {
                return Err(DialStringError::NoLegs);
            }
            too_many("groups", branch.groups.len(), MAX_PEERS)?;
            write_vars(
                &mut out,
                '{',
                '}',
                &branch.global_vars,
                Position::Global,
                quoting,
            )?;
            for (g, group) in branch.groups.iter().enumerate() {
                if g > 0 {
                    out.push('|');
                }
                if group.legs.is_empty() {
                    return Err(DialStringError::NoLegs);
                }
                too_many("legs in a group", group.legs.len(), MAX_PEERS)?;
                for (l, leg) in group.legs.iter().enumerate() {
                    if l > 0 {
                        out.push(',');
                    }
                    write_vars(&mut out, '[', ']', &leg.vars, Position::Leg, quoting)?;
                    let endpoint = leg.endpoint.to_string();
                    check_endpoint(&leg.endpoint, &endpoint)?;
                    out.push_str(&endpoint);
                }
            }
        }
        Ok(match quoting {
            Quoting::Bridge => escape_for_expansion(&out),
            Quoting::ApiArgument => out,
        })
    }

    /// Parses the argument of a `bridge` application as FreeSWITCH runs it: escapes are
    /// expanded first ([`expand_app_arg`]), then the dial string is parsed.
    pub fn parse_app_arg(arg: &str) -> Result<DialString, DialStringError> {
        DialString::parse(&expand_app_arg(arg))
    }

    /// Parses a dial string as `switch_ivr_originate` receives it (for a `bridge` argument use
    /// [`parse_app_arg`](DialString::parse_app_arg); for an `originate` argument, split the API
    /// arguments with [`split_api_args`](crate::command::split_api_args) first).
    pub fn parse(text: &str) -> Result<DialString, DialStringError> {
        let mut rest = trim_spaces(text.as_bytes());
        let mut enterprise_vars = Vars::new();
        while rest.first() == Some(&b'<') {
            let (content, after) = bracket(rest, b'<', b'>')?;
            unique_vars(content, b',', &mut enterprise_vars);
            rest = trim_spaces(after);
        }
        let branch_texts: Vec<&[u8]> = if rest.windows(3).any(|w| w == b":_:") {
            split_str(rest, b":_:", MAX_PEERS)
        } else {
            vec![rest]
        };
        let branches = branch_texts
            .into_iter()
            .map(parse_branch)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DialString {
            enterprise_vars,
            branches,
        })
    }

    /// Every leg, in dialling order.
    pub fn legs(&self) -> impl Iterator<Item = &Leg> {
        self.branches
            .iter()
            .flat_map(|b| b.groups.iter())
            .flat_map(|g| g.legs.iter())
    }
}

impl Group {
    /// Legs dialled at the same time.
    pub fn of(legs: Vec<Leg>) -> Group {
        Group { legs }
    }
}

impl Leg {
    /// A leg with its own vars.
    pub fn new(vars: Vars, endpoint: Endpoint) -> Leg {
        Leg { vars, endpoint }
    }
}

impl Endpoint {
    /// Recognises the typed shapes; everything else is [`Endpoint::Raw`] (so a `Raw` written in
    /// a typed shape comes back typed).
    pub fn parse(text: &str) -> Endpoint {
        let raw = || Endpoint::Raw(text.to_owned());
        let pair = |s: &str| {
            s.split_once('/')
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        };
        let Some((tech, rest)) = text.split_once('/') else {
            return raw();
        };
        match tech {
            "sofia" => match pair(rest) {
                Some((gw, rest)) if gw == "gateway" => match pair(&rest) {
                    Some((gateway, number)) => Endpoint::SofiaGateway { gateway, number },
                    None => raw(),
                },
                Some((profile, dest)) => Endpoint::Sofia { profile, dest },
                None => raw(),
            },
            "loopback" if !rest.is_empty() => match pair(rest) {
                None if !rest.contains('/') => Endpoint::Loopback {
                    ext: rest.to_owned(),
                    context: None,
                },
                Some((ext, context)) if !context.contains('/') => Endpoint::Loopback {
                    ext,
                    context: Some(context),
                },
                _ => raw(),
            },
            "user" if !rest.is_empty() => Endpoint::User {
                id: rest.to_owned(),
            },
            _ => raw(),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Sofia { profile, dest } => write!(f, "sofia/{profile}/{dest}"),
            Endpoint::SofiaGateway { gateway, number } => {
                write!(f, "sofia/gateway/{gateway}/{number}")
            }
            Endpoint::Loopback { ext, context: None } => write!(f, "loopback/{ext}"),
            Endpoint::Loopback {
                ext,
                context: Some(c),
            } => write!(f, "loopback/{ext}/{c}"),
            Endpoint::User { id } => write!(f, "user/{id}"),
            Endpoint::Raw(raw) => f.write_str(raw),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// `{…}` or `<…>`: two rounds of splitting.
    Global,
    /// `[…]`: four rounds.
    Leg,
}

fn write_vars(
    out: &mut String,
    open: char,
    close: char,
    vars: &Vars,
    position: Position,
    quoting: Quoting,
) -> Result<(), DialStringError> {
    if vars.is_empty() {
        return Ok(());
    }
    too_many("variables in a block", vars.len(), MAX_BLOCK_VARS)?;
    out.push(open);
    for (i, (name, value)) in vars.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        check_name(name)?;
        if vars[..i].iter().any(|(n, _)| n == name) {
            return Err(DialStringError::DuplicateName { name: name.clone() });
        }
        let escaped = escape_value(name, value, position)?;
        out.push_str(name);
        out.push('=');
        match quoting {
            Quoting::Bridge => out.push_str(&escaped),
            Quoting::ApiArgument => out.push_str(&escape_blank(&escaped)),
        }
    }
    out.push(close);
    Ok(())
}

fn too_many(what: &'static str, len: usize, max: usize) -> Result<(), DialStringError> {
    if len > max {
        Err(DialStringError::TooMany { what, max })
    } else {
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), DialStringError> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(DialStringError::InvalidName {
            name: name.to_owned(),
        })
    }
}

fn escape_value(name: &str, value: &str, position: Position) -> Result<String, DialStringError> {
    let unsafe_value = |reason| DialStringError::UnsafeValue {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Err(DialStringError::EmptyValue {
            name: name.to_owned(),
        });
    }
    if let Some(reason) = common_unsafe(value) {
        return Err(unsafe_value(reason));
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err(unsafe_value("leading or trailing blank would be trimmed"));
    }
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match (c, position) {
            (',', _) => out.push_str("\\,"),
            ('\'', Position::Global) => out.push_str("\\\\\\'"),
            ('\'', Position::Leg) => {
                return Err(unsafe_value(
                    "a quote inside [..] breaks FreeSWITCH's comma protection",
                ));
            }
            ('|', Position::Leg) => out.push_str("\\|"),
            (c, _) => out.push(c),
        }
    }
    Ok(out)
}

/// What no position can carry safely.
fn common_unsafe(text: &str) -> Option<&'static str> {
    if text.chars().any(|c| c.is_control()) {
        Some("control character")
    } else if text.contains('\\') {
        Some("backslash")
    } else if text.contains('$') {
        Some("`$` would be expanded as a variable or API call")
    } else if text.contains(['{', '}', '[', ']', '<', '>']) {
        Some("brackets end var blocks regardless of quoting")
    } else if text.contains(":_:") {
        Some("`:_:` splits enterprise branches regardless of quoting")
    } else {
        None
    }
}

fn check_endpoint(endpoint: &Endpoint, text: &str) -> Result<(), DialStringError> {
    let invalid = |reason| DialStringError::InvalidEndpoint {
        endpoint: text.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    if let Some(reason) = common_unsafe(text) {
        return Err(invalid(reason));
    }
    if text.contains([',', '|', '\'', '"', ' ']) {
        return Err(invalid("separator, quote or blank"));
    }
    if text.ends_with(":_") {
        return Err(invalid(
            "a trailing `:_` would join a following `:_:` separator",
        ));
    }
    if text.starts_with(['^', '%']) {
        return Err(invalid(
            "a leading `^^` or `%[` would be read as a delimiter switch",
        ));
    }
    if Endpoint::parse(text) != *endpoint && !matches!(endpoint, Endpoint::Raw(_)) {
        return Err(invalid("a component holds `/` or is empty"));
    }
    Ok(())
}

// ---- parsing, following switch_ivr_originate.c ----

fn parse_branch(text: &[u8]) -> Result<Branch, DialStringError> {
    let mut rest = trim_spaces(text);
    let mut global_vars = Vars::new();
    while rest.first() == Some(&b'{') {
        let (content, after) = bracket(rest, b'{', b'}')?;
        unique_vars(content, b',', &mut global_vars);
        rest = trim_spaces(after);
    }
    let groups = fs_separate(rest, b'|', MAX_PEERS)
        .iter()
        .map(|g| parse_group(g))
        .collect::<Result<Vec<_>, _>>()?;
    if groups.is_empty() {
        return Err(DialStringError::NoLegs);
    }
    Ok(Branch {
        global_vars,
        groups,
    })
}

fn parse_group(text: &[u8]) -> Result<Group, DialStringError> {
    let mut text = text.to_vec();
    protect_leg_commas(&mut text);
    let legs = fs_separate(&text, b',', MAX_PEERS)
        .iter()
        .map(|l| parse_leg(l))
        .collect::<Result<Vec<_>, _>>()?;
    if legs.is_empty() {
        return Err(DialStringError::NoLegs);
    }
    Ok(Group { legs })
}

fn parse_leg(text: &[u8]) -> Result<Leg, DialStringError> {
    let mut rest = trim_spaces(text).to_vec();
    let mut vars = Vars::new();
    while rest.first() == Some(&b'[') {
        let end = find_end(&rest, b'[', b']').ok_or(DialStringError::Unclosed { open: '[' })?;
        for b in &mut rest[1..end] {
            if *b == QUOTED_ESC_COMMA {
                *b = b',';
            }
        }
        unique_vars(&rest[1..end], UNQUOTED_ESC_COMMA, &mut vars);
        rest = trim_spaces(&rest[end + 1..]).to_vec();
    }
    if rest.is_empty() {
        return Err(DialStringError::MissingEndpoint);
    }
    Ok(Leg {
        vars,
        endpoint: Endpoint::parse(&String::from_utf8_lossy(&rest)),
    })
}

fn bracket(text: &[u8], open: u8, close: u8) -> Result<(&[u8], &[u8]), DialStringError> {
    let end = find_end(text, open, close).ok_or(DialStringError::Unclosed {
        open: char::from(open),
    })?;
    Ok((&text[1..end], &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn escapes_separators_in_values() {
        let dial = DialString::new(
            vars(&[("name", "O'Brien, Pat | x")]),
            vec![Group::of(vec![Leg::new(
                vars(&[("tag", "a,b|c \"d\"")]),
                Endpoint::Sofia {
                    profile: "internal".into(),
                    dest: "1000@10.0.0.1:5080".into(),
                },
            )])],
        );
        let text = dial.encode().expect("test input");
        assert_eq!(
            text,
            "{name=O\\\\\\\\\\\\'Brien\\\\, Pat | x}[tag=a\\\\,b\\\\|c \"d\"]sofia/internal/1000@10.0.0.1:5080"
        );
        assert_eq!(DialString::parse_app_arg(&text), Ok(dial.clone()));
        // Without a quote nothing triggers expansion and the escapes stay single.
        let mut plain = dial;
        plain.branches[0].global_vars[0].1 = "Pat, x".into();
        let text = plain.encode().expect("test input");
        assert!(text.starts_with("{name=Pat\\, x}[tag=a\\,b\\|c"), "{text}");
        assert_eq!(DialString::parse_app_arg(&text), Ok(plain));
    }

    #[test]
    fn parse_errors_are_typed() {
        assert_eq!(
            DialString::parse("{a=b"),
            Err(DialStringError::Unclosed { open: '{' })
        );
        assert_eq!(
            DialString::parse("[a=b]"),
            Err(DialStringError::MissingEndpoint)
        );
        assert_eq!(
            DialString::parse("[a=b"),
            Err(DialStringError::Unclosed { open: '[' })
        );
        assert_eq!(DialString::parse("{a=b}"), Err(DialStringError::NoLegs));
    }
}
