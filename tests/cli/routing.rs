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

/// `parkway check` with a deadline: a check that hangs (reading a FIFO) is killed and fails.
fn check_within(path: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args(["check", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run parkway");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("parkway check {} hung", path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// What `run` could never work with fails `check` (exit 64) with the file and the reason named:
/// an empty file, no router, an address that is not host:port, an empty password, and files
/// that are devices or FIFOs.
#[test]
fn check_refuses_what_run_cannot_work_with() {
    let dir = std::env::temp_dir().join(format!("parkway-check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("parkway.toml");
    let good = "[freeswitch]\naddress = \"127.0.0.1:8021\"\npassword = \"ClueCon\"\n\n\
                [[buyer]]\nid = \"b1\"\ndestination = { sip = \"sip:a@b\" }\n\n\
                [[router]]\nid = \"r1\"\nmatch = { destination = \"18005550100\" }\n\
                buyers = [\"b1\"]\nalgorithm = \"tier\"\n";
    std::fs::write(&path, good).unwrap();
    let out = check_within(&path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let fifo = dir.join("fifo");
    let have_fifo = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut cases: Vec<(String, String)> = vec![
        (
            String::new(),
            "parkway.toml:1:1: the config is empty".into(),
        ),
        (
            good[..good.find("[[router]]").unwrap()].to_owned(),
            "no [[router]]".into(),
        ),
        (
            good.replace("\"127.0.0.1:8021\"", "\"http://127.0.0.1:8021\""),
            "parkway.toml:2:11: [freeswitch] address \"http://127.0.0.1:8021\" is a URL".into(),
        ),
        (
            good.replace("\"127.0.0.1:8021\"", "\"\""),
            "[freeswitch] address \"\" is empty".into(),
        ),
        (
            good.replace("\"ClueCon\"", "\"\""),
            "parkway.toml:3:12: [freeswitch] password is empty".into(),
        ),
        (
            good.replace(
                "{ sip = \"sip:a@b\" }",
                "{ dial_string = \"[leg_timeout=5]sofia/gateway/g/18005550100\" }",
            ),
            "calls could never be dialled".into(),
        ),
    ];
    let mut devices = vec!["/dev/zero".to_owned(), "/dev/urandom".to_owned()];
    if have_fifo {
        devices.push(fifo.display().to_string());
    }
    for dev in &devices {
        cases.push((
            good.replace(
                "algorithm = \"tier\"",
                &format!("algorithm = \"tier\"\nsuppress = [{dev:?}]"),
            ),
            format!("cannot read {dev}: not a regular file"),
        ));
    }
    for (config, expected) in cases {
        std::fs::write(&path, &config).unwrap();
        let out = check_within(&path);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{expected}: {err}");
        assert!(err.contains(&expected), "wanted {expected:?} in {err}");
    }
    // The config itself a FIFO or a device.
    for dev in devices {
        let out = check_within(Path::new(&dev));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{dev}: {err}");
        assert!(
            err.contains(&format!("cannot read {dev}: not a regular file")),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
