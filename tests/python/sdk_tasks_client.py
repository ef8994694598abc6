"""Drive agent-dispatch's MCP tasks (protocol 2025-11-25, SEP-1686) with the Python SDK's own task client.

    python tests/python/sdk_tasks_client.py <agent-dispatch binary>

Run it with the mcp 1.x venv (~/.cache/agent-dispatch-ci/python-mcp, `mcp<2`): only 1.x
ships a client for tasks, `ClientSession.experimental` (`call_tool_as_task`, `get_task`,
`poll_task`, `get_task_result`, `list_tasks`, `cancel_task`; deprecated in 1.x, its
warning is silenced here). mcp 2.x removed it: 2.3.0 keeps the task types, but its
`tools/call` result validation rejects a `CreateTaskResult`, so under 2.x this script
exits 2 before starting the server (tests/python/sdk2_tasks_client.py covers 2.x, over the
2026-07-28 tasks extension). No JSON-RPC is written by hand: every request, result and
notification below is the SDK's.

It starts `<binary> serve` over stdio in the throwaway HOME that task_client_support.py
sets up (that module also holds the step report and the process checks this script shares
with sdk2_tasks_client.py): agents `api` and `slow`, and fixtures/fake-claude first on PATH
as `claude`, so no real CLI is ever run. The stand-in's `[fake:hang]` run never ends; its
recorded runs tell when that run has started and that the cancel stopped it. To the
server's environment the SDK stdio client adds its own defaults: LOGNAME, SHELL, TERM, USER.

The script checks what a task-aware client relies on:

  initialize     the handshake succeeds (protocol 2025-11-25);
  capability     the server advertises tasks.requests.tools.call and `dispatch` declares
                 execution.taskSupport "optional" or "required"; without both a conforming
                 client never asks for a task;
  create         tools/call dispatch {"agent": "api", "task": "say hi"} with params.task
                 answers a CreateTaskResult: a task id, status "working";
  list           tasks/list names that task;
  complete       tasks/get, polled at the server's pollInterval, reaches "completed";
  result         tasks/result returns a CallToolResult with one text content whose JSON
                 has "success": true;
  related-task   that result's _meta "io.modelcontextprotocol/related-task" names the task;
  notified       a notifications/tasks/status "completed" arrives for it (the spec says a
                 server MAY send these; this one sends one whenever a task ends);
  slow-create    a second task, {"agent": "slow", "task": "[fake:hang] wait"}, whose run
                 never ends by itself, is created;
  slow-working   once the stand-in's hanging run has started, tasks/get says "working" (a
                 queued job is "working" too, so the run itself is awaited first);
  cancel         tasks/cancel answers the task with status "cancelled";
  killed         the hanging run's process is gone;
  cancelled      tasks/get then says "cancelled";
  slow-notified  a notifications/tasks/status "cancelled" arrives for it.

Waiting for both notifications before closing also keeps clear of an mcp 1.x stdio client
race (python-sdk issue #1960): a message arriving while the client tears down raises
BrokenResourceError there, reported here as a `connection` failure. After a failed step
the server may still send one (it fails the tasks it was running when its stdin closes),
so a `FAIL connection: BrokenResourceError` line can follow a real failure.

It prints `ok <step>` or `FAIL <step>: why` per step (a failed step skips the rest of its
scenario), then a summary line. Exit status: 0 all passed, 1 a step failed, 2 usage
error or an SDK without the task API.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import aclosing
from datetime import timedelta
from pathlib import Path

try:
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.experimental.tasks import ExperimentalClientFeatures
    from mcp.client.stdio import stdio_client
    from mcp.shared.exceptions import McpError
    from mcp.types import CallToolResult, ServerNotification, TaskStatusNotification
except ImportError as missing:
    SDK_PROBLEM = str(missing)
else:
    SDK_PROBLEM = None

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

TOOL = "dispatch"
QUICK_TASK = {"agent": "api", "task": "say hi"}
SLOW_TASK = {"agent": "slow", "task": "[fake:hang] wait"}
TTL_MS = 60_000
READ_TIMEOUT = timedelta(seconds=60)
COMPLETE_TIMEOUT = 120
NOTIFY_TIMEOUT = 15
RELATED_TASK_KEY = "io.modelcontextprotocol/related-task"


def mcp_error(exc: BaseException) -> tuple[int, str] | None:
    """An McpError's code and message (1.x keeps them in its ErrorData); None for any other exception."""
    return (exc.error.code, exc.error.message) if isinstance(exc, McpError) else None


class StatusNotifications:
    """The notifications/tasks/status received, as one event per (task id, status)."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], anyio.Event] = {}

    def _event(self, task_id: str, status: str) -> anyio.Event:
        return self._events.setdefault((task_id, status), anyio.Event())

    async def handle(self, message) -> None:
        """A ClientSession message_handler: note task status notifications, ignore the rest."""
        if isinstance(message, ServerNotification) and isinstance(message.root, TaskStatusNotification):
            self._event(message.root.params.taskId, message.root.params.status).set()

    async def expect(self, task_id: str, status: str) -> None:
        with anyio.move_on_after(NOTIFY_TIMEOUT):
            await self._event(task_id, status).wait()
            return
        raise CheckFailed(f"no notifications/tasks/status {status!r} within {NOTIFY_TIMEOUT} s")


def tasks(session: ClientSession) -> ExperimentalClientFeatures:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return session.experimental


def dispatch_payload(result: CallToolResult) -> dict:
    expect(not result.isError, f"tool reported an error: {result.content!r}")
    payload = text_json(result.content)
    expect(isinstance(payload, dict), f"want a JSON object, got {payload!r}")
    return payload


async def check_capability(session: ClientSession, init) -> None:
    requests = init.capabilities.tasks.requests if init.capabilities.tasks else None
    call = requests.tools.call if requests and requests.tools else None
    expect(call is not None, f"no tasks.requests.tools.call in capabilities {init.capabilities!r}")
    listed = await session.list_tools()
    tool = next((t for t in listed.tools if t.name == TOOL), None)
    expect(tool is not None, f"tools/list has no {TOOL!r}")
    support = tool.execution.taskSupport if tool.execution else None
    expect(support in ("optional", "required"), f"{TOOL!r} has execution.taskSupport {support!r}")


async def create_task(session: ClientSession, arguments: dict) -> str:
    created = await tasks(session).call_tool_as_task(TOOL, arguments, ttl=TTL_MS)
    expect(bool(created.task.taskId), "empty taskId")
    expect(created.task.status == "working", f"status {created.task.status!r}, want 'working'")
    return created.task.taskId


async def wait_for_status(session: ClientSession, task_id: str, wanted: str, timeout: float) -> None:
    """Poll tasks/get (at the server's pollInterval) until `wanted`; a different terminal status fails."""
    last = None
    with anyio.fail_after(timeout):
        async with aclosing(tasks(session).poll_task(task_id)) as statuses:
            async for last in statuses:
                if last.status == wanted:
                    return
    raise CheckFailed(f"task ended {last.status!r} ({last.statusMessage!r}), want {wanted!r}")


async def check_listed(session: ClientSession, task_id: str) -> None:
    listed = await tasks(session).list_tasks()
    expect(any(t.taskId == task_id for t in listed.tasks), f"tasks/list lacks {task_id}")


async def fetch_result(session: ClientSession, task_id: str) -> CallToolResult:
    result = await tasks(session).get_task_result(task_id, CallToolResult)
    payload = dispatch_payload(result)
    expect(payload.get("success") is True, f"success is {payload.get('success')!r} in {payload!r}")
    return result


def check_related_task(result: CallToolResult, task_id: str) -> None:
    related = (result.meta or {}).get(RELATED_TASK_KEY)
    expect(isinstance(related, dict) and related.get("taskId") == task_id, f"_meta {RELATED_TASK_KEY!r} is {related!r}")


async def check_status(session: ClientSession, task_id: str, wanted: str) -> None:
    status = await tasks(session).get_task(task_id)
    expect(status.status == wanted, f"tasks/get says {status.status!r}, want {wanted!r}")


async def cancel(session: ClientSession, task_id: str) -> None:
    cancelled = await tasks(session).cancel_task(task_id)
    expect(cancelled.taskId == task_id, f"tasks/cancel answered task {cancelled.taskId!r}")
    expect(cancelled.status == "cancelled", f"tasks/cancel answered status {cancelled.status!r}")


async def completing_task(session: ClientSession, notes: StatusNotifications, report: Report) -> None:
    with report.step("create"):
        task_id = await create_task(session, QUICK_TASK)
    with report.step("list"):
        await check_listed(session, task_id)
    with report.step("complete"):
        await wait_for_status(session, task_id, "completed", COMPLETE_TIMEOUT)
    with report.step("result"):
        result = await fetch_result(session, task_id)
    with report.step("related-task"):
        check_related_task(result, task_id)
    with report.step("notified"):
        await notes.expect(task_id, "completed")


async def cancelled_task(session: ClientSession, notes: StatusNotifications, stand_in: StandIn, report: Report) -> None:
    with report.step("slow-create"):
        task_id = await create_task(session, SLOW_TASK)
    with report.step("slow-working"):
        pid = await wait_for_hanging_run(stand_in)
        await check_status(session, task_id, "working")
    with report.step("cancel"):
        await cancel(session, task_id)
    with report.step("killed"):
        await wait_until_gone(pid)
    with report.step("cancelled"):
        await check_status(session, task_id, "cancelled")
    with report.step("slow-notified"):
        await notes.expect(task_id, "cancelled")


async def capability(session: ClientSession, report: Report, init) -> None:
    with report.step("capability"):
        await check_capability(session, init)


async def run_scenarios(session: ClientSession, notes: StatusNotifications, stand_in: StandIn, report: Report) -> None:
    try:
        with report.step("initialize"):
            init = await session.initialize()
    except ScenarioAborted:
        return
    await attempt(capability(session, report, init))
    await attempt(completing_task(session, notes, report))
    await attempt(cancelled_task(session, notes, stand_in, report))


async def run(binary: str, home: Path, report: Report) -> None:
    stand_in = StandIn(home)
    params = StdioServerParameters(command=binary, args=["serve"], env=server_env(home, stand_in))
    notes = StatusNotifications()
    try:
        async with stdio_client(params) as (read, write):
            async with ClientSession(
                read, write, read_timeout_seconds=READ_TIMEOUT, message_handler=notes.handle
            ) as session:
                await run_scenarios(session, notes, stand_in, report)
    except Exception as exc:
        report.fail("connection", exc)


def main(argv: list[str]) -> int:
    binary = parse_binary(argv, "Check agent-dispatch's MCP tasks (2025-11-25) with the Python SDK 1.x task client.")
    if SDK_PROBLEM is not None:
        print(f"this mcp SDK has no client task API ({SDK_PROBLEM}); use the mcp 1.x venv", file=sys.stderr)
        return 2
    return run_checks("sdk-tasks-client", mcp_error, lambda home, report: anyio.run(run, binary, home, report))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
