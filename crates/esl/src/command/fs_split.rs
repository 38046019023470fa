//! FreeSWITCH's string splitter, reproduced so that what parkway escapes can be checked against what
//! FreeSWITCH parses back.
//!
//! Facts from `switch_utils.c` (`switch_separate_string`, `separate_string_char_delim`,
//! `separate_string_blank_delim`, `cleanup_separated_string`):
//! - a buffer starting with `^^X` (and at least one more byte) switches the delimiter to `X`;
//! - while splitting, `\` makes the next byte ordinary, and a `'` toggles "inside quotes" (for a
//!   non-blank delimiter only if another `'` follows somewhere later in the buffer);
//! - the last element takes the rest of the buffer when the element limit is reached;
//! - every element is then cleaned: leading spaces dropped, trailing spaces outside quotes dropped,
//!   balanced `'` removed, and `\'`, `\"`, `\\`, `\<delim>`, `\n`, `\r`, `\t`, `\s` unescaped
//!   (any other `\x` is kept as the two bytes `\x`).
//!
//! Also the bracket and comma handling of `switch_find_end_paren`, `switch_event_create_brackets`
//! and `switch_ivr_originate` that the dial-string parser builds on.

const ESCAPE: u8 = b'\\';

/// Splits `buf` on `delim` (at most `max` elements) and cleans every element, as
/// `switch_separate_string` does.
pub(crate) fn separate(buf: &[u8], delim: u8, max: usize) -> Vec<Vec<u8>> {
    let (buf, delim) = match buf {
        [b'^', b'^', d, _, ..] => (&buf[3..], *d),
        _ => (buf, delim),
    };
    if max == 0 {
        return Vec::new();
    }
    let raw = if delim == b' ' {
        split_blank(buf, max)
    } else {
        split_char(buf, delim, max)
    };
    let cleanup_delim = if delim == b' ' { None } else { Some(delim) };
    raw.iter().map(|el| cleanup(el, cleanup_delim)).collect()
}

fn split_char(buf: &[u8], delim: u8, max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_element = false;
    let mut quoted = false;
    let mut i = 0;
    while i < buf.len() && (in_element || out.len() < max) {
        if !in_element {
            start = i;
            in_element = true;
            if out.len() + 1 == max {
                // The last element takes the rest of the buffer.
                out.push(&buf[start..]);
                return out;
            }
            continue;
        }
        let b = buf[i];
        if b == ESCAPE {
            i += 1;
        } else if b == b'\'' && (quoted || buf[i + 1..].contains(&b'\'')) {
            quoted = !quoted;
        } else if b == delim && !quoted {
            out.push(&buf[start..i]);
            in_element = false;
        }
        i += 1;
    }
    if in_element {
        out.push(&buf[start..]);
    }
    out
}

fn split_blank(buf: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < buf.len() && out.len() < max {
        let start = i;
        if out.len() + 1 == max {
            out.push(&buf[start..]);
            return out;
        }
        while i < buf.len() && buf[i] == b' ' {
            i += 1;
        }
        let mut quoted = false;
        let mut end = buf.len();
        while i < buf.len() {
            let b = buf[i];
            if b == ESCAPE {
                i += 1;
            } else if b == b'\'' {
                quoted = !quoted;
            } else if b == b' ' && !quoted {
                end = i;
                i += 1;
                break;
            }
            i += 1;
        }
        out.push(&buf[start..end]);
        while i < buf.len() && buf[i] == b' ' {
            i += 1;
        }
    }
    out
}

/// `cleanup_separated_string`: `delim` is `None` for the blank splitter.
pub(crate) fn cleanup(el: &[u8], delim: Option<u8>) -> Vec<u8> {
    let mut p = 0;
    while p < el.len() && el[p] == b' ' {
        p += 1;
    }
    let mut out = Vec::with_capacity(el.len());
    let mut keep = 0;
    let mut quoted = false;
    while p < el.len() {
        let b = el[p];
        if b == ESCAPE {
            if let Some(&next) = el.get(p + 1) {
                let unescaped = match next {
                    b'\'' | b'"' | ESCAPE => Some(next),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    b's' => Some(b' '),
                    d if Some(d) == delim => Some(d),
                    _ => None,
                };
                if let Some(u) = unescaped {
                    out.push(u);
                    keep = out.len();
                    p += 2;
                    continue;
                }
            }
        }
        if b == b'\'' && (quoted || el[p + 1..].contains(&b'\'')) {
            quoted = !quoted;
            if quoted {
                keep = out.len();
            }
        } else {
            out.push(b);
            if b != b' ' || quoted {
                keep = out.len();
            }
        }
        p += 1;
    }
    out.truncate(keep);
    out
}

/// Splits the argument text of an API command the way FreeSWITCH's `mod_commands` does
/// (`switch_separate_string(args, ' ', …)`): blank-separated, quotes and escapes removed.
pub fn split_api_args(args: &str) -> Vec<String> {
    separate(args.as_bytes(), b' ', 1024)
        .into_iter()
        .map(|el| String::from_utf8_lossy(&el).into_owned())
        .collect()
}

/// Escapes one argument for the blank splitter so that [`split_api_args`] gives it back whole.
/// A value without quotes or backslashes is wrapped in `'…'` (what FreeSWITCH users write);
/// otherwise `\`, `'` and spaces are escaped one by one.
pub(crate) fn escape_blank(value: &str) -> String {
    if !value.contains([' ', '\'', '\\']) {
        return value.to_owned();
    }
    if !value.contains(['\'', '\\']) {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            ' ' => out.push_str("\\s"),
            c => out.push(c),
        }
    }
    out
}

/// Stand-ins `switch_ivr_originate` puts in place of commas inside `[…]`.
pub(crate) const QUOTED_ESC_COMMA: u8 = 1;
pub(crate) const UNQUOTED_ESC_COMMA: u8 = 2;

/// `switch_ivr_originate`, before splitting a group into legs: commas inside `[…]` not preceded by `\` become private bytes so the leg split keeps them.
pub(crate) fn protect_leg_commas(text: &mut [u8]) {
    let mut end: Option<usize> = None;
    let (mut quoted, mut alt) = (false, false);
    for p in 0..text.len() {
        if end.is_none() && text[p] == b'[' {
            end = find_end(&text[p..], b'[', b']').map(|e| p + e);
            alt = text.get(p + 1..p + 3) == Some(b"^^");
            quoted = false;
        }
        if text[p] == b'\'' {
            quoted = !quoted;
        }
        if let Some(e) = end {
            if p < e && text[p] == b',' && p > 0 && text[p - 1] != b'\\' {
                text[p] = if quoted || alt {
                    QUOTED_ESC_COMMA
                } else {
                    UNQUOTED_ESC_COMMA
                };
            }
            if p == e {
                end = None;
            }
        }
    }
}

/// `switch_event_create_brackets` on the content of one block: `^^X` switches the
/// delimiter, each element is split on its first `=`, elements without one are dropped, and a
/// repeated name replaces the earlier value (`EF_UNIQ_HEADERS`).
pub(crate) fn unique_vars(content: &[u8], delim: u8, vars: &mut Vec<(String, String)>) {
    let (content, delim) = match content {
        [b'^', b'^', d, ..] => (&content[3..], *d),
        _ => (content, delim),
    };
    for var in separate(content, delim, 1024) {
        if let [name, value] = separate(&var, b'=', 2).as_slice() {
            let name = String::from_utf8_lossy(name).into_owned();
            let value = String::from_utf8_lossy(value).into_owned();
            if let Some(slot) = vars.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = value;
            } else {
                vars.push((name, value));
            }
        }
    }
}

/// `switch_find_end_paren`: the index of the matching close byte (quotes are not considered).
pub(crate) fn find_end(text: &[u8], open: u8, close: u8) -> Option<usize> {
    let start = text.iter().position(|&b| b != b' ')?;
    if text[start] != open {
        return None;
    }
    let mut depth = 1;
    for (i, &b) in text.iter().enumerate().skip(start + 1) {
        if b == open && open != close {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

pub(crate) fn trim_spaces(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|&b| b != b' ').unwrap_or(text.len());
    &text[start..]
}

/// `switch_separate_string_string`: split on every occurrence of `sep`, no quoting; the last of
/// `max` elements takes the rest.
pub(crate) fn split_str<'a>(hay: &'a [u8], sep: &[u8], max: usize) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= hay.len() && out.len() + 1 < max {
        if &hay[i..i + sep.len()] == sep {
            out.push(&hay[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&hay[start..]);
    out
}

/// `switch_channel_expand_variables` as applied to an application argument
/// (`switch_core_session_execute_application`), for its escape handling: it runs only when the
/// text holds `${` or one of `\\`, `\n`, `\s`, `\t`, `\'`; then `\\` becomes `\` and `\'` is
/// dropped. Variable references are left as written (the simulator has no variable table).
pub fn expand_app_arg(arg: &str) -> String {
    if !needs_expansion(arg) {
        return arg.to_owned();
    }
    let b = arg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut p = 0;
    while p < b.len() {
        match (b[p], b.get(p + 1)) {
            (ESCAPE, Some(b'\'')) => p += 2,
            (ESCAPE, Some(&next @ (ESCAPE | b'$'))) => {
                out.push(next);
                p += 2;
            }
            (c, _) => {
                out.push(c);
                p += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The inverse of [`expand_app_arg`] for text without `$`: doubles every `\` when expansion
/// would run, so that it gives `text` back.
pub(crate) fn escape_for_expansion(text: &str) -> String {
    if needs_expansion(text) {
        text.replace('\\', "\\\\")
    } else {
        text.to_owned()
    }
}

/// `switch_string_var_check_const || switch_string_has_escaped_data`.
fn needs_expansion(text: &str) -> bool {
    let b = text.as_bytes();
    let mut dollar = false;
    for &c in b {
        if c == b'$' {
            dollar = true;
        } else if dollar {
            if c == b'{' {
                return true;
            } else if c != ESCAPE {
                dollar = false;
            }
        }
    }
    b.windows(2)
        .any(|w| w[0] == ESCAPE && matches!(w[1], ESCAPE | b'n' | b's' | b't' | b'\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: Vec<Vec<u8>>) -> Vec<String> {
        v.into_iter()
            .map(|e| String::from_utf8(e).unwrap_or_default())
            .collect()
    }

    #[test]
    fn comma_split_honours_escapes_and_quotes() {
        let got = strs(separate(b"a=1,b=x\\,y,c='p,q' ,d", b',', 16));
        assert_eq!(got, ["a=1", "b=x,y", "c=p,q", "d"]);
    }

    #[test]
    fn last_element_takes_the_rest() {
        let got = strs(separate(b"k=v=w", b'=', 2));
        assert_eq!(got, ["k", "v=w"]);
    }

    #[test]
    fn caret_switches_the_delimiter() {
        let got = strs(separate(b"^^;a=1,2;b=3", b',', 16));
        assert_eq!(got, ["a=1,2", "b=3"]);
    }

    #[test]
    fn a_lone_quote_is_ordinary() {
        let got = strs(separate(b"O'Brien,x", b',', 16));
        assert_eq!(got, ["O'Brien", "x"]);
    }

    #[test]
    fn unknown_escapes_keep_the_backslash() {
        assert_eq!(cleanup(b"a\\,b", Some(b'|')), b"a\\,b");
        assert_eq!(cleanup(b"a\\|b\\s", Some(b'|')), b"a|b ");
    }

    #[test]
    fn api_args_split_on_blanks_outside_quotes() {
        let got = split_api_args("{a='Maria Lopez'}loopback/1 &park  x\\sy");
        assert_eq!(got, ["{a=Maria Lopez}loopback/1", "&park", "x y"]);
    }

    #[test]
    fn expansion_escapes_round_trip() {
        for text in ["plain\\,x", "a\\\\\\'b", "\\s", "x\\"] {
            assert_eq!(
                expand_app_arg(&escape_for_expansion(text)),
                text,
                "{text:?}"
            );
        }
        assert_eq!(expand_app_arg("a\\'b\\\\c\\,d"), "ab\\c\\,d");
        assert_eq!(expand_app_arg("a\\,b"), "a\\,b");
    }

    #[test]
    fn blank_escape_round_trips() {
        for v in ["plain", "Maria Lopez", "O'Brien x", "a\\b c", " lead", "'"] {
            let line = format!("cmd {} tail", escape_blank(v));
            assert_eq!(split_api_args(&line), ["cmd", v, "tail"], "value {v:?}");
        }
    }
}
