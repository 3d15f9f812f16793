"""`nanotui acp`'s stdout is the protocol's alone, and a bad request gets a JSON-RPC error.

Raw pipes, no SDK on this side: every line the agent writes must parse as JSON-RPC.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from acp_support import WAIT_S, agent_environment


def test_stray_output_goes_to_stderr_once_stdout_is_the_protocols() -> None:
    script = (
        "import os, subprocess\n"
        "from nanotui.acp.stdio import take_stdout\n"
        "fd = take_stdout()\n"
        "print('a stray print')\n"
        "subprocess.run(['echo', 'a child process'])\n"
        "os.write(fd, b'{}\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT_S
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "{}\n"
    assert "a stray print" in done.stderr and "a child process" in done.stderr


def test_only_the_acp_command_imports_the_sdk() -> None:
    script = (
        "import sys\n"
        "from nanotui.cli.parser import build_parser\n"
        "build_parser().parse_args(['acp', '--help'])\n"
    )
    probe = "import atexit, sys; atexit.register(lambda: print('acp' in sys.modules))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe + script], capture_output=True, text=True, timeout=WAIT_S
    )
    assert "nanotui acp" in done.stdout
    assert done.stdout.rstrip().endswith("False"), done.stdout[-200:]


def test_a_malformed_request_gets_an_error_and_the_agent_goes_on(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    requests = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": 1}},
        {"jsonrpc": "2.0", "id": 1, "method": "session/prompt", "params": {"sessionId": 5}},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "session/new",
            "params": {"cwd": str(tmp_path), "mcpServers": []},
        },
    ]
    command = [sys.executable, "-m", "nanotui.cli.main", "acp", "--model", "m"]
    command += ["--base-url", "http://127.0.0.1:9/v1"]  # never called: no prompt is run
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=agent_environment(tmp_path / "home"),
        start_new_session=True,
    )
    # A hung agent is killed, which ends the reads below.
    watchdog = threading.Timer(WAIT_S, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    try:
        answers = [exchange(process, request) for request in requests]
        process.stdin.close()
        rest = process.stdout.read()
        err = process.stderr.read()
        process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert process.returncode == 0, err
    assert answers[0]["result"]["agentInfo"]["name"] == "nanotui"
    assert answers[1]["error"]["code"] == -32602  # invalid params, not a traceback
    assert answers[2]["result"]["sessionId"]
    assert rest == ""


def exchange(process: subprocess.Popen[str], request: dict) -> dict:
    """Send one request; its answer (every line the agent writes must be JSON-RPC)."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(request) + "\n")
    process.stdin.flush()
    answer = json.loads(process.stdout.readline())
    assert answer["id"] == request["id"]
    return answer
