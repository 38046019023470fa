//! The built binary: `parkway check` and `parkway explain`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn parkway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args(args)
        .output()
        .expect("run parkway")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/parkway.toml")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_the_example() {
    let out = parkway(&["check", example().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok (7 buyers, 2 groups, 3 routers)"));
}

#[test]
fn check_rejects_a_broken_config_with_positions() {
    let dir = std::env::temp_dir().join(format!("parkway-routing-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(
        &path,
        "[[buyer]]\nid = \"b1\"\ndestination = { sip = \"sip:a@b\" }\ntimezone = \"Nowhere/City\"\n\n\
         [[group]]\nid = \"g\"\nmembers = [\"b1\", \"ghost\"]\nmode = \"sequential\"\n",
    )
    .unwrap();
    let out = parkway(&["check", path.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("broken.toml:4:12: unknown time zone `Nowhere/City`"),
        "{err}"
    );
    assert!(
        err.contains("broken.toml:8:18: group `g` names buyer `ghost`"),
        "{err}"
    );

    std::fs::write(
        &path,
        "[[buyer]]\nid = \"b1\"\nfavourite_colour = \"red\"\n",
    )
    .unwrap();
    let out = parkway(&["check", path.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("broken.toml:3:1: "), "{err}");
    assert!(err.contains("favourite_colour"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_the_example() {
    let cfg = example();
    let out = parkway(&[
        "explain",
        cfg.to_str().unwrap(),
        "--at",
        "2026-11-25T15:30:00Z",
        "--caller",
        "+13105550100",
        "--token",
        "campaign=auto",
        "--token",
        "age=44",
        "--seed",
        "3",
    ]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(s.starts_with("router auto-insurance (Tier)"), "{s}");
    assert!(s.contains("1. acme"), "{s}");
    assert!(s.contains("2. northwind"), "{s}");
    assert!(
        s.contains("beacon  outside hours: opens 2026-11-25T09:00:00-08:00"),
        "{s}"
    );

    // A usage file: acme is at its daily connection cap.
    let usage = std::env::temp_dir().join(format!("parkway-usage-{}.json", std::process::id()));
    std::fs::write(
        &usage,
        r#"{ "buyers": { "acme": { "daily": { "connections": 90 } } } }"#,
    )
    .unwrap();
    let out = parkway(&[
        "explain",
        cfg.to_str().unwrap(),
        "--at",
        "2026-11-25T15:30:00Z",
        "--caller",
        "+13105550100",
        "--token",
        "campaign=auto",
        "--token",
        "age=44",
        "--usage",
        usage.to_str().unwrap(),
        "--json",
    ]);
    let _ = std::fs::remove_file(&usage);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["plan"][0]["id"], "northwind");
    let acme = v["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["buyer"] == "acme")
        .unwrap();
    assert_eq!(acme["reason"], "over_cap");
    assert_eq!(acme["resets_at"], "2026-11-26T00:00:00-06:00");
}
