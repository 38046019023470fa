//! Whisper templates: text with `{token}` or `{token|default words}` placeholders.
//!
//! A template is read sentence by sentence (a sentence ends at `.`, `!` or `?`). When a token has
//! no value on a call and no default, the whole sentence that holds it is left out, so the buyer
//! never hears "Caller age ." — they hear the rest of the message.

/// Why a template could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` at byte {at}")]
    Unclosed { at: usize },
    #[error("`}}` without `{{` at byte {at}")]
    Unopened { at: usize },
    #[error("empty token name at byte {at}")]
    EmptyName { at: usize },
    #[error("token name {name:?} may hold only letters, digits, `_`, `-` and `.`")]
    BadName { name: String },
}

/// One piece of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Token {
        name: String,
        default: Option<String>,
    },
}

/// A parsed template: sentences of parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub sentences: Vec<Vec<Part>>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut sentences = Vec::new();
        let mut sentence = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices();
        let flush = |literal: &mut String, sentence: &mut Vec<Part>| {
            if !literal.trim().is_empty() {
                sentence.push(Part::Text(std::mem::take(literal)));
            }
            literal.clear();
        };
        while let Some((at, c)) = chars.next() {
            match c {
                '{' => {
                    flush(&mut literal, &mut sentence);
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => return Err(TemplateError::Unclosed { at }),
                            Some((_, c)) => inner.push(c),
                        }
                    }
                    let (name, default) = match inner.split_once('|') {
                        Some((n, d)) => (n.trim(), Some(d.trim().to_owned())),
                        None => (inner.trim(), None),
                    };
                    if name.is_empty() {
                        return Err(TemplateError::EmptyName { at });
                    }
                    if !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                    {
                        return Err(TemplateError::BadName { name: name.into() });
                    }
                    sentence.push(Part::Token {
                        name: name.to_owned(),
                        default: default.filter(|d| !d.is_empty()),
                    });
                }
                '}' => return Err(TemplateError::Unopened { at }),
                // A point between digits ("12.50") is part of a number, not a sentence end.
                '.' if literal.ends_with(|c: char| c.is_ascii_digit())
                    && text[at + 1..].starts_with(|c: char| c.is_ascii_digit()) =>
                {
                    literal.push(c)
                }
                '.' | '!' | '?' => {
                    flush(&mut literal, &mut sentence);
                    if !sentence.is_empty() {
                        sentences.push(std::mem::take(&mut sentence));
                    }
                }
                c => literal.push(c),
            }
        }
        flush(&mut literal, &mut sentence);
        if !sentence.is_empty() {
            sentences.push(sentence);
        }
        Ok(Template { sentences })
    }

    /// Every token name the template uses (for `parkway check`).
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.sentences.iter().flatten().filter_map(|p| match p {
            Part::Token { name, .. } => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The literal text and defaults of the template (for `parkway check`'s missing-word list).
    pub fn fixed_texts(&self) -> impl Iterator<Item = &str> {
        self.sentences.iter().flatten().filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            Part::Token { default, .. } => default.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_tokens_and_defaults() {
        let t = Template::parse("{campaign} call from {state}. Caller age {age|unknown}!").unwrap();
        assert_eq!(t.sentences.len(), 2);
        assert_eq!(
            t.sentences[0],
            [
                Part::Token {
                    name: "campaign".into(),
                    default: None
                },
                Part::Text(" call from ".into()),
                Part::Token {
                    name: "state".into(),
                    default: None
                },
            ]
        );
        assert_eq!(
            t.sentences[1][1],
            Part::Token {
                name: "age".into(),
                default: Some("unknown".into())
            }
        );
        assert_eq!(t.tokens().collect::<Vec<_>>(), ["campaign", "state", "age"]);
    }

    #[test]
    fn a_decimal_point_does_not_end_a_sentence() {
        let t = Template::parse("Pays 12.50 dollars. Next.").unwrap();
        assert_eq!(t.sentences.len(), 2);
        assert_eq!(t.sentences[0], [Part::Text("Pays 12.50 dollars".into())]);
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            Template::parse("a {b"),
            Err(TemplateError::Unclosed { at: 2 })
        );
        assert_eq!(
            Template::parse("a } b"),
            Err(TemplateError::Unopened { at: 2 })
        );
        assert_eq!(
            Template::parse("{ }"),
            Err(TemplateError::EmptyName { at: 0 })
        );
        assert!(matches!(
            Template::parse("{a/b}"),
            Err(TemplateError::BadName { .. })
        ));
    }
}
