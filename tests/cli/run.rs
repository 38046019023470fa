//! `parkway run`: the daemon as a process, against the simulated FreeSWITCH on a real socket;
//! a parked call is routed and its record written to `--records`.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parkway_sim::engine::Behaviour;
use parkway_sim::engine::api::InboundCall;
use parkway_sim::{SimConfig, SimSwitch, TimeMode};

#[tokio::test]
async fn run_routes_a_parked_call_and_writes_its_record() {
    let dir = std::env::temp_dir().join(format!("parkway-run-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (addr, sim) = SimSwitch::start(SimConfig {
        time: TimeMode::RealTime,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    sim.with(|e| {
        e.dialplan_mut().add_behaviour(
            "agent",
            &Behaviour::Answer {
                ring_ms: 50,
                digits: vec![(100, '1')],
                talk_ms: 300,
            },
        )
    })
    .await
    .expect("sim up");
    let config = dir.join("parkway.toml");
    std::fs::write(
        &config,
        format!(
            "currency = \"USD\"\n[freeswitch]\naddress = \"{addr}\"\npassword = \"ClueCon\"\n\
             [[buyer]]\nid = \"acme\"\ndestination = {{ sip = \"agent@acme.example.com\" }}\n\
             conversion = {{ digit = \"1\" }}\npayout = {{ per = \"conversion\", amount = \"12.50\" }}\n\
             [[router]]\nid = \"main\"\nmatch = {{ destination = \"18005550199\" }}\nbuyers = [\"acme\"]\nalgorithm = \"tier\"\n\
             fallback = {{ hangup = \"NO_ROUTE_DESTINATION\" }}\n"
        ),
    )
    .expect("config");
    let records = dir.join("calls.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_parkway"))
        .args(["run", "--seed", "3", "--config"])
        .arg(&config)
        .arg("--records")
        .arg(&records)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("parkway run starts");
    // Wait for the daemon's subscription, then place a call.
    let start = Instant::now();
    while sim.peer().open_sessions() == 0 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let call = sim
        .place_call(InboundCall {
            sip_headers: Vec::new(),
            variables: Vec::new(),
            ..InboundCall::new("+13105550100", "Caller", "18005550199")
        })
        .await
        .expect("sim up");
    let mut line = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(f) = std::fs::File::open(&records) {
            let mut r = std::io::BufReader::new(f);
            line.clear();
            if r.read_line(&mut line).is_ok() && line.ends_with('\n') {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGTERM: the daemon stops, its store flushed.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let stopped = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "SIGTERM ignored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.shutdown().await;
    // The store has the record: `parkway calls` exports it.
    let calls = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_parkway"))
            .args(["calls", "--config"])
            .arg(&config)
            .args(args)
            .output()
            .expect("parkway calls");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let json = calls(&["--since", "2000-01-01", "--buyer", "acme", "--json"]);
    let stored: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("one call")).expect("JSON");
    assert_eq!(stored["call"], call.parked.as_str());
    assert_eq!(stored["payout"], 1250);
    let csv = calls(&["--csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("call,router,caller,parked_at"), "{csv}");
    assert!(
        rows[1].contains(",acme,") && rows[1].contains(",true,1250,"),
        "{csv}"
    );
    assert!(calls(&["--buyer", "nobody"]).is_empty());
    assert!(calls(&["--until", "2000-01-01"]).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
    let record: serde_json::Value = serde_json::from_str(&line).expect("a JSON record line");
    assert_eq!(record["call"], call.parked.as_str());
    assert_eq!(record["connected"], "acme");
    assert_eq!(record["disposition"], "connected");
    assert_eq!(record["conversion"]["converted"], true);
    assert_eq!(record["payout"], 1250);
}
