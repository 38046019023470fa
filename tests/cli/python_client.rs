//! A third-party ESL client against `parkway sim`: `tests/cli/greenswitch_client.py`
//! (greenswitch, from PyPI) places a call, waits for its park, bridges it to a buyer and reads
//! the events. Skipped, with the reason printed, when python3 or greenswitch is missing
//! (`.ci/run` installs it).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const SCENARIO: &str = r#"
[[buyer]]
destination = "acme"
behaviour = "answer"
ring_ms = 300
talk_ms = 1500
digits = [{ at_ms = 500, digits = "1" }]
"#;

/// Kills the server when the test ends, also on a panic.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn greenswitch_missing() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import gevent, greenswitch"])
        .output()
    {
        Err(e) => Some(format!("python3 not runnable: {e}")),
        Ok(out) if !out.status.success() => Some(format!(
            "greenswitch not installed (pip install greenswitch): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
}

#[test]
fn greenswitch_places_parks_and_bridges_a_call() {
    if let Some(reason) = greenswitch_missing() {
        eprintln!("SKIPPED greenswitch_places_parks_and_bridges_a_call: {reason}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("parkway-greenswitch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).expect("scenario");
    let mut child = Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--real-time",
            "--scenario",
        ])
        .arg(&scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("parkway sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the address line");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/greenswitch_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([
            &addr.ip().to_string(),
            &addr.port().to_string(),
            "ClueCon",
            "acme",
        ])
        .output()
        .expect("python3 runs");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(2) {
        eprintln!("SKIPPED greenswitch_places_parks_and_bridges_a_call: {text}");
        return;
    }
    assert!(
        out.status.success(),
        "the client failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "ok parked",
        "ok bridged",
        "ok dtmf 1",
        "ok hangup NORMAL_CLEARING",
        "PASS",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}
