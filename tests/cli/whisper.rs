//! `parkway whisper` and the whisper part of `parkway check`, run as the built binary.

use std::process::Command;

fn parkway(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("parkway runs")
}

#[test]
fn renders_what_a_buyer_would_hear() {
    let out = std::env::temp_dir().join(format!("parkway-cli-{}.wav", std::process::id()));
    let run = parkway(&[
        "whisper",
        "examples/parkway.toml",
        "--buyer",
        "acme",
        "--caller",
        "+12145550123",
        "-o",
        out.to_str().expect("utf-8 temp path"),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("auto insurance caller from texas"),
        "{stdout}"
    );
    let reader = hound::WavReader::open(&out).expect("a wav");
    assert_eq!(reader.spec().sample_rate, 8000);
    assert!(reader.duration() > 8000, "shorter than a second");
    std::fs::remove_file(&out).ok();
}

#[test]
fn check_points_at_an_unknown_whisper_token() {
    let dir = std::env::temp_dir().join(format!("parkway-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("bad.toml");
    std::fs::write(
        &config,
        "[[buyer]]\nid = \"b1\"\ndestination = { sip = \"sip:a@b\" }\nwhisper = \"Caller aged {agee}.\"\n\n\
         [[router]]\nid = \"r\"\nmatch = { destination = \"1\" }\nbuyers = [\"b1\"]\nalgorithm = \"tier\"\n",
    )
    .unwrap();
    let run = parkway(&["check", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("bad.toml:4:11"), "{stderr}");
    assert!(stderr.contains("token `agee`"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
