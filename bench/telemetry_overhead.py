"""What telemetry aimed at a dead collector costs a session's turns, against telemetry off.

Two real agents (the assembly's, logged, with checkpoints) work in one git repository
against the scripted model server, in one process and one event loop: one with telemetry
off, one with `[telemetry] enabled = true` and its endpoint a closed port on 127.0.0.1, so
every export fails (refused, retried, given up) on the SDK's threads while the turns run.
Each turn is the shape of a real one: a streamed reply of 400 fragments asking for two tool
calls (a file read and a command in the sandbox), then a streamed answer; so it makes the
spans, the metrics and the many small events of a stream. The agents take turns in blocks
of five, so a busy moment on the machine hits both alike. The anchor is telemetry off,
measured in the same run.

    python bench/telemetry_overhead.py [--turns 60]

Prints one JSON object: the median turn time of each, the overhead in percent, how long the
process's exit flush took with the collector dead, and the target (under 5 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_model_server import FakeModelServer, RecordedRequest, Reply, openai_reply  # noqa: E402

TARGET_PERCENT = 5.0
BLOCK = 5
FRAGMENTS = 400


def closed_port() -> int:
    """A port nothing listens on: bound, then let go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scripted(request: RecordedRequest) -> Reply:
    """Tool calls first; once the conversation holds their results, the answer."""
    if any(message.get("role") == "tool" for message in request.body["messages"][-2:]):
        return openai_reply(text="All done. " * (FRAGMENTS // 4), chunk_size=10)
    return openai_reply(
        text="Let me look. " * (FRAGMENTS // 4),
        chunk_size=13,
        tool_calls=[("read_file", {"path": "app.py"}), ("run_command", {"command": "ls"})],
        usage=dict(prompt=1200, completion=80),
    )


def make_repository(folder: Path) -> Path:
    repo = folder / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("def answer():\n    return 42\n" * 50)
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=repo, check=True)
    return repo


async def one_turn(agent) -> float:
    started = time.perf_counter()
    async for event in agent.turn("look at app.py and list the files"):
        if event.type == "turn_finished":
            assert event.status == "done", event
    return time.perf_counter() - started


async def measure(turns: int, server: FakeModelServer, repo: Path) -> dict[str, object]:
    from nanotui.config import Settings
    from nanotui.engine.assembly import build_agent
    from nanotui.telemetry.exporting import running_telemetry

    def settings(telemetry: dict) -> Settings:
        return Settings(
            provider={"base_url": server.openai_base_url, "model": "bench-model"},
            approval={"mode": "full-auto"},
            rate_limit={"requests_per_minute": 0},
            budget={"session_usd": 1000, "day_usd": 1000},
            telemetry=telemetry,
        )

    dead = f"http://127.0.0.1:{closed_port()}"
    agents = {
        "off": build_agent(settings({}), repo),
        "dead_collector": build_agent(settings({"enabled": True, "endpoint": dead}), repo),
    }
    assert agents["dead_collector"].observers and not agents["off"].observers
    times: dict[str, list[float]] = {name: [] for name in agents}
    for agent in agents.values():
        for _ in range(2):
            await one_turn(agent)  # warm-up: imports, the sandbox's first start
    for _ in range(0, turns, BLOCK):
        for name, agent in agents.items():
            for _ in range(BLOCK):
                times[name].append(await one_turn(agent))
    for agent in agents.values():
        agent.close()
    telemetry = running_telemetry()
    assert telemetry is not None
    flush_started = time.perf_counter()
    telemetry.shutdown()
    flush_s = time.perf_counter() - flush_started
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    overhead = 100 * (medians["dead_collector"] - medians["off"]) / medians["off"]
    return {
        "turns": turns,
        "median_turn_ms": {name: round(ms, 2) for name, ms in medians.items()},
        "anchor": "off",
        "overhead_percent": round(overhead, 2),
        "exit_flush_ms_dead_collector": round(flush_s * 1000, 1),
        "target_overhead_percent": TARGET_PERCENT,
        "target_met": overhead < TARGET_PERCENT,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nanotui-bench-") as folder:
        os.environ["NANOTUI_HOME"] = str(Path(folder) / "home")
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
            os.environ.pop(name, None)
        repo = make_repository(Path(folder))
        with FakeModelServer() as server:
            server.responder = scripted
            result = asyncio.run(measure(args.turns, server, repo))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
