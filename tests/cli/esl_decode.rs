//! `parkway esl decode` on the real captures: one JSON line per message, and malformed input
//! reported with its offset while the rest still decodes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn capture(name: &str) -> String {
    format!("{}/captures/{name}.recv", env!("CARGO_MANIFEST_DIR"))
}

fn decode_file(path: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args(["esl", "decode", path])
        .output()
        .expect("run parkway")
}

fn decode_stdin(input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args(["esl", "decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run parkway");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("write stdin");
    out
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn every_capture_prints_one_json_line_per_message() {
    // (capture, messages, events) as each capture's notes list them.
    let expected = [
        ("all_fail", 150, 136),
        ("auth_fail", 3, 0),
        ("burst", 2105, 2000),
        ("caller_abandon", 97, 88),
        ("dtmf_variants", 339, 321),
        ("group_sequential", 172, 164),
        ("group_simultaneous", 155, 147),
        ("inbound_json", 126, 111),
        ("inbound_plain", 126, 111),
        ("noauth_command", 8, 0),
        ("originate_uuid_bridge", 164, 153),
        ("outbound_json", 27, 18),
        ("outbound_plain", 28, 18),
        ("show_channels", 25, 7),
        ("sip_leg", 123, 114),
        ("uuid_bridge_unanswered", 101, 93),
    ];
    for (name, messages, events) in expected {
        let out = decode_file(&capture(name));
        assert!(out.status.success(), "{name}: {out:?}");
        assert!(out.stderr.is_empty(), "{name}");
        let v = lines(&out);
        assert_eq!(v.len(), messages, "{name}");
        assert_eq!(
            v.iter().filter(|m| m["kind"] == "event").count(),
            events,
            "{name}"
        );
        let offsets: Vec<u64> = v
            .iter()
            .map(|m| m["offset"].as_u64().expect("offset"))
            .collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{name}");
    }
}

#[test]
fn output_carries_decoded_headers_events_and_bodies() {
    let v = lines(&decode_file(&capture("originate_uuid_bridge")));
    let busy = v
        .iter()
        .find(|m| m["event"]["headers"]["Job-UUID"] == "79fe1aac-bf59-4f14-bf65-7b118a7379fd")
        .expect("busy job");
    assert_eq!(busy["kind"], "event");
    assert_eq!(busy["headers"]["Content-Type"], "text/event-plain");
    assert_eq!(busy["event"]["name"], "BACKGROUND_JOB");
    assert_eq!(busy["event"]["body"], "-ERR USER_BUSY\n");
    let api: Vec<_> = v.iter().filter(|m| m["kind"] == "api_response").collect();
    assert_eq!(api[1]["body"], "false");

    let v = lines(&decode_file(&capture("outbound_plain")));
    assert_eq!(v[0]["offset"], 0);
    assert_eq!(v[0]["kind"], "command_reply");
    assert_eq!(v[0]["headers"]["Reply-Text"], "+OK\n");
    let last = v.last().expect("messages");
    assert_eq!(last["kind"], "disconnect_notice");
    assert_eq!(last["headers"]["Content-Disposition"], "disconnect");

    // The json form prints the same shape.
    let v = lines(&decode_file(&capture("inbound_json")));
    let job = v
        .iter()
        .find(|m| m["event"]["name"] == "BACKGROUND_JOB")
        .expect("job");
    assert_eq!(job["headers"]["Content-Type"], "text/event-json");
    assert_eq!(
        job["event"]["body"],
        "+OK 581fccd6-67dd-4a1d-a09d-1d3da129532f\n"
    );
}

#[test]
fn corrupted_stream_reports_the_offset_and_decodes_the_rest() {
    let bytes = std::fs::read(capture("inbound_plain")).expect("capture");
    let whole = lines(&decode_file(&capture("inbound_plain")));
    // Break the Content-Length of the 10th message (a head the framer reads but cannot size):
    // that frame is lost, the framer resumes at the next blank line, and everything after it
    // decodes as before.
    let tenth = whole[9]["offset"].as_u64().expect("offset") as usize;
    let mut broken = bytes.clone();
    let cl = tenth + "Content-Length: ".len();
    assert_eq!(&broken[tenth..cl], b"Content-Length: ");
    broken[cl] = b'x';
    let out = decode_stdin(&broken);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr.clone()).expect("utf-8");
    assert!(
        stderr.contains(&format!("at byte {tenth}: Content-Length")),
        "{stderr}"
    );
    let v = lines(&out);
    assert_eq!(v[..9], whole[..9]);
    // The lost frame's body is framed as junk; from the next real frame on, all is as before.
    let eleventh = &whole[10];
    let at = v
        .iter()
        .position(|m| m == eleventh)
        .expect("resynchronised");
    assert_eq!(v[at..], whole[10..]);
    assert!(v.len() >= whole.len() - 1);

    // A stream cut short: every whole message before the cut, then the truncation reported.
    let cut = whole[50]["offset"].as_u64().expect("offset") as usize + 100;
    let out = decode_stdin(&bytes[..cut]);
    assert!(!out.status.success());
    assert_eq!(lines(&out)[..], whole[..50]);
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        stderr.contains(&format!(
            "at byte {}: stream ended inside a frame",
            whole[50]["offset"]
        )),
        "{stderr}"
    );
}
