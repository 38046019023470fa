//! `[whisper]` and the whisper templates of buyers and routers.
//!
//! A template may name a built-in token (`caller_id_number`, `caller_id_name`,
//! `destination_number`, `area_code`, `state`, `country`) or a channel variable the config knows
//! the dialplan sets: one listed in `[whisper] tokens`, one a router matches on, or one a buyer
//! filters on. Any other name is a typo caught here, not a silence at call time. A channel
//! variable must also have a type (`[tokens.<name>]`) to be spoken, and free text
//! `speak = true`: the caller's side may set such values (see `routing::token_types`).

use std::collections::BTreeSet;

use super::build::Builder;
use super::error::ConfigError;
use super::model::{Config, WhisperSettings};
use super::raw::{RawConfig, S};
use crate::routing::tokens::TokenKey;
use crate::whisper::{
    Beep, DEFAULT_CACHE_MIN_AGE, PhraseLibrary, Settings, Shape, Template, TtsCommand,
    WhisperError, missing_words,
};

impl WhisperSettings {
    /// The rendering settings `[whisper]` names.
    pub fn render_settings(&self) -> Result<Settings, WhisperError> {
        Ok(Settings {
            sounds_dir: self.sounds.clone(),
            rate: self.rate,
            cache_dir: self.cache_dir.clone(),
            cache_max_bytes: self.cache_max_bytes,
            cache_min_age: DEFAULT_CACHE_MIN_AGE,
            shape: Shape {
                beep: self.beep.map(|(hz, ms)| Beep {
                    freq_hz: f64::from(hz),
                    ms,
                    gap_ms: 250,
                }),
                ..Shape::default()
            },
            tts: self
                .tts_command
                .as_deref()
                .map(TtsCommand::parse)
                .transpose()?,
        })
    }
}

impl Config {
    /// What `parkway check` says about the whispers: for each template (named by its owner,
    /// `buyer <id>` or `router <id>`), the words with no clip. Empty when a text-to-speech
    /// command is configured (it speaks them). Fails when the phrase library cannot be loaded.
    pub fn unspoken_whisper_words(&self) -> Result<Vec<(String, Vec<String>)>, WhisperError> {
        let library = PhraseLibrary::load(&self.whisper.sounds, self.whisper.rate)?;
        if self.whisper.tts_command.is_some() {
            return Ok(Vec::new());
        }
        let buyers = self
            .buyers
            .iter()
            .filter_map(|b| Some((format!("buyer {}", b.id), b.whisper.as_deref()?)));
        let routers = self.whisper.router_templates.iter().filter_map(|(i, t)| {
            Some((format!("router {}", self.routers.get(*i)?.id), t.as_str()))
        });
        let mut out = Vec::new();
        for (owner, text) in buyers.chain(routers) {
            let missing = missing_words(&library, &Template::parse(text)?);
            if !missing.is_empty() {
                out.push((owner, missing));
            }
        }
        Ok(out)
    }
}

impl Builder<'_> {
    pub(super) fn whisper(&mut self, raw: &RawConfig) -> WhisperSettings {
        let mut settings = WhisperSettings::default();
        let mut declared: BTreeSet<String> = BTreeSet::new();
        if let Some(w) = &raw.whisper {
            if let Some(dir) = &w.sounds {
                settings.sounds = self.relative(dir);
            }
            if let Some(rate) = &w.rate {
                match *rate.get_ref() {
                    8000 => settings.rate = 8000,
                    16000 => settings.rate = 16000,
                    value => self.problem(
                        rate.span(),
                        ConfigError::OutOfRange {
                            what: "whisper rate",
                            range: "8000 or 16000",
                            value,
                        },
                    ),
                }
            }
            if let Some(dir) = &w.cache_dir {
                settings.cache_dir = self.relative(dir);
            }
            let mb = w.cache_max_mb.as_ref().and_then(|v| {
                self.int(v, "cache_max_mb", "1–1048576", |x| {
                    (1..=1 << 20).contains(&x)
                })
            });
            if let Some(mb) = mb {
                settings.cache_max_bytes = (mb as u64) << 20;
            }
            let hz = w.beep_hz.as_ref().and_then(|v| {
                self.int(v, "beep_hz", "0 (no beep) or 100–4000", |x| {
                    x == 0 || (100..=4000).contains(&x)
                })
            });
            let ms = w
                .beep_ms
                .as_ref()
                .and_then(|v| self.int(v, "beep_ms", "0–2000", |x| (0..=2000).contains(&x)));
            let (hz, ms) = (hz.map_or(1000, |v| v as u32), ms.map_or(200, |v| v as u32));
            settings.beep = (hz > 0 && ms > 0).then_some((hz, ms));
            if let Some(cmd) = &w.tts_command {
                match TtsCommand::parse(cmd.get_ref()) {
                    Ok(_) => settings.tts_command = Some(cmd.get_ref().clone()),
                    Err(e) => self.problem(cmd.span(), ConfigError::Whisper(e.to_string())),
                }
            }
            declared.extend(w.tokens.iter().map(|t| t.get_ref().clone()));
        }
        declared.extend(raw.tokens.keys().cloned());
        for router in &raw.router {
            if let Some(name) = &router.matcher.get_ref().variable {
                declared.insert(name.clone());
            }
        }
        for buyer in &raw.buyer {
            declared.extend(
                buyer
                    .filters
                    .iter()
                    .map(|f| f.get_ref().token.get_ref().clone()),
            );
        }
        for buyer in &raw.buyer {
            if let Some(t) = &buyer.whisper {
                self.template(t, &declared);
            }
        }
        for (i, router) in raw.router.iter().enumerate() {
            if let Some(t) = &router.whisper {
                if self.template(t, &declared) {
                    settings.router_templates.insert(i, t.get_ref().clone());
                }
            }
        }
        settings
    }

    /// Checks one template; true when it is usable.
    fn template(&mut self, text: &S<String>, declared: &BTreeSet<String>) -> bool {
        let template = match Template::parse(text.get_ref()) {
            Ok(t) => t,
            Err(e) => {
                self.problem(text.span(), ConfigError::Whisper(e.to_string()));
                return false;
            }
        };
        let mut ok = true;
        for token in template.tokens() {
            if !is_known(token, declared) {
                self.problem(
                    text.span(),
                    ConfigError::UnknownToken {
                        token: token.to_owned(),
                    },
                );
                ok = false;
            } else if !self.token_types.speakable_name(token) {
                // Known, but it would never be spoken (untyped, or free text not declared
                // speakable): say so here rather than leave the sentence out on every call.
                self.problem(
                    text.span(),
                    ConfigError::Unspeakable {
                        token: token.to_owned(),
                    },
                );
                ok = false;
            }
        }
        ok
    }
}

/// A built-in token other than the time of day (which depends on the buyer's zone and is for
/// filters), or a declared name.
fn is_known(token: &str, declared: &BTreeSet<String>) -> bool {
    match TokenKey::of(token) {
        TokenKey::LocalHour | TokenKey::LocalTime | TokenKey::LocalWeekday | TokenKey::Variable => {
            declared.contains(token)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{ConfigErrors, parse};

    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        match parse(text, Path::new("w.toml"), &|_| Ok(String::new())) {
            Ok(_) => panic!("config was accepted"),
            Err(ConfigErrors(ps)) => ps
                .into_iter()
                .map(|p| (p.line, p.column, p.error.to_string()))
                .collect(),
        }
    }

    const BUYERS: &str = r#"
[[buyer]]
id = "b1"
destination = { sip = "sip:a@b" }
filters = [{ token = "zip", op = "exists" }]
whisper = "{campaign} call from {state}. Zip {zip}."

[[buyer]]
id = "b2"
destination = { sip = "sip:c@d" }
"#;

    #[test]
    fn templates_may_name_built_in_declared_matched_and_filtered_tokens() {
        let text = format!(
            "{BUYERS}\n[[router]]\nid = \"r\"\nmatch = {{ variable = \"campaign\", value = \"x\" }}\n\
             buyers = [\"b1\", \"b2\"]\nalgorithm = \"tier\"\nwhisper = \"Age {{age}}.\"\n\n\
             [whisper]\nrate = 16000\nbeep_hz = 0\ntokens = [\"age\"]\n\n\
             [tokens.campaign]\ntype = \"one_of\"\nvalues = [\"x\"]\n\
             [tokens.zip]\ntype = \"digits\"\nlength = 5\n[tokens.age]\ntype = \"number\"\n"
        );
        let config = parse(&text, Path::new("w.toml"), &|_| Ok(String::new())).expect("valid");
        assert_eq!(config.whisper.rate, 16000);
        assert_eq!(config.whisper.beep, None);
        assert_eq!(
            config.whisper_template(0, 0),
            Some("{campaign} call from {state}. Zip {zip}.")
        );
        assert_eq!(config.whisper_template(0, 1), Some("Age {age}."));
    }

    #[test]
    fn unknown_tokens_bad_templates_and_settings_point_at_their_line() {
        let text = format!(
            "{BUYERS}\n[[router]]\nid = \"r\"\nmatch = {{ destination = \"1\" }}\nbuyers = [\"b1\"]\n\
             algorithm = \"tier\"\nwhisper = \"Age {{agee}} {{\"\n\n\
             [whisper]\nrate = 11025\ntts_command = \"espeak-ng {{text}}\"\n\
             [tokens.zip]\ntype = \"digits\"\n"
        );
        let got = problems(&text);
        let lines: Vec<usize> = got.iter().map(|p| p.0).collect();
        assert_eq!(lines, [20, 21, 6, 17], "{got:?}");
        assert!(got[0].2.contains("8000 or 16000"), "{got:?}");
        assert!(got[1].2.contains("lacks {out}"), "{got:?}");
        assert!(got[2].2.contains("token `campaign`"), "{got:?}");
        assert!(got[3].2.contains("unclosed"), "{got:?}");
    }

    /// A channel variable a template names must have a type to be spoken, and free text must
    /// be declared speakable: the caller's side can set such values.
    #[test]
    fn templates_speak_only_typed_tokens_and_declared_free_text() {
        let router = "[[router]]\nid = \"r\"\nmatch = { destination = \"1\" }\nbuyers = [\"b\"]\n\
                      algorithm = \"tier\"\n";
        let buyer = |whisper: &str| {
            format!(
                "[[buyer]]\nid = \"b\"\ndestination = {{ sip = \"sip:a@b\" }}\n\
                 whisper = \"{whisper}\"\n{router}\n[whisper]\ntokens = [\"age\", \"note\"]\n"
            )
        };
        // Declared but untyped: never spoken, so refused.
        let got = problems(&buyer("Caller age {age}."));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 4, "{got:?}");
        assert!(got[0].2.contains("`age`, which is never spoken"), "{got:?}");
        // Free text without speak = true; caller_id_name is free text too.
        let text = format!(
            "{}[tokens.note]\ntype = \"text\"\n",
            buyer("Note {note}. From {caller_id_name}.")
        );
        let got = problems(&text);
        let tokens: Vec<&str> = got.iter().map(|p| p.2.as_str()).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            tokens[0].contains("`note`") && tokens[1].contains("`caller_id_name`"),
            "{got:?}"
        );
        // Typed, and free text declared speakable: accepted.
        let text = format!(
            "{}[tokens.note]\ntype = \"text\"\nspeak = true\nmax_len = 40\n\
             [tokens.age]\ntype = \"number\"\nmin = 18\n",
            buyer("Age {age}. Note {note}. From {state}.")
        );
        let config = parse(&text, Path::new("w.toml"), &|_| Ok(String::new())).expect("valid");
        assert!(config.tokens.speakable_name("note"));
        // Types that make no sense are refused where they are written.
        for (table, wanted) in [
            ("[tokens.age]\ntype = \"integer\"\n", "not one of number"),
            (
                "[tokens.age]\ntype = \"number\"\nvalues = [\"1\"]\n",
                "`values` does not go",
            ),
            ("[tokens.age]\ntype = \"one_of\"\n", "one_of needs `values`"),
            ("[tokens.state]\ntype = \"text\"\n", "built-in token"),
        ] {
            let got = problems(&format!("{}{table}", buyer("Hello.")));
            assert!(got.iter().any(|p| p.2.contains(wanted)), "{table}: {got:?}");
        }
    }
}
