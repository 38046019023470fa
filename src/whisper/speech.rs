//! From a template and a call's tokens to the phrases to be spoken.
//!
//! Token values are read by what they hold: a number token ("age") as a number ("sixty seven"),
//! a phone number or zip code digit by digit, a two-letter US state or Canadian province code as
//! its name, anything else as words. Hostile values are bounded: a value is cut to
//! [`MAX_VALUE_CHARS`] characters and a whisper to [`MAX_PHRASES`] phrases.

use super::numbers::{digit_words, number_words};
use super::template::{Part, Template};

/// Longest token value read (characters); the rest is ignored.
pub const MAX_VALUE_CHARS: usize = 64;
/// Most phrases one whisper speaks.
pub const MAX_PHRASES: usize = 120;
/// Longest phrase in the library, in words (greedy matching looks this far ahead).
const MAX_PHRASE_WORDS: usize = 4;

/// The phrases of a whisper, sentence by sentence. A phrase is a key of the phrase library (or a
/// word with no clip, which the renderer sends to text-to-speech or leaves out).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Speech {
    pub sentences: Vec<Vec<String>>,
}

impl Speech {
    pub fn phrases(&self) -> impl Iterator<Item = &str> {
        self.sentences.iter().flatten().map(String::as_str)
    }
}

/// How a token's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Digits,
    Region,
    Words,
}

fn reading(token: &str) -> Reading {
    let name = token.to_ascii_lowercase();
    let has = |parts: &[&str]| parts.iter().any(|p| name.contains(p));
    if has(&["phone", "number", "ani", "zip", "postal", "digits", "did"]) {
        Reading::Digits
    } else if has(&["state", "province", "region"]) {
        Reading::Region
    } else {
        Reading::Words
    }
}

/// Splits text into lowercase words; a run of digits is read as a number.
fn words_of(text: &str, out: &mut Vec<String>) {
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        if word.bytes().all(|b| b.is_ascii_digit()) {
            match word.parse::<u64>() {
                Ok(n) if word.len() <= 9 && !(word.len() > 1 && word.starts_with('0')) => {
                    out.extend(number_words(n).into_iter().map(str::to_owned))
                }
                _ => out.extend(digit_words(word).into_iter().map(str::to_owned)),
            }
        } else {
            out.push(word.to_lowercase());
        }
    }
}

fn value_words(token: &str, value: &str, out: &mut Vec<String>) {
    let value: String = value.chars().take(MAX_VALUE_CHARS).collect();
    match reading(token) {
        Reading::Digits if value.bytes().any(|b| b.is_ascii_digit()) => {
            out.extend(digit_words(&value).into_iter().map(str::to_owned))
        }
        Reading::Region => match region_name(value.trim()) {
            Some(name) => words_of(name, out),
            None => words_of(&value, out),
        },
        _ => words_of(&value, out),
    }
}

/// Joins consecutive words into the longest phrases the library knows ("new", "york" → "new
/// york"); words it does not know stay single.
fn phrases_of(words: &[String], known: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let longest = (2..=MAX_PHRASE_WORDS.min(words.len() - i))
            .rev()
            .map(|n| (n, words[i..i + n].join(" ")))
            .find(|(_, phrase)| known(phrase));
        match longest {
            Some((n, phrase)) => {
                out.push(phrase);
                i += n;
            }
            None => {
                out.push(words[i].clone());
                i += 1;
            }
        }
    }
    out
}

/// Speaks a template with a call's tokens. `value` looks a token up; `known` says whether the
/// phrase library has a clip for a phrase.
pub fn speak(
    template: &Template,
    value: &dyn Fn(&str) -> Option<String>,
    known: &dyn Fn(&str) -> bool,
) -> Speech {
    let mut speech = Speech::default();
    let mut budget = MAX_PHRASES;
    'sentences: for sentence in &template.sentences {
        let mut words = Vec::new();
        for part in sentence {
            match part {
                Part::Text(text) => words_of(text, &mut words),
                Part::Token { name, default } => {
                    match value(name).filter(|v| !v.trim().is_empty()) {
                        Some(v) => value_words(name, &v, &mut words),
                        None => match default {
                            Some(d) => words_of(d, &mut words),
                            None => continue 'sentences,
                        },
                    }
                }
            }
        }
        let mut phrases = phrases_of(&words, known);
        phrases.truncate(budget);
        budget -= phrases.len();
        if !phrases.is_empty() {
            speech.sentences.push(phrases);
        }
        if budget == 0 {
            break;
        }
    }
    speech
}

/// The name of a US state / territory or Canadian province from its postal code.
pub fn region_name(code: &str) -> Option<&'static str> {
    const REGIONS: &[(&str, &str)] = &[
        ("AL", "alabama"),
        ("AK", "alaska"),
        ("AZ", "arizona"),
        ("AR", "arkansas"),
        ("CA", "california"),
        ("CO", "colorado"),
        ("CT", "connecticut"),
        ("DE", "delaware"),
        ("FL", "florida"),
        ("GA", "georgia"),
        ("HI", "hawaii"),
        ("ID", "idaho"),
        ("IL", "illinois"),
        ("IN", "indiana"),
        ("IA", "iowa"),
        ("KS", "kansas"),
        ("KY", "kentucky"),
        ("LA", "louisiana"),
        ("ME", "maine"),
        ("MD", "maryland"),
        ("MA", "massachusetts"),
        ("MI", "michigan"),
        ("MN", "minnesota"),
        ("MS", "mississippi"),
        ("MO", "missouri"),
        ("MT", "montana"),
        ("NE", "nebraska"),
        ("NV", "nevada"),
        ("NH", "new hampshire"),
        ("NJ", "new jersey"),
        ("NM", "new mexico"),
        ("NY", "new york"),
        ("NC", "north carolina"),
        ("ND", "north dakota"),
        ("OH", "ohio"),
        ("OK", "oklahoma"),
        ("OR", "oregon"),
        ("PA", "pennsylvania"),
        ("RI", "rhode island"),
        ("SC", "south carolina"),
        ("SD", "south dakota"),
        ("TN", "tennessee"),
        ("TX", "texas"),
        ("UT", "utah"),
        ("VT", "vermont"),
        ("VA", "virginia"),
        ("WA", "washington"),
        ("WV", "west virginia"),
        ("WI", "wisconsin"),
        ("WY", "wyoming"),
        ("DC", "district of columbia"),
        ("PR", "puerto rico"),
        ("GU", "guam"),
        ("VI", "us virgin islands"),
        ("AB", "alberta"),
        ("BC", "british columbia"),
        ("MB", "manitoba"),
        ("NB", "new brunswick"),
        ("NL", "newfoundland and labrador"),
        ("NS", "nova scotia"),
        ("ON", "ontario"),
        ("PE", "prince edward island"),
        ("QC", "quebec"),
        ("SK", "saskatchewan"),
        ("NT", "northwest territories"),
        ("NU", "nunavut"),
        ("YT", "yukon"),
    ];
    REGIONS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn known(p: &str) -> bool {
        ["new york", "final expense", "call from", "north carolina"].contains(&p)
    }

    fn say(template: &str, tokens: &[(&str, &str)]) -> Vec<Vec<String>> {
        let t = Template::parse(template).unwrap();
        let map: HashMap<&str, &str> = tokens.iter().copied().collect();
        speak(&t, &|k| map.get(k).map(|v| v.to_string()), &known).sentences
    }

    #[test]
    fn reads_tokens_by_kind() {
        let s = say(
            "{campaign} call from {state}. Caller age {age}. Callback {caller_id_number}.",
            &[
                ("campaign", "Final Expense"),
                ("state", "NY"),
                ("age", "67"),
                ("caller_id_number", "+1305"),
            ],
        );
        assert_eq!(s[0], ["final expense", "call from", "new york"]);
        assert_eq!(s[1], ["caller", "age", "sixty", "seven"]);
        assert_eq!(s[2], ["callback", "one", "three", "zero", "five"]);
    }

    #[test]
    fn missing_token_drops_its_sentence_or_uses_the_default() {
        let s = say("Solar call. Caller age {age}. Zip {zip|unknown}.", &[]);
        assert_eq!(s, [vec!["solar", "call"], vec!["zip", "unknown"]]);
        let s = say("Caller age {age}.", &[("age", "   ")]);
        assert!(s.is_empty());
    }

    #[test]
    fn hostile_values_are_bounded_and_inert() {
        let long = "../../etc/passwd ".repeat(1000);
        let s = say("{campaign}.", &[("campaign", &long)]);
        let n: usize = s.iter().map(Vec::len).sum();
        assert!(n <= MAX_VALUE_CHARS);
        assert!(
            s.iter()
                .flatten()
                .all(|w| !w.contains('/') && !w.contains('.'))
        );
        let many = "word ".repeat(10_000);
        let t = Template::parse(&"{a}. ".repeat(100)).unwrap();
        let speech = speak(&t, &|_| Some(many.clone()), &known);
        assert_eq!(speech.phrases().count(), MAX_PHRASES);
    }

    #[test]
    fn literal_numbers_and_leading_zero_codes() {
        let s = say(
            "Press 1. Zip {zip}. Code {code}.",
            &[("zip", "07030"), ("code", "0420")],
        );
        assert_eq!(s[0], ["press", "one"]);
        assert_eq!(s[1], ["zip", "zero", "seven", "zero", "three", "zero"]);
        assert_eq!(s[2], ["code", "zero", "four", "two", "zero"]);
    }
}
