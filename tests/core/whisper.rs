//! Whispers rendered from the shipped phrase library, end to end through the cache.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::PathBuf;

use parkway::whisper::{Settings, Shape, Template, Whisperer, shipped_sounds};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parkway-whisper-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn whisperer(tag: &str, rate: u32, max_bytes: u64) -> Whisperer {
    Whisperer::new(Settings {
        sounds_dir: shipped_sounds().to_owned(),
        rate,
        cache_dir: temp_dir(tag),
        cache_max_bytes: max_bytes,
        cache_min_age: parkway::whisper::DEFAULT_CACHE_MIN_AGE,
        shape: Shape::default(),
        tts: None,
    })
    .expect("shipped library loads")
}

fn tokens(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

const TEMPLATE: &str =
    "{campaign} call from {state}. Caller age {age}. Press nothing, connecting now.";

#[test]
fn renders_a_whisper_with_the_right_header_and_no_gaps_in_the_library() {
    for rate in [8000, 16000] {
        let w = whisperer(&format!("header{rate}"), rate, 10 << 20);
        let t = Template::parse(TEMPLATE).unwrap();
        let out = w
            .whisper(
                &t,
                &tokens(&[("campaign", "Medicare"), ("state", "TX"), ("age", "67")]),
            )
            .unwrap();
        assert!(!out.cached);
        assert!(out.missing.is_empty(), "{:?}", out.missing);
        let reader = hound::WavReader::open(&out.path).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, rate, 16)
        );
        let seconds = reader.duration() as f64 / rate as f64;
        assert!((3.0..8.0).contains(&seconds), "{seconds}");
        let speech = w.speak(
            &t,
            &tokens(&[("campaign", "Medicare"), ("state", "TX"), ("age", "67")]),
        );
        assert_eq!(
            speech.sentences[0..2],
            [
                vec!["medicare", "call", "from", "texas"],
                vec!["caller", "age", "sixty", "seven"]
            ]
        );
        assert!(parkway::whisper::missing_words(w.library(), &t).is_empty());
    }
}

#[test]
fn same_text_gives_byte_identical_files_and_a_cache_hit() {
    let a = whisperer("same-a", 8000, 10 << 20);
    let b = whisperer("same-b", 8000, 10 << 20);
    let t = Template::parse(TEMPLATE).unwrap();
    let toks = tokens(&[("campaign", "solar"), ("state", "ON"), ("age", "1200")]);
    let first = a.whisper(&t, &toks).unwrap();
    let second = b.whisper(&t, &toks).unwrap();
    assert_eq!(
        std::fs::read(&first.path).unwrap(),
        std::fs::read(&second.path).unwrap()
    );
    let hit = a.whisper(&t, &toks).unwrap();
    assert!(hit.cached);
    assert_eq!(hit.path, first.path);
}

#[test]
fn the_beep_is_at_its_frequency() {
    let w = whisperer("beep", 8000, 10 << 20);
    let (wav, _) = w
        .render(&w.speak(&Template::parse("solar.").unwrap(), &|_| None))
        .unwrap();
    let samples: Vec<i16> = hound::WavReader::new(Cursor::new(wav))
        .unwrap()
        .samples::<i16>()
        .map(Result::unwrap)
        .collect();
    let shape = Shape::default();
    let beep = shape.beep.unwrap();
    let start = (8000 * shape.lead_ms / 1000) as usize;
    let tone = &samples[start..start + (8000 * beep.ms / 1000) as usize];
    let crossings = tone
        .windows(2)
        .filter(|p| (p[0] >= 0) != (p[1] >= 0))
        .count();
    let freq = crossings as f64 / 2.0 / (tone.len() as f64 / 8000.0);
    assert!((freq - beep.freq_hz).abs() / beep.freq_hz < 0.01, "{freq}");
}

#[test]
fn hostile_tokens_cannot_escape_the_cache_or_grow_a_file() {
    let dir = temp_dir("hostile");
    let w = Whisperer::new(Settings {
        sounds_dir: shipped_sounds().to_owned(),
        rate: 8000,
        cache_dir: dir.clone(),
        cache_max_bytes: 10 << 20,
        cache_min_age: parkway::whisper::DEFAULT_CACHE_MIN_AGE,
        shape: Shape::default(),
        tts: None,
    })
    .unwrap();
    let t = Template::parse("{campaign} call. {a}. {b}. {c}. {d}.").unwrap();
    let long = "one two three ".repeat(50_000);
    let evil = tokens(&[
        ("campaign", "../../../../tmp/evil\0/x"),
        ("a", &long),
        ("b", &long),
        ("c", &long),
        ("d", "/etc/passwd"),
    ]);
    let out = w.whisper(&t, &evil).unwrap();
    assert_eq!(out.path.parent(), Some(dir.as_path()));
    let len = std::fs::metadata(&out.path).unwrap().len();
    // At most MAX_PHRASES clips of about a second each.
    assert!(len < 8000 * 2 * 200, "{len}");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name.starts_with("whisper-") && name.ends_with(".wav"),
            "{name}"
        );
    }
}

/// Words the library lacks go to the operator's text-to-speech command; a failing command leaves
/// the word out and is not run again for the same word straight away.
#[cfg(unix)]
#[test]
fn text_to_speech_fills_gaps_and_failures_are_not_retried_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("tts");
    std::fs::create_dir_all(&dir).unwrap();
    let clip = shipped_sounds().join("clips/solar.wav");
    let runs = dir.join("runs");
    let script = dir.join("tts.sh");
    // Speaks any word as the "solar" clip, except "zebra", which fails; counts its runs.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> {runs}\n[ \"$2\" = zebra ] && exit 1\ncp {clip} \"$1\"\n",
            runs = runs.display(),
            clip = clip.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let w = Whisperer::new(Settings {
        sounds_dir: shipped_sounds().to_owned(),
        rate: 8000,
        cache_dir: dir.join("cache"),
        cache_max_bytes: 10 << 20,
        cache_min_age: parkway::whisper::DEFAULT_CACHE_MIN_AGE,
        shape: Shape::default(),
        tts: Some(
            parkway::whisper::TtsCommand::parse(&format!("{} {{out}} {{text}}", script.display()))
                .unwrap(),
        ),
    })
    .unwrap();
    let t = Template::parse("{name} call.").unwrap();
    let out = w.whisper(&t, &tokens(&[("name", "quokka")])).unwrap();
    assert!(out.missing.is_empty(), "{:?}", out.missing);
    let out = w.whisper(&t, &tokens(&[("name", "zebra")])).unwrap();
    assert_eq!(out.missing, ["zebra"]);
    let again = w
        .render(&w.speak(&t, &tokens(&[("name", "zebra")])))
        .unwrap();
    assert_eq!(again.1, ["zebra"]);
    let count = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert_eq!(count, 2, "zebra was retried at once");
    let leftovers = std::fs::read_dir(dir.join("cache/.tts")).unwrap().count();
    assert_eq!(leftovers, 0, "text-to-speech output files left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}
