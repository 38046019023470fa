//! Puts a whisper together: an optional beep, then the clips of each phrase with short silences
//! between words and longer ones between sentences.

use std::sync::Arc;

use super::audio::{silence, tone};
use super::library::PhraseLibrary;
use super::speech::Speech;

/// How a whisper sounds besides its words.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Silence before anything is heard (lets the buyer's media path settle after answer).
    pub lead_ms: u32,
    /// A tone before the message, to tell the buyer a whisper follows.
    pub beep: Option<Beep>,
    /// Silence between two phrases of a sentence.
    pub word_gap_ms: u32,
    /// Silence between two sentences.
    pub sentence_gap_ms: u32,
    /// Silence after the last phrase.
    pub tail_ms: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Beep {
    pub freq_hz: f64,
    pub ms: u32,
    /// Silence between the beep and the first phrase.
    pub gap_ms: u32,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            lead_ms: 100,
            beep: Some(Beep {
                freq_hz: 1000.0,
                ms: 200,
                gap_ms: 250,
            }),
            word_gap_ms: 40,
            sentence_gap_ms: 300,
            tail_ms: 200,
        }
    }
}

impl Shape {
    /// Stable text for cache keys.
    pub fn key(&self) -> String {
        let beep = self
            .beep
            .as_ref()
            .map(|b| format!("{}/{}/{}", b.freq_hz, b.ms, b.gap_ms))
            .unwrap_or_default();
        format!(
            "{}/{}/{}/{}/{}",
            self.lead_ms, beep, self.word_gap_ms, self.sentence_gap_ms, self.tail_ms
        )
    }
}

/// The samples of a whisper, and the phrases that had no clip (left out).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub samples: Vec<i16>,
    pub missing: Vec<String>,
}

/// Renders `speech` with the clips of `library` (and `extra`, clips made by text-to-speech).
pub fn render(
    speech: &Speech,
    library: &PhraseLibrary,
    extra: &dyn Fn(&str) -> Option<Arc<[i16]>>,
    shape: &Shape,
) -> Rendered {
    let rate = library.rate();
    let mut samples = Vec::with_capacity(rate as usize * 6);
    let mut missing = Vec::new();
    let pad = |samples: &mut Vec<i16>, ms| samples.resize(samples.len() + silence(ms, rate), 0);
    pad(&mut samples, shape.lead_ms);
    if let Some(beep) = &shape.beep {
        samples.extend(tone(beep.freq_hz, beep.ms, rate));
        pad(&mut samples, beep.gap_ms);
    }
    let mut first_sentence = true;
    for sentence in &speech.sentences {
        let mut first_word = true;
        for phrase in sentence {
            let clip = library.clip(phrase).cloned().or_else(|| extra(phrase));
            let Some(clip) = clip else {
                missing.push(phrase.clone());
                continue;
            };
            if first_word && !first_sentence {
                pad(&mut samples, shape.sentence_gap_ms);
            } else if !first_word {
                pad(&mut samples, shape.word_gap_ms);
            }
            samples.extend_from_slice(&clip);
            first_word = false;
            first_sentence = false;
        }
    }
    pad(&mut samples, shape.tail_ms);
    Rendered { samples, missing }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library() -> PhraseLibrary {
        let mut lib = PhraseLibrary::empty(8000);
        lib.insert("solar", vec![100i16; 800].into());
        lib.insert("call", vec![200i16; 400].into());
        lib.insert("texas", vec![300i16; 1200].into());
        lib
    }

    fn speech(sentences: &[&[&str]]) -> Speech {
        Speech {
            sentences: sentences
                .iter()
                .map(|s| s.iter().map(|w| w.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn length_is_the_sum_of_clips_and_silences() {
        let shape = Shape::default();
        let out = render(
            &speech(&[&["solar", "call"], &["texas"]]),
            &library(),
            &|_| None,
            &shape,
        );
        let ms = |ms: u32| (8000 * ms / 1000) as usize;
        let beep = shape.beep.as_ref().unwrap();
        let expected = ms(shape.lead_ms)
            + ms(beep.ms)
            + ms(beep.gap_ms)
            + 800
            + ms(shape.word_gap_ms)
            + 400
            + ms(shape.sentence_gap_ms)
            + 1200
            + ms(shape.tail_ms);
        assert_eq!(out.samples.len(), expected);
        assert!(out.missing.is_empty());
    }

    #[test]
    fn missing_phrases_are_left_out_and_reported() {
        let shape = Shape {
            beep: None,
            ..Shape::default()
        };
        let with = render(
            &speech(&[&["solar", "zebra", "call"]]),
            &library(),
            &|_| None,
            &shape,
        );
        let without = render(
            &speech(&[&["solar", "call"]]),
            &library(),
            &|_| None,
            &shape,
        );
        assert_eq!(with.samples, without.samples);
        assert_eq!(with.missing, ["zebra"]);
        let tts = render(
            &speech(&[&["solar", "zebra"]]),
            &library(),
            &|p| (p == "zebra").then(|| vec![7i16; 10].into()),
            &shape,
        );
        assert!(tts.missing.is_empty());
        assert!(tts.samples.contains(&7));
    }
}
