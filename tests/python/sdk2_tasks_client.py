"""Drive agent-dispatch's tasks extension (protocol 2026-07-28, `io.modelcontextprotocol/tasks`) with the Python SDK 2.x.

    python tests/python/sdk2_tasks_client.py <agent-dispatch binary>

Run it with the mcp 2.x venv (~/.cache/agent-dispatch-ci/python-mcp2, mcp 2.3.0). The
client is the SDK's `mcp.Client` in its default auto mode: it sends `server/discover`,
which this server answers, so the connection speaks 2026-07-28 with no handshake and
every request carries the client's capabilities in `_meta`. The extension is declared
through the SDK's own mechanism, `mcp.client.extension`: a `ClientExtension` whose
`ResultClaim` accepts `resultType: "task"` on tools/call, which the SDK then advertises
under `clientCapabilities.extensions`. 2.3.0 has no model of the extension itself, so
this script writes by hand only what it lacks:

  - the result models: the task handle (`CreateTaskResult`, resultType "task") and the
    `tasks/get` answer (`GetTaskResult`: the task, plus `result` or `error`);
  - the request classes for `tasks/get` and `tasks/cancel` (mcp_types has ones named so,
    marked 2025-11-25 only and without the `Mcp-Name` routing the extension requires);
  - the poll loop, honouring the server's pollIntervalMs, which is also the claim's
    resolver, so `Client.call_tool` returns a task's final result transparently.

It starts `<binary> serve` over stdio in a throwaway HOME holding an agents.yaml with two
agents, `api` and `slow` (both on an empty project directory), and with the repository's
fixtures/fake-claude first on PATH as `claude`, so no real CLI is ever run. The stand-in
answers at once, except for a prompt holding `[fake:hang]`, which it never answers; it
records each run (FAKE_CLAUDE_RECORD: pid and mode), which is how this script knows the
hanging run has really started before cancelling it, and that the cancel stopped it. The
server gets only AGENT_DISPATCH_CONFIG, HOME, PATH and FAKE_CLAUDE_RECORD (plus the SDK
stdio client's own defaults).

Steps:

  discover       the connection ends on 2026-07-28 and the server advertises
                 capabilities.extensions["io.modelcontextprotocol/tasks"];
  create         tools/call dispatch {"agent": "api", "task": "say hi"}, taken as the
                 claimed shape (`allow_claimed=True`), is a task: resultType "task", a task
                 id, status "working", a pollIntervalMs;
  complete       tasks/get, polled at pollIntervalMs, reaches "completed";
  result         that tasks/get carries the CallToolResult inline: one text content whose
                 JSON has "success": true;
  undeclared     tasks/get for that task from a second client that declares no extension
                 is refused with -32021 (missing required client capability);
  transparent    `Client.call_tool` of dispatch {"agent": "api", "task": "say hello"} returns
                 the final CallToolResult (success true), the claim's resolver having
                 polled the task to its end;
  slow-create    tools/call dispatch_session {"agent": "slow", "task": "[fake:hang] wait"}
                 is a task;
  slow-working   once the stand-in's hanging run has started, tasks/get says "working";
  cancel         tasks/cancel is acknowledged with resultType "complete";
  cancelled      tasks/get says "cancelled" (polled: the extension lets cancellation be
                 eventually consistent);
  killed         the hanging run's process is gone.

It prints `ok <step>` or `FAIL <step>: why` per step (a failed step skips the rest of its
scenario), then a summary line. Exit status: 0 all passed, 1 a step failed, 2 usage
error or an SDK without the client extension API.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal


def installed_mcp() -> str:
    try:
        return version("mcp")
    except PackageNotFoundError:
        return "none"


try:
    import anyio
    from mcp import Client, MCPError, StdioServerParameters
    from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
    from mcp.types import (
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        CallToolResult,
        EmptyResult,
        Request,
        RequestParams,
        Result,
        TaskStatus,
    )
except ImportError as missing:
    # The extension's models below subclass SDK types, so a wrong SDK stops here.
    print(f"needs mcp 2.x with mcp.client.extension; found mcp {installed_mcp()} ({missing})", file=sys.stderr)
    sys.exit(2)

EXTENSION = "io.modelcontextprotocol/tasks"
PROTOCOL = "2026-07-28"
QUICK = ("dispatch", {"agent": "api", "task": "say hi"})
TRANSPARENT = ("dispatch", {"agent": "api", "task": "say hello"})
SLOW = ("dispatch_session", {"agent": "slow", "task": "[fake:hang] wait"})
READ_TIMEOUT = 60
COMPLETE_TIMEOUT = 120
START_TIMEOUT = 30
CANCEL_TIMEOUT = 15
KILL_TIMEOUT = 15
CHECK_INTERVAL = 0.1
TERMINAL = ("completed", "failed", "cancelled")
FAKE_CLAUDE = Path(__file__).resolve().parents[2] / "fixtures" / "fake-claude"
AGENTS = ("api", "slow")


class CheckFailed(Exception):
    """A step's expectation did not hold."""


class ScenarioAborted(Exception):
    """A step failed; the rest of its scenario is skipped."""


def expect(condition: bool, why: str) -> None:
    if not condition:
        raise CheckFailed(why)


def describe(exc: BaseException) -> str:
    """One line for a failure: the first leaf of an exception group, MCP errors with their code."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.message}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    @contextmanager
    def step(self, name: str):
        try:
            yield
        except Exception as exc:
            self.fail(name, describe(exc))
            raise ScenarioAborted(name) from exc
        self.passed += 1
        print(f"ok {name}", flush=True)

    def fail(self, name: str, why: str) -> None:
        self.failed += 1
        print(f"FAIL {name}: {why}", flush=True)

    def summary(self) -> str:
        return f"sdk2-tasks-client: {self.passed} passed, {self.failed} failed"


# The extension's wire shapes, which mcp 2.3.0 does not model.


class ExtensionTask(Result):
    """The extension's Task: what a task handle and a tasks/get answer share."""

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class CreateTaskResult(ExtensionTask):
    """A tools/call answered with a task handle instead of its result."""

    result_type: Literal["task"]


class GetTaskResult(ExtensionTask):
    """A tasks/get answer: the task, with its result once completed or its error once failed."""

    result_type: Literal["complete"]
    result: CallToolResult | None = None
    error: dict[str, Any] | None = None


class TaskIdParams(RequestParams):
    task_id: str


class GetTaskRequest(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams
    name_param = "taskId"


class CancelTaskRequest(Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskIdParams
    name_param = "taskId"


async def get_task(client_session, task_id: str) -> GetTaskResult:
    return await client_session.send_request(GetTaskRequest(params=TaskIdParams(task_id=task_id)), GetTaskResult)


async def cancel_task(client_session, task_id: str) -> EmptyResult:
    return await client_session.send_request(CancelTaskRequest(params=TaskIdParams(task_id=task_id)), EmptyResult)


async def poll_task(client_session, task_id: str, wanted: str, timeout: float) -> GetTaskResult:
    """tasks/get at the server's pollIntervalMs until `wanted`; another terminal status fails."""
    with anyio.fail_after(timeout):
        while True:
            state = await get_task(client_session, task_id)
            if state.status == wanted:
                return state
            expect(
                state.status not in TERMINAL,
                f"task ended {state.status!r} ({state.status_message!r}, error {state.error!r}), want {wanted!r}",
            )
            await anyio.sleep((state.poll_interval_ms or 1000) / 1000)


async def resolve_task(created: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
    """The claim's resolver: poll the task to "completed" and hand back its inline result."""
    state = await poll_task(ctx.session, created.task_id, "completed", COMPLETE_TIMEOUT)
    expect(state.result is not None, f"completed task {created.task_id} carries no result")
    return state.result


class TasksExtension(ClientExtension):
    identifier = EXTENSION

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=resolve_task)]


# The server and its stand-in agent CLI.


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


def server_params(binary: str, home: Path, stand_in: StandIn) -> StdioServerParameters:
    """`<binary> serve` with HOME and an agents.yaml inside `home`, and `stand_in` first on PATH."""
    project = home / "projects" / "api"
    project.mkdir(parents=True)
    config = home / "agents.yaml"
    config.write_text("agents:\n" + "".join(f"  {name}:\n    directory: {project}\n" for name in AGENTS))
    env = {
        "AGENT_DISPATCH_CONFIG": str(config),
        "HOME": str(home),
        "PATH": f"{stand_in.bin}:/usr/bin:/bin",
        "FAKE_CLAUDE_RECORD": str(stand_in.records),
    }
    return StdioServerParameters(command=binary, args=["serve"], env=env)


async def poll(check, timeout: float):
    """`check()` every CHECK_INTERVAL s until it returns something other than None; None after `timeout` s."""
    with anyio.move_on_after(timeout):
        while (value := check()) is None:
            await anyio.sleep(CHECK_INTERVAL)
        return value
    return None


def gone(pid: int) -> bool | None:
    """True once no process has `pid`; None (not yet) while one does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return None


# The checks.


def check_discovered(client: Client) -> None:
    expect(client.protocol_version == PROTOCOL, f"protocol {client.protocol_version!r}, want {PROTOCOL!r}")
    extensions = client.server_capabilities.extensions or {}
    expect(EXTENSION in extensions, f"server capabilities.extensions lacks {EXTENSION!r}: {extensions!r}")


def check_success(result: CallToolResult | None) -> None:
    expect(result is not None, "no result")
    expect(not result.is_error, f"tool reported an error: {result.content!r}")
    expect(
        len(result.content) == 1 and result.content[0].type == "text",
        f"want one text content, got {result.content!r}",
    )
    payload = json.loads(result.content[0].text)
    expect(isinstance(payload, dict) and payload.get("success") is True, f"want success true in {payload!r}")


async def create_task(client: Client, tool: str, arguments: dict) -> str:
    created = await client.session.call_tool(tool, arguments, allow_claimed=True)
    expect(isinstance(created, CreateTaskResult), f"want a task, got {created!r}")
    expect(bool(created.task_id), "empty taskId")
    expect(created.status == "working", f"status {created.status!r}, want 'working'")
    expect(
        isinstance(created.poll_interval_ms, int) and created.poll_interval_ms > 0,
        f"pollIntervalMs {created.poll_interval_ms!r}",
    )
    return created.task_id


async def check_undeclared(params: StdioServerParameters, task_id: str) -> None:
    """tasks/get from a client without the extension must be refused with -32021."""
    async with Client(params, read_timeout_seconds=READ_TIMEOUT) as plain:
        try:
            answer = await get_task(plain.session, task_id)
        except MCPError as refused:
            expect(
                refused.code == MISSING_REQUIRED_CLIENT_CAPABILITY,
                f"error {refused.code} ({refused.message}), want {MISSING_REQUIRED_CLIENT_CAPABILITY}",
            )
            return
    raise CheckFailed(f"answered {answer!r}, want error {MISSING_REQUIRED_CLIENT_CAPABILITY}")


async def wait_for_hanging_run(stand_in: StandIn) -> int:
    pid = await poll(stand_in.hanging_pid, START_TIMEOUT)
    expect(pid is not None, f"the hanging run did not start within {START_TIMEOUT} s")
    return pid


async def check_status(client: Client, task_id: str, wanted: str) -> None:
    state = await get_task(client.session, task_id)
    expect(state.status == wanted, f"tasks/get says {state.status!r}, want {wanted!r}")


async def cancel(client: Client, task_id: str) -> None:
    ack = await cancel_task(client.session, task_id)
    expect(ack.result_type == "complete", f"tasks/cancel answered resultType {ack.result_type!r}")


async def wait_until_gone(pid: int) -> None:
    expect(await poll(lambda: gone(pid), KILL_TIMEOUT) is not None, f"the hanging run (pid {pid}) still lives")


# The scenarios.


async def completing_task(client: Client, params: StdioServerParameters, report: Report) -> None:
    with report.step("create"):
        task_id = await create_task(client, *QUICK)
    with report.step("complete"):
        state = await poll_task(client.session, task_id, "completed", COMPLETE_TIMEOUT)
    with report.step("result"):
        check_success(state.result)
    with report.step("undeclared"):
        await check_undeclared(params, task_id)
    with report.step("transparent"):
        check_success(await client.call_tool(*TRANSPARENT))


async def cancelled_task(client: Client, stand_in: StandIn, report: Report) -> None:
    with report.step("slow-create"):
        task_id = await create_task(client, *SLOW)
    with report.step("slow-working"):
        pid = await wait_for_hanging_run(stand_in)
        await check_status(client, task_id, "working")
    with report.step("cancel"):
        await cancel(client, task_id)
    with report.step("cancelled"):
        await poll_task(client.session, task_id, "cancelled", CANCEL_TIMEOUT)
    with report.step("killed"):
        await wait_until_gone(pid)


async def attempt(scenario) -> None:
    """Await one scenario; its failed step is already reported."""
    try:
        await scenario
    except ScenarioAborted:
        pass


async def run_scenarios(client: Client, params: StdioServerParameters, stand_in: StandIn, report: Report) -> None:
    try:
        with report.step("discover"):
            check_discovered(client)
    except ScenarioAborted:
        return
    await attempt(completing_task(client, params, report))
    await attempt(cancelled_task(client, stand_in, report))


async def run(binary: str, home: Path, report: Report) -> None:
    stand_in = StandIn(home)
    params = server_params(binary, home, stand_in)
    try:
        async with Client(params, extensions=[TasksExtension()], read_timeout_seconds=READ_TIMEOUT) as client:
            await run_scenarios(client, params, stand_in, report)
    except Exception as exc:
        report.fail("connection", describe(exc))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check agent-dispatch's tasks extension (2026-07-28) with the Python SDK 2.x client.",
    )
    parser.add_argument("binary", help="the agent-dispatch binary; it is started as `<binary> serve`")
    args = parser.parse_args(argv)
    found = shutil.which(args.binary)
    if found is None:
        parser.error(f"no executable at {args.binary!r}")
    args.binary = os.path.abspath(found)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="sdk2-tasks-client-") as home:
        anyio.run(run, args.binary, Path(home), report)
    print(report.summary())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
