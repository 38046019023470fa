#!/usr/bin/env python3
"""A third-party ESL client (greenswitch, from PyPI) against `parkway sim`.

Places a call with `bgapi originate`, waits for it to park, bridges it to a buyer with
`sendmsg`, and reads the events until the call is over. Prints one line per check and exits 0
when every check held; exit status 2 means greenswitch (or gevent) is not installed.

usage: greenswitch_client.py HOST PORT PASSWORD BUYER
"""

import sys
import time

try:
    import gevent
    import greenswitch
except ImportError as e:  # the Rust test skips on status 2
    print(f"missing package: {e}")
    sys.exit(2)

CALLER_UUID = "3d0c1a7e-5b0f-4c1e-9a55-000000000001"
JOB_UUID = "3d0c1a7e-5b0f-4c1e-9a55-0000000000aa"


def wait_for(events, pred, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events:
            if pred(e):
                return e
        gevent.sleep(0.01)
    raise SystemExit(f"FAIL: no {what} within {timeout}s; got {[e.get('Event-Name') for e in events]}")


def main():
    host, port, password, buyer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    esl = greenswitch.InboundESL(host=host, port=port, password=password)
    esl.connect()
    print("ok auth")
    events = []
    esl.register_handle("*", lambda ev: events.append(dict(ev.headers)))
    reply = esl.send("event plain ALL")
    assert reply.headers["Reply-Text"] == "+OK event listener enabled plain", reply.headers
    print("ok subscribed")

    status = esl.send("api status").data
    assert "FreeSWITCH (Version 1.10.12-release  64bit) is ready" in status, status
    print("ok api status")

    reply = esl.send(
        "bgapi originate {origination_uuid=%s,origination_caller_id_number=+13055550123,"
        "origination_caller_id_name='Maria Lopez',sip_h_X-Campaign=solar}"
        "loopback/18005550199/public &sleep(3600000)\nJob-UUID: %s" % (CALLER_UUID, JOB_UUID)
    )
    assert reply.headers["Reply-Text"] == "+OK Job-UUID: " + JOB_UUID, reply.headers
    print("ok bgapi accepted")

    park = wait_for(
        events,
        lambda e: e.get("Event-Name") == "CHANNEL_PARK" and e.get("Call-Direction") == "inbound",
        "CHANNEL_PARK",
    )
    parked = park["Unique-ID"]
    assert park.get("variable_sip_h_X-Campaign") == "solar", park
    print("ok parked", parked)

    reply = esl.send(
        "sendmsg %s\ncall-command: execute\nexecute-app-name: set\n"
        "execute-app-arg: hangup_after_bridge=true\nevent-lock: true" % parked
    )
    assert reply.headers["Reply-Text"] == "+OK", reply.headers
    reply = esl.send(
        "sendmsg %s\ncall-command: execute\nexecute-app-name: bridge\n"
        "execute-app-arg: loopback/%s/buyers\nevent-lock: true\n"
        "Event-UUID: 3d0c1a7e-5b0f-4c1e-9a55-0000000000bb" % (parked, buyer)
    )
    assert reply.headers["Reply-Text"] == "+OK", reply.headers
    print("ok bridge queued")

    bridge = wait_for(events, lambda e: e.get("Event-Name") == "CHANNEL_BRIDGE", "CHANNEL_BRIDGE")
    print("ok bridged", bridge["Bridge-A-Unique-ID"], bridge["Bridge-B-Unique-ID"])
    dtmf = wait_for(events, lambda e: e.get("Event-Name") == "DTMF", "DTMF")
    print("ok dtmf", dtmf["DTMF-Digit"])
    done = wait_for(
        events,
        lambda e: e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" and e.get("Unique-ID") == parked,
        "CHANNEL_HANGUP_COMPLETE",
    )
    print("ok hangup", done["Hangup-Cause"], "billsec", done.get("variable_billsec"))
    job = wait_for(
        events,
        lambda e: e.get("Event-Name") == "BACKGROUND_JOB" and e.get("Job-UUID") == JOB_UUID,
        "BACKGROUND_JOB",
    )
    print("ok job", job.get("Job-Command"))
    complete = [
        e for e in events
        if e.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "bridge"
    ]
    assert complete and complete[0].get("Application-UUID") == "3d0c1a7e-5b0f-4c1e-9a55-0000000000bb", complete
    print("ok application-uuid")
    print("events", len(events))
    esl.stop()
    print("PASS")


if __name__ == "__main__":
    main()
