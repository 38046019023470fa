//! Whisper rendering: a typical five-second whisper, uncached (to bytes, and into the cache on
//! disk) and cached (a hit: template → phrases → key → path).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use parkway::whisper::{Settings, Shape, Template, Whisperer, shipped_sounds};

const TEMPLATE: &str =
    "{campaign} call from {state}. Caller age {age}. Press nothing, connecting now.";

fn whisper(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("parkway-bench-whisper-{}", std::process::id()));
    let w = Whisperer::new(Settings {
        sounds_dir: shipped_sounds().to_owned(),
        rate: 8000,
        cache_dir: dir.clone(),
        cache_max_bytes: 64 << 20,
        cache_min_age: parkway::whisper::DEFAULT_CACHE_MIN_AGE,
        shape: Shape::default(),
        tts: None,
    })
    .expect("library loads");
    let t = Template::parse(TEMPLATE).expect("template");
    let tokens = |age: u32| {
        move |k: &str| match k {
            "campaign" => Some("final expense".to_owned()),
            "state" => Some("NC".to_owned()),
            "age" => Some(age.to_string()),
            _ => None,
        }
    };
    let (wav, _) = w.render(&w.speak(&t, &tokens(67))).expect("renders");
    let seconds = (wav.len() - 44) as f64 / 2.0 / 8000.0;
    eprintln!("typical whisper: {seconds:.2} s, {} bytes", wav.len());

    let mut group = c.benchmark_group("whisper");
    group.bench_function("uncached_render_to_bytes", |b| {
        b.iter(|| {
            w.render(&w.speak(&t, &tokens(black_box(67))))
                .expect("renders")
        })
    });
    let mut age = 0u32;
    group.bench_function("uncached_render_into_cache", |b| {
        b.iter(|| {
            age = (age + 1) % 100_000;
            w.whisper(&t, &tokens(black_box(age))).expect("renders")
        })
    });
    w.whisper(&t, &tokens(67)).expect("renders");
    group.bench_function("cached_hit", |b| {
        b.iter(|| w.whisper(&t, &tokens(black_box(67))).expect("hit"))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = whisper
}
criterion_main!(benches);
