"""What the two task clients share: their step report, the server's throwaway HOME and the stand-in `claude`.

Imported by tests/python/sdk_tasks_client.py (mcp 1.x) and tests/python/sdk2_tasks_client.py
(mcp 2.x), which are run as `python tests/python/<script>.py <binary>`, so their own
directory is on sys.path. It uses the standard library only, so it imports in either venv
before the SDK does, and it imports no SDK: how an SDK's MCP error gives its code and
message, the one thing that differs, is handed in by the script (`mcp_error`), and a tool
result's content is read through the `type` and `text` both SDKs give it. Its waits sleep
with asyncio, the backend anyio.run uses by default.

The server runs in a throwaway HOME holding an agents.yaml with two agents, `api` and
`slow` (both on an empty project directory), and with the repository's fixtures/fake-claude
first on PATH as `claude`, so no real CLI is ever run. The stand-in answers at once, except
for a prompt holding `[fake:hang]`, which it never answers; it records each run
(FAKE_CLAUDE_RECORD: pid and mode), which is how a script knows the hanging run has really
started before cancelling it, and that the cancel stopped it. The server gets only
AGENT_DISPATCH_CONFIG, HOME, PATH and FAKE_CLAUDE_RECORD (plus the SDK stdio client's own
defaults).

A script reports `ok <step>` or `FAIL <step>: why` per step (a failed step skips the rest of
its scenario), then a summary line under its own name. Exit status: 0 all passed, 1 a step
failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 30
KILL_TIMEOUT = 15
CHECK_INTERVAL = 0.1
FAKE_CLAUDE = Path(__file__).resolve().parents[2] / "fixtures" / "fake-claude"
AGENTS = ("api", "slow")

McpErrorOf = Callable[[BaseException], tuple[int, str] | None]


class CheckFailed(Exception):
    """A step's expectation did not hold."""


class ScenarioAborted(Exception):
    """A step failed; the rest of its scenario is skipped."""


def expect(condition: bool, why: str) -> None:
    if not condition:
        raise CheckFailed(why)


def text_json(content: list):
    """The JSON a tool result's content holds, which must be one text block (`type` and `text` in either SDK)."""
    expect(len(content) == 1 and content[0].type == "text", f"want one text content, got {content!r}")
    return json.loads(content[0].text)


def describe(exc: BaseException, mcp_error: McpErrorOf) -> str:
    """One line for a failure: the first leaf of an exception group, MCP errors (`mcp_error`) with their code."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    if isinstance(exc, CheckFailed):
        return str(exc)
    if (code_message := mcp_error(exc)) is not None:
        return f"MCP error {code_message[0]}: {code_message[1]}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Report:
    """The steps' outcomes, printed as they come; `name` heads the summary."""

    def __init__(self, name: str, mcp_error: McpErrorOf) -> None:
        self.name = name
        self.mcp_error = mcp_error
        self.passed = 0
        self.failed = 0

    @contextmanager
    def step(self, name: str):
        try:
            yield
        except Exception as exc:
            self.fail(name, exc)
            raise ScenarioAborted(name) from exc
        self.passed += 1
        print(f"ok {name}", flush=True)

    def fail(self, name: str, exc: BaseException) -> None:
        self.failed += 1
        print(f"FAIL {name}: {describe(exc, self.mcp_error)}", flush=True)

    def summary(self) -> str:
        return f"{self.name}: {self.passed} passed, {self.failed} failed"


async def attempt(scenario) -> None:
    """Await one scenario; its failed step is already reported."""
    try:
        await scenario
    except ScenarioAborted:
        pass


class StandIn:
    """The `claude` the server runs: a link to fixtures/fake-claude whose runs are recorded in `home`."""

    def __init__(self, home: Path) -> None:
        self.bin = home / "bin"
        self.records = home / "record"
        self.bin.mkdir()
        self.records.mkdir()
        (self.bin / "claude").symlink_to(FAKE_CLAUDE)

    def hanging_pid(self) -> int | None:
        """The pid of a run in `hang` mode once it has started (its mode is recorded after its pid)."""
        for mode in self.records.glob("*.mode"):
            if mode.read_text() == "hang":
                return int(mode.with_suffix(".pid").read_text())
        return None


def server_env(home: Path, stand_in: StandIn) -> dict[str, str]:
    """The environment of `<binary> serve`: HOME and an agents.yaml inside `home`, and `stand_in` first on PATH."""
    project = home / "projects" / "api"
    project.mkdir(parents=True)
    config = home / "agents.yaml"
    config.write_text("agents:\n" + "".join(f"  {name}:\n    directory: {project}\n" for name in AGENTS))
    return {
        "AGENT_DISPATCH_CONFIG": str(config),
        "HOME": str(home),
        "PATH": f"{stand_in.bin}:/usr/bin:/bin",
        "FAKE_CLAUDE_RECORD": str(stand_in.records),
    }


async def poll(check, timeout: float):
    """`check()` every CHECK_INTERVAL s until it returns something other than None; None after `timeout` s."""
    deadline = time.monotonic() + timeout
    while (value := check()) is None and time.monotonic() < deadline:
        await asyncio.sleep(CHECK_INTERVAL)
    return value


def gone(pid: int) -> bool | None:
    """True once no process has `pid`; None (not yet) while one does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return None


async def wait_for_hanging_run(stand_in: StandIn) -> int:
    pid = await poll(stand_in.hanging_pid, START_TIMEOUT)
    expect(pid is not None, f"the hanging run did not start within {START_TIMEOUT} s")
    return pid


async def wait_until_gone(pid: int) -> None:
    expect(await poll(lambda: gone(pid), KILL_TIMEOUT) is not None, f"the hanging run (pid {pid}) still lives")


def parse_binary(argv: list[str], description: str) -> str:
    """The agent-dispatch binary named by `argv`, as an absolute path; a usage error exits 2."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("binary", help="the agent-dispatch binary; it is started as `<binary> serve`")
    binary = parser.parse_args(argv).binary
    found = shutil.which(binary)
    if found is None:
        parser.error(f"no executable at {binary!r}")
    return os.path.abspath(found)


def run_checks(name: str, mcp_error: McpErrorOf, drive: Callable[[Path, Report], None]) -> int:
    """`drive(home, report)` in a throwaway HOME, then the summary; the exit status, 0 all passed or 1 a step failed."""
    report = Report(name, mcp_error)
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as home:
        drive(Path(home), report)
    print(report.summary())
    return 1 if report.failed else 0
