"""An MCP server in a session: its processes end with the session that started them, and
with nanotui itself when it is killed; a changed tool accepted in the app is offered again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fake_model_server import openai_reply, stalled_reply
from mcp_support import make_repo, offered, server_toml, user_config
from tools_support import process_alive

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_session
from nanotui.protocol.events import ToolResult
from nanotui.security.sandbox.process_reaper import descendants_of
from nanotui.tools.mcp.pins import PinStore, ToolDefinition


def wait_until_gone(pids: list[int], within_s: float = 10.0) -> list[int]:
    """The pids still alive after `within_s` (bounded: a leak fails, it does not hang)."""
    deadline = time.monotonic() + within_s
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if process_alive(pid)]


def kill_leftovers(nanotui: subprocess.Popen[bytes], pids: list[int]) -> None:
    """Whatever a test failed on: the stand-in for nanotui's group, and each pid still alive."""
    if nanotui.poll() is None:
        os.killpg(nanotui.pid, signal.SIGKILL)
        nanotui.wait(timeout=10)
    for pid in pids:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def described(pids: list[int]) -> list[str]:
    """What each pid is, for a failure: its name, state, parent and signal masks."""
    wanted = ("Name", "State", "PPid", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
    lines = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError as exc:
            lines.append(f"{pid}: {exc.strerror}")
            continue
        fields = [line.replace("\t", " ") for line in status if line.startswith(wanted)]
        lines.append(f"{pid}: {'; '.join(fields)}")
    return lines


async def test_the_servers_processes_end_with_the_session(fake_server, tmp_path, home) -> None:
    repo = make_repo(tmp_path)
    user_config(home, server_toml())
    flags = {"provider": {"base_url": fake_server.openai_base_url, "model": "m"}}
    settings = load_settings(repo, flags).settings
    session = build_session(settings, repo)
    fake_server.enqueue(openai_reply(text="Hello."))
    try:
        async for _ in session.turn("hi"):
            pass
        hub = session.local_agent.mcp
        assert hub is not None and hub.status()[0].state == "running"
        process = hub.connections["t"].process
        assert process is not None
        pids = [process.pid, *descendants_of(process.pid)]
        assert len(pids) > 1  # the sandbox and the server in it
    finally:
        await session.close()
    assert wait_until_gone(pids, within_s=0) == []


STARTER = """
import asyncio, json, sys, threading, time
from pathlib import Path
from nanotui.config import SandboxConfig
from nanotui.security.sandbox.choose import make_runner
from nanotui.security.sandbox.long_lived import start_long_lived
from nanotui.security.sandbox.process_reaper import descendants_of

# Threads, as nanotui has: killed, a parent hands its children from thread to thread as
# each exits, and each hand-over sends them its death signal again.
for _ in range(8):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()

async def main():
    workspace, backend = Path(sys.argv[1]), sys.argv[2]
    runner = make_runner(SandboxConfig(backend=backend), workspace)
    # Stubborn: deaf to its stdin closing and to SIGHUP and SIGTERM, and with a child.
    stubborn = ["sh", "-c", "trap '' HUP TERM; sleep 60 & sleep 60"]
    # Bounded, as is the wait below: on failure this ends, and the test reads end-of-file.
    process = await asyncio.wait_for(start_long_lived(runner.launch(stubborn, cwd=workspace)), 30)
    deadline = time.monotonic() + 10
    while len(descendants_of(process.pid)) < 3:
        if time.monotonic() > deadline:
            sys.exit("the program did not start its child")
        await asyncio.sleep(0.02)
    print(json.dumps([process.pid, *descendants_of(process.pid)]), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""
ROUNDS = {"bwrap": 2, "landlock": 10}
"""Before the stop handler raised only once, a later death signal cut the Landlock reaper's
sweep short in a fifth to a half of the rounds: ten catch that nearly always. bwrap dies of
the first one (SIGKILL)."""


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
def test_a_long_lived_sandboxed_program_ends_when_nanotui_is_killed(
    tmp_path: Path, backend: str
) -> None:
    # What an MCP server runs as: bwrap dies with its parent (--die-with-parent) and its
    # PID namespace with it; the Landlock launcher's reaper hears its parent die, once for
    # each of the parent's threads, and the first time must be enough.
    repo = make_repo(tmp_path)
    for _ in range(ROUNDS[backend]):
        nanotui = subprocess.Popen(
            [sys.executable, "-c", STARTER, str(repo), backend],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        pids: list[int] = []
        try:
            assert nanotui.stdout is not None
            line = nanotui.stdout.readline()
            assert line, "the program did not start in the sandbox"
            pids = json.loads(line)
            assert len(pids) >= 3 and all(process_alive(pid) for pid in pids)
            nanotui.kill()  # SIGKILL: no clean-up of its own runs
            nanotui.wait(timeout=10)
            left = wait_until_gone(pids)
            assert left == [], described(pids)
        finally:
            kill_leftovers(nanotui, pids)


def test_nanotui_killed_mid_turn_leaves_nothing_of_its_landlock_server(
    fake_server, tmp_path: Path, home: Path, marker: str
) -> None:
    """The attack for real: `nanotui run` itself, an MCP server started under Landlock,
    killed outright while the model answers. The server leaves a helper deaf to its stdin
    closing and to SIGHUP and SIGTERM: only the reaper ends it. (The race of the death
    signals coming again, above, needs more threads than `run` has to show often.)"""
    repo = make_repo(tmp_path)
    helper = f"trap '' HUP TERM; sleep 60.{marker} &"
    user_config(home, server_toml(shell_first=helper), '[sandbox]\nbackend = "landlock"\n')
    fake_server.enqueue(stalled_reply(openai_reply(text="Hello."), after_events=1, stall_s=60))
    argv = ["run", "hi", "--json", "--workspace", str(repo), "--model", "m"]
    with (tmp_path / "out").open("w") as out:
        nanotui = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nanotui.cli.main",
                *argv,
                "--base-url",
                fake_server.openai_base_url,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not fake_server.requests and nanotui.poll() is None:
            assert time.monotonic() < deadline, "nanotui never asked the model"
            time.sleep(0.05)
        assert nanotui.poll() is None, (tmp_path / "out").read_text()
        pids = descendants_of(nanotui.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids]
        assert any(b"mcp_test_server.py" in command for command in commands), commands
        assert any(f"sleep\x0060.{marker}".encode() in command for command in commands)
        assert len(os.listdir(f"/proc/{nanotui.pid}/task")) > 1  # threads, as the premise
        nanotui.kill()
        nanotui.wait(timeout=10)
        assert wait_until_gone(pids) == [], described(pids)
    finally:
        kill_leftovers(nanotui, pids)


async def test_accepting_in_the_app_offers_what_was_shown_from_the_next_step(
    fake_server, tmp_path, home
) -> None:
    repo = make_repo(tmp_path)
    user_config(home, server_toml(), policy={"allow": ["mcp:t/*"]})
    # The definition approved earlier said something else (the server's other tools were
    # never approved: they are new).
    PinStore(repo).pin("t", [ToolDefinition("evolving", "Says hello.", {})])
    flags = {"provider": {"base_url": fake_server.openai_base_url, "model": "m"}}
    session = build_session(load_settings(repo, flags).settings, repo)
    fake_server.enqueue(
        openai_reply(text="Hello."),
        openai_reply(tool_calls=[("mcp__t__evolving", {"text": "hi"})]),
        openai_reply(text="Done."),
    )
    try:
        async for _ in session.turn("hi"):
            pass
        assert "mcp__t__evolving" not in offered(fake_server.requests[0])
        [server] = session.mcp_servers()
        waiting = {tool.name: tool for tool in server.tools if tool.unapproved}
        assert len(waiting) == len(server.tools) and "changed" in waiting["evolving"].unapproved

        # What was shown is what is accepted: a definition that changed since is not.
        older = ToolDefinition("evolving", "Older.", {}).digest
        stale = session.accept_mcp_tools("t", [replace(waiting["evolving"], digest=older)])
        assert "Accepted 0 new or changed definitions of t." in stale.text
        notice = session.accept_mcp_tools("t", list(waiting.values()))
        assert "Accepted 6 new or changed definitions of t (mcp:t/lookup, " in notice.text

        results = [e async for e in session.turn("again") if isinstance(e, ToolResult)]
        assert "mcp__t__evolving" in offered(fake_server.requests[1])
        [result] = results
        assert result.ok and "echo: hi" in result.content
        assert session.log_path is not None and notice.text in session.log_path.read_text()
    finally:
        await session.close()


async def test_a_servers_read_folders_are_shown_to_it_read_only_under_bwrap(tmp_path) -> None:
    """bwrap's private /tmp hides a server installed under /tmp (a fresh clone's virtual
    environment) until its `read` names the folder; shown, it is still read-only."""
    from nanotui.config import SandboxConfig
    from nanotui.security.sandbox.choose import make_runner
    from nanotui.security.sandbox.long_lived import start_long_lived

    workspace, installed = tmp_path / "ws", tmp_path / "installed"
    workspace.mkdir()
    installed.mkdir()
    (installed / "server.txt").write_text("here\n")
    runner = make_runner(SandboxConfig(backend="bwrap", require=True), workspace)
    probe = ["sh", "-c", f"cat {installed}/server.txt; touch {installed}/x 2>/dev/null || echo ro"]

    async def output(read: list[Path]) -> str:
        process = await start_long_lived(runner.launch(probe, cwd=workspace, read=read))
        try:
            return (await asyncio.wait_for(process.stdout.read(), 10)).decode()
        finally:
            await process.aclose()

    assert await output([]) == "ro\n"  # no file to read, nothing to write to
    assert await output([installed]) == "here\nro\n"
    assert not (installed / "x").exists()


def test_read_takes_absolute_paths_outside_the_home_folders() -> None:
    from pydantic import ValidationError

    from nanotui.config import McpServerConfig

    assert McpServerConfig(command="s", read=["/opt/server"]).read == ["/opt/server"]
    for entry, said in [("venv", "absolute"), (str(Path.home() / ".venv"), "home_allow")]:
        with pytest.raises(ValidationError, match=said):
            McpServerConfig(command="s", read=[entry])
