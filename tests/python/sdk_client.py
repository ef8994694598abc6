"""Drive `agent-dispatch serve` with the official Python MCP SDK client.

Run by .ci/run inside a venv that has `mcp` installed:

    python tests/python/sdk_client.py target/debug/agent-dispatch

It builds a throwaway config with one agent, puts the stand-in claude
(fixtures/fake-claude) first on PATH, connects over stdio, lists the tools and
calls several. Any failure raises, so the process exits non-zero.
"""

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

EXPECTED_TOOLS = {
    "list_agents", "inspect_agent", "list_groups", "inspect_group",
    "dispatch", "dispatch_session", "dispatch_parallel", "dispatch_stream", "dispatch_dialogue",
    "add_agent", "update_agent", "remove_agent", "cache_stats", "cache_clear",
    "dispatch_async", "dispatch_status", "dispatch_wait", "dispatch_cancel", "dispatch_jobs",
    "fetch_result", "dispatch_gc",
}

REPO = Path(__file__).resolve().parents[2]


def field(model, snake: str, camel: str):
    """mcp 2.x names model fields in snake_case (server_info, is_error); 1.x in camelCase."""
    return getattr(model, snake) if hasattr(model, snake) else getattr(model, camel)


def is_error(result) -> bool:
    return bool(field(result, "is_error", "isError"))


def payload(result):
    assert len(result.content) == 1 and result.content[0].type == "text", result
    return json.loads(result.content[0].text)


async def run(binary: str, home: Path) -> None:
    project = home / "projects" / "api"
    project.mkdir(parents=True)
    (project / "CLAUDE.md").write_text("# API\nThe shop API.\n")
    bin_dir = home / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").symlink_to(REPO / "fixtures" / "fake-claude")
    config = home / "cfg" / "agents.yaml"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "AGENT_DISPATCH_CONFIG": str(config),
    }
    params = StdioServerParameters(command=binary, args=["serve"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert field(init, "server_info", "serverInfo").name == "agent-dispatch", init
            tools = await session.list_tools()
            names = {tool.name for tool in tools.tools}
            assert names == EXPECTED_TOOLS, f"tools differ: {names ^ EXPECTED_TOOLS}"
            print(f"tools/list: {len(names)} tools")

            added = await session.call_tool("add_agent", {"name": "api", "directory": str(project), "description": "Shop API"})
            assert not is_error(added), added
            assert payload(added)["added"] == "api"

            agents = await session.call_tool("list_agents", {})
            assert not is_error(agents), agents
            assert [a["name"] for a in payload(agents)] == ["api"]

            inspected = await session.call_tool("inspect_agent", {"name": "api", "preview_lines": 5})
            assert payload(inspected)["claude_md_preview"].startswith("# API"), inspected

            answer = await session.call_tool("dispatch", {"agent": "api", "task": "Count the orders", "caller": "sdk-test"})
            result = payload(answer)
            assert not is_error(answer) and result["success"] and result["result"] == "fake answer", result

            again = await session.call_tool("dispatch", {"agent": "api", "task": "Count the orders", "caller": "sdk-test"})
            assert payload(again).get("cached") is True, again

            stats = payload(await session.call_tool("cache_stats", {}))
            assert stats["hits"] == 1 and stats["size"] == 1, stats

            job = payload(await session.call_tool("dispatch_async", {"agent": "api", "task": "In the background"}))
            waited = payload(await session.call_tool("dispatch_wait", {"job_id": job["job_id"], "timeout_seconds": 60}))
            assert waited["status"] == "done" and waited["result"]["result"] == "fake answer", waited

            unknown = await session.call_tool("dispatch", {"agent": "nope", "task": "x"})
            assert is_error(unknown) and "Unknown agent" in payload(unknown)["error"], unknown
            print("list_agents, inspect_agent, dispatch, cache_stats, dispatch_async, dispatch_wait: ok")


def main() -> None:
    binary = str(Path(sys.argv[1]).resolve())
    with tempfile.TemporaryDirectory() as home:
        asyncio.run(run(binary, Path(home)))
    print("sdk-client: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
