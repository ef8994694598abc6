#!/usr/bin/env python3
"""How long `serve` takes to stop, for each way it can stop (stdin EOF,
SIGTERM, SIGINT, SIGHUP, a client that closed stdout), with a running
dispatch and a running async job whose process groups each hold a
grandchild. Five runs each; prints min and max.

    python3 scripts/measure/stop.py target/release/agent-dispatch
"""
import json, os, signal, subprocess, sys, tempfile, time
BIN = sys.argv[1]
FAKE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "fake-claude")
def run(kind):
    d = tempfile.mkdtemp()
    proj = os.path.join(d, "api"); os.makedirs(proj)
    fakedir = os.path.join(d, "bin"); os.makedirs(fakedir)
    w = os.path.join(fakedir, "claude")
    open(w, "w").write(f"#!/bin/sh\nexport FAKE_CLAUDE_MODE=grandchild FAKE_CLAUDE_PARENT_SLEEP=120 FAKE_CLAUDE_GRANDCHILD_SLEEP=120\nexec {FAKE} \"$@\"\n")
    os.chmod(w, 0o755)
    env = dict(os.environ, AGENT_DISPATCH_CONFIG=os.path.join(d, "cfg/agents.yaml"), PATH=fakedir + ":" + os.environ["PATH"])
    subprocess.run([BIN, "add", "api", proj, "-d", "API"], env=env, check=True, capture_output=True)
    p = subprocess.Popen([BIN, "serve"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    def send(m): p.stdin.write((json.dumps(m) + "\n").encode()); p.stdin.flush()
    send({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})
    p.stdout.readline()
    send({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dispatch_async","arguments":{"agent":"api","task":"bg"}}})
    p.stdout.readline()
    send({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"dispatch","arguments":{"agent":"api","task":"fg"}}})
    time.sleep(1.5)
    t = time.monotonic()
    if kind == "eof": p.stdin.close()
    elif kind == "epipe":
        p.stdout.close(); send({"jsonrpc":"2.0","id":3,"method":"ping"})
    else: p.send_signal(getattr(signal, kind))
    p.wait()
    return time.monotonic() - t, p.returncode
for kind in ["eof", "SIGTERM", "SIGINT", "SIGHUP", "epipe"]:
    times = []
    for _ in range(5):
        dt, rc = run(kind); times.append(dt); assert rc == 0, (kind, rc)
    print(f"{kind:8s} exit after: min {min(times)*1000:.0f} ms, max {max(times)*1000:.0f} ms (5 runs, rc 0)")
