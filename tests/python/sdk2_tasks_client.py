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

It starts `<binary> serve` over stdio in the throwaway HOME that task_client_support.py
sets up (that module also holds the step report and the process checks this script shares
with sdk_tasks_client.py): agents `api` and `slow`, and fixtures/fake-claude first on PATH
as `claude`, so no real CLI is ever run. The stand-in's `[fake:hang]` run never ends; its
recorded runs tell when that run has started and that the cancel stopped it.

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

import sys
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

from task_client_support import (
    CheckFailed,
    Report,
    ScenarioAborted,
    StandIn,
    attempt,
    expect,
    parse_binary,
    run_checks,
    server_env,
    text_json,
    wait_for_hanging_run,
    wait_until_gone,
)

EXTENSION = "io.modelcontextprotocol/tasks"
PROTOCOL = "2026-07-28"
QUICK = ("dispatch", {"agent": "api", "task": "say hi"})
TRANSPARENT = ("dispatch", {"agent": "api", "task": "say hello"})
SLOW = ("dispatch_session", {"agent": "slow", "task": "[fake:hang] wait"})
READ_TIMEOUT = 60
COMPLETE_TIMEOUT = 120
CANCEL_TIMEOUT = 15
TERMINAL = ("completed", "failed", "cancelled")


def mcp_error(exc: BaseException) -> tuple[int, str] | None:
    """An MCPError's code and message; None for any other exception."""
    return (exc.code, exc.message) if isinstance(exc, MCPError) else None


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


# The checks.


def check_discovered(client: Client) -> None:
    expect(client.protocol_version == PROTOCOL, f"protocol {client.protocol_version!r}, want {PROTOCOL!r}")
    extensions = client.server_capabilities.extensions or {}
    expect(EXTENSION in extensions, f"server capabilities.extensions lacks {EXTENSION!r}: {extensions!r}")


def check_success(result: CallToolResult | None) -> None:
    expect(result is not None, "no result")
    expect(not result.is_error, f"tool reported an error: {result.content!r}")
    payload = text_json(result.content)
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


async def check_status(client: Client, task_id: str, wanted: str) -> None:
    state = await get_task(client.session, task_id)
    expect(state.status == wanted, f"tasks/get says {state.status!r}, want {wanted!r}")


async def cancel(client: Client, task_id: str) -> None:
    ack = await cancel_task(client.session, task_id)
    expect(ack.result_type == "complete", f"tasks/cancel answered resultType {ack.result_type!r}")


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
    params = StdioServerParameters(command=binary, args=["serve"], env=server_env(home, stand_in))
    try:
        async with Client(params, extensions=[TasksExtension()], read_timeout_seconds=READ_TIMEOUT) as client:
            await run_scenarios(client, params, stand_in, report)
    except Exception as exc:
        report.fail("connection", exc)


def main(argv: list[str]) -> int:
    binary = parse_binary(argv, "Check agent-dispatch's tasks extension (2026-07-28) with the Python SDK 2.x client.")
    return run_checks("sdk2-tasks-client", mcp_error, lambda home, report: anyio.run(run, binary, home, report))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
