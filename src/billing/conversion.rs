//! When a call converts: a buyer's [`ConversionRule`] applied to what happened on the call.

use serde::Serialize;

use crate::config::model::ConversionRule;

/// What billing knows about a finished (or finishing) call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TalkFacts {
    /// Seconds from the bridge to the hangup; the whisper is not talk time.
    pub talk_secs: u64,
    /// DTMF digits the buyer's leg sent, in order.
    pub digits: Vec<char>,
}

/// Which condition converted the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvertedBy {
    TalkTime,
    Keypress,
    /// Both the talk time and the keypress held (for `any` and `all` rules).
    Both,
}

/// The verdict: converted or not, and by what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Conversion {
    pub converted: bool,
    /// `None` exactly when not converted.
    pub by: Option<ConvertedBy>,
}

impl Conversion {
    const NOT: Conversion = Conversion {
        converted: false,
        by: None,
    };

    fn by(by: ConvertedBy) -> Conversion {
        Conversion {
            converted: true,
            by: Some(by),
        }
    }
}

/// Applies `rule` to `facts`:
/// `talk_time`: `talk_secs >= seconds`; `keypress`: `digit` among the buyer's digits; `any`: either;
/// `all`: both.
pub fn evaluate(rule: &ConversionRule, facts: &TalkFacts) -> Conversion {
    let talked = |seconds: u32| facts.talk_secs >= u64::from(seconds);
    let pressed = |digit: char| facts.digits.iter().any(|d| d.eq_ignore_ascii_case(&digit));
    match *rule {
        ConversionRule::TalkTime { seconds } if talked(seconds) => {
            Conversion::by(ConvertedBy::TalkTime)
        }
        ConversionRule::Keypress { digit } if pressed(digit) => {
            Conversion::by(ConvertedBy::Keypress)
        }
        ConversionRule::Any { seconds, digit } => match (talked(seconds), pressed(digit)) {
            (true, true) => Conversion::by(ConvertedBy::Both),
            (true, false) => Conversion::by(ConvertedBy::TalkTime),
            (false, true) => Conversion::by(ConvertedBy::Keypress),
            (false, false) => Conversion::NOT,
        },
        ConversionRule::All { seconds, digit } if talked(seconds) && pressed(digit) => {
            Conversion::by(ConvertedBy::Both)
        }
        _ => Conversion::NOT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(talk_secs: u64, digits: &str) -> TalkFacts {
        TalkFacts {
            talk_secs,
            digits: digits.chars().collect(),
        }
    }

    fn by(rule: ConversionRule, f: &TalkFacts) -> Option<ConvertedBy> {
        let c = evaluate(&rule, f);
        assert_eq!(c.converted, c.by.is_some(), "{rule:?} {f:?}");
        c.by
    }

    #[test]
    fn talk_time_is_inclusive() {
        let rule = ConversionRule::TalkTime { seconds: 90 };
        assert_eq!(by(rule, &facts(89, "1")), None);
        assert_eq!(by(rule, &facts(90, "")), Some(ConvertedBy::TalkTime));
        assert_eq!(by(rule, &facts(u64::MAX, "")), Some(ConvertedBy::TalkTime));
        let zero = ConversionRule::TalkTime { seconds: 0 };
        assert_eq!(by(zero, &facts(0, "")), Some(ConvertedBy::TalkTime));
    }

    #[test]
    fn keypress_anywhere_in_the_digits() {
        let rule = ConversionRule::Keypress { digit: '9' };
        assert_eq!(by(rule, &facts(1000, "123")), None);
        assert_eq!(by(rule, &facts(0, "19#")), Some(ConvertedBy::Keypress));
        assert_eq!(by(rule, &facts(0, "")), None);
        let star = ConversionRule::Keypress { digit: '*' };
        assert_eq!(by(star, &facts(0, "*")), Some(ConvertedBy::Keypress));
        let letter = ConversionRule::Keypress { digit: 'A' };
        assert_eq!(by(letter, &facts(0, "a")), Some(ConvertedBy::Keypress));
    }

    #[test]
    fn any_says_which() {
        let rule = ConversionRule::Any {
            seconds: 60,
            digit: '1',
        };
        assert_eq!(by(rule, &facts(59, "2")), None);
        assert_eq!(by(rule, &facts(60, "2")), Some(ConvertedBy::TalkTime));
        assert_eq!(by(rule, &facts(5, "21")), Some(ConvertedBy::Keypress));
        assert_eq!(by(rule, &facts(61, "1")), Some(ConvertedBy::Both));
    }

    #[test]
    fn all_needs_both() {
        let rule = ConversionRule::All {
            seconds: 60,
            digit: '1',
        };
        assert_eq!(by(rule, &facts(60, "2")), None);
        assert_eq!(by(rule, &facts(59, "1")), None);
        assert_eq!(by(rule, &facts(0, "")), None);
        assert_eq!(by(rule, &facts(60, "1")), Some(ConvertedBy::Both));
    }

    #[test]
    fn serializes_snake_case() {
        let c = evaluate(&ConversionRule::TalkTime { seconds: 1 }, &facts(2, ""));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"converted":true,"by":"talk_time"}"#
        );
    }
}
