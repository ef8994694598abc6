"""Drive `agent-dispatch serve` with the Python MCP SDK 2.x client (`mcp>=2`).

    python tests/python/sdk2_client.py target/debug/agent-dispatch [MODE ...]

MODE is one of
  auto     `mcp.Client(..., mode="auto")`, the SDK's default: it sends `server/discover`
           (protocol 2026-07-28, in `_meta`) first, which we answer, so it stays on
           2026-07-28 with no handshake (it would fall back to `initialize` on an error);
  legacy   `mcp.Client(..., mode="legacy")`: the `initialize` handshake only (2025-11-25);
  session  the low-level `ClientSession(read, write)` + `initialize()`, as 1.x code does;
  modern   `mode="2026-07-28"`: no handshake and no discover, every request carries the
           version in `_meta`.
Default: all four. Each mode must end on the protocol it is expected to speak.

Each mode starts its own server with a throwaway config holding one agent (`api`, an
existing directory), lists the tools (expects the 21 below), calls `list_agents`
(expects a JSON text content naming `api`). It prints one line per mode and a closing
"sdk2-client: N passed, N failed" line, and exits non-zero if any mode failed.

Variables whose names start with MCP_TAP_ or AGENT_DISPATCH_ are passed on to the
server, so a logging wrapper can stand in for the binary:
    MCP_TAP_LOG=/tmp/t.log MCP_TAP_SERVER=target/debug/agent-dispatch \\
        python tests/python/sdk2_client.py /path/to/mcp-tap.sh
"""

import asyncio
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

import mcp
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

EXPECTED_TOOLS = {
    "list_agents", "inspect_agent", "list_groups", "inspect_group",
    "dispatch", "dispatch_session", "dispatch_parallel", "dispatch_stream", "dispatch_dialogue",
    "add_agent", "update_agent", "remove_agent", "cache_stats", "cache_clear",
    "dispatch_async", "dispatch_status", "dispatch_wait", "dispatch_cancel", "dispatch_jobs",
    "fetch_result", "dispatch_gc",
}
# The protocol each mode must end on.
MODES = {"auto": "2026-07-28", "legacy": "2025-11-25", "session": "2025-11-25", "modern": "2026-07-28"}
TIMEOUT = 60


def server_params(binary: str, home: Path) -> StdioServerParameters:
    project = home / "projects" / "api"
    project.mkdir(parents=True, exist_ok=True)
    config = home / "agents.yaml"
    config.write_text(f"agents:\n  api:\n    directory: {project}\n    description: Shop API\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "AGENT_DISPATCH_CONFIG": str(config)}
    env.update({k: v for k, v in os.environ.items() if k.startswith(("MCP_TAP_", "AGENT_DISPATCH_")) and k != "AGENT_DISPATCH_CONFIG"})
    return StdioServerParameters(command=binary, args=["serve"], env=env)


def text_json(result) -> object:
    # 2.x names the field is_error (1.x: isError); both parse the same wire field.
    assert not result.is_error, f"tool reported an error: {result}"
    assert len(result.content) == 1 and result.content[0].type == "text", f"want one text content: {result}"
    return json.loads(result.content[0].text)


async def check(list_tools, call_tool) -> str:
    tools = await list_tools()
    names = {tool.name for tool in tools.tools}
    assert names == EXPECTED_TOOLS, f"tools/list differs: extra {sorted(names - EXPECTED_TOOLS)}, missing {sorted(EXPECTED_TOOLS - names)}"
    agents = text_json(await call_tool("list_agents", {}))
    assert isinstance(agents, list) and [a["name"] for a in agents] == ["api"], f"list_agents: {agents}"
    return f"{len(names)} tools, list_agents -> {[a['name'] for a in agents]}"


async def run_mode(mode: str, params: StdioServerParameters) -> str:
    if mode == "session":
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                assert init.server_info.name == "agent-dispatch", init
                assert init.protocol_version == MODES[mode], f"protocol {init.protocol_version}"
                summary = await check(session.list_tools, session.call_tool)
                return f"protocol {init.protocol_version}, {summary}"
    client_mode = "2026-07-28" if mode == "modern" else mode
    async with mcp.Client(params, mode=client_mode, read_timeout_seconds=TIMEOUT) as client:
        info = client.server_info
        if client_mode in ("auto", "legacy"):
            assert info is not None and info.name == "agent-dispatch", f"server_info: {info}"
        era = "initialize" if client.session.initialize_result is not None else ("discover" if mode == "auto" else "no handshake")
        assert client.protocol_version == MODES[mode], f"protocol {client.protocol_version} via {era}"
        summary = await check(client.list_tools, client.call_tool)
        return f"protocol {client.protocol_version} via {era}, {summary}"


def describe(exc: BaseException) -> str:
    # anyio task groups wrap failures in ExceptionGroups; show the leaves.
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    code = getattr(getattr(exc, "error", None), "code", None)
    return f"{type(exc).__name__}{f' [{code}]' if code is not None else ''}: {exc}"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not hasattr(mcp, "Client"):
        print(f"sdk2-client needs mcp>=2 (mcp.Client); this is mcp {_dist_version()}", file=sys.stderr)
        return 2
    binary = sys.argv[1]
    binary = str(Path(binary).resolve()) if os.sep in binary else binary
    modes = sys.argv[2:] or list(MODES)
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"unknown mode(s) {unknown}; choose from {list(MODES)}", file=sys.stderr)
        return 2
    print(f"mcp {getattr(mcp, '__version__', None) or _dist_version()} against {binary}")
    passed = failed = 0
    for mode in modes:
        with tempfile.TemporaryDirectory() as home:
            try:
                outcome = asyncio.run(asyncio.wait_for(run_mode(mode, server_params(binary, Path(home))), TIMEOUT))
            except BaseException as exc:  # noqa: BLE001 - report every failure, keep going
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failed += 1
                print(f"FAIL {mode}: {describe(exc)}")
                if os.environ.get("SDK2_CLIENT_TRACE"):
                    traceback.print_exception(exc)
            else:
                passed += 1
                print(f"ok   {mode}: {outcome}")
    print(f"sdk2-client: {passed} passed, {failed} failed")
    return 1 if failed else 0


def _dist_version() -> str:
    from importlib.metadata import version
    return version("mcp")


if __name__ == "__main__":
    sys.exit(main())
