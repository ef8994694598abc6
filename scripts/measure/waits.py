#!/usr/bin/env python3
"""1,000 concurrent dispatch_wait calls against one `serve`, then how long
list_agents and dispatch_cancel take to answer, how many waits were
refused busy, and the server's threads and peak memory.

    python3 scripts/measure/waits.py target/release/agent-dispatch
"""
import json, os, subprocess, sys, tempfile, time
BIN = sys.argv[1]
FAKE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "fake-claude")
d = tempfile.mkdtemp(); proj = os.path.join(d, "api"); os.makedirs(proj); fakedir = os.path.join(d, "bin"); os.makedirs(fakedir)
w = os.path.join(fakedir, "claude")
open(w, "w").write("#!/bin/sh\nexport FAKE_CLAUDE_MODE=hang\nexec " + FAKE + " \"$@\"\n"); os.chmod(w, 0o755)
env = dict(os.environ, AGENT_DISPATCH_CONFIG=os.path.join(d, "cfg/agents.yaml"), PATH=fakedir + ":" + os.environ["PATH"])
subprocess.run([BIN, "add", "api", proj, "-d", "API"], env=env, check=True, capture_output=True)
p = subprocess.Popen([BIN, "serve"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def send(m): p.stdin.write((json.dumps(m) + "\n").encode()); p.stdin.flush()
send({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}); p.stdout.readline()
send({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dispatch_async","arguments":{"agent":"api","task":"bg"}}})
job = json.loads(json.loads(p.stdout.readline())["result"]["content"][0]["text"])["job_id"]
for i in range(1000, 2000):
    send({"jsonrpc":"2.0","id":i,"method":"tools/call","params":{"name":"dispatch_wait","arguments":{"job_id":job,"timeout_seconds":600}}})
t = time.monotonic()
send({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_agents","arguments":{}}})
busy = 0
while True:
    m = json.loads(p.stdout.readline())
    if m.get("id") == 2: break
    if "error" in m: busy += 1
print(f"list_agents answered {1000*(time.monotonic()-t):.0f} ms after 1,000 waits were sent; {busy} waits refused busy so far")
t = time.monotonic()
send({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"dispatch_cancel","arguments":{"job_id":job}}})
while True:
    m = json.loads(p.stdout.readline())
    if m.get("id") == 3: break
    if "error" in m: busy += 1
print(f"dispatch_cancel answered in {1000*(time.monotonic()-t):.0f} ms; refused waits in all: {busy}")
with open(f"/proc/{p.pid}/status") as f:
    print([l.strip() for l in f if l.startswith(("Threads", "VmHWM"))])
p.stdin.close(); p.wait()
