"""What a hook adds to a tool call: one pre_tool hook run, against the same command run bare
in the same sandbox.

The figure is the median time of `HookRunner.pre_tool` with one hook, `cat >/dev/null`,
which reads its input and goes on: the input built, handed over through the environment
and a pipe, the sandboxed run, the answer read and the `hook_ran` event made. The anchor is
the runner's own `run("cat >/dev/null")` with the same settings: what any sandboxed command
costs here. Both take turns in blocks of ten, from one event loop, after a warm-up; `big`
repeats the hook with a 200 KB argument (a whole file for write_file).

    python bench/hooks.py [--runs 100]

Prints one JSON object. The target: a hook costs at most 10 ms more than the anchor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from nanotui.config import HookConfig, SandboxConfig
from nanotui.engine.hooks import HookRunner
from nanotui.protocol.model_io import ToolCall
from nanotui.security.sandbox.choose import make_runner
from nanotui.security.secrets.redaction import session_redactor

BLOCK = 10
TARGET_EXTRA_MS = 10.0
COMMAND = "cat >/dev/null"


async def _timed(variants: dict[str, Callable[[], Awaitable[object]]], runs: int) -> dict:
    times: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        await run()  # warm-up
    while len(times[next(iter(times))]) < runs:
        for name, run in variants.items():
            for _ in range(BLOCK):
                start = time.perf_counter()
                await run()
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


async def main(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        runner = make_runner(SandboxConfig(), workspace)
        hooks = HookRunner(
            [HookConfig(event="pre_tool", command=COMMAND)],
            runner,
            workspace,
            "bench",
            session_redactor(),
        )
        call = ToolCall(id="c1", name="run_command", arguments='{"command": "ls"}')
        big = {"path": "a.txt", "content": "x" * 200_000}

        async def anchor() -> None:
            await runner.run(COMMAND, cwd=workspace, timeout_s=30, max_output_bytes=65_536)

        async def hook() -> None:
            verdict = await hooks.pre_tool(call, {"command": "ls"}, lambda _: None, mode="ask")
            assert not verdict.blocked, verdict.reason

        async def big_hook() -> None:
            verdict = await hooks.pre_tool(call, big, lambda _: None, mode="ask")
            assert not verdict.blocked, verdict.reason

        medians = await _timed({"anchor": anchor, "hook": hook, "big": big_hook}, runs)
        extra = medians["hook"] - medians["anchor"]
        return {
            "backend": runner.backend,
            "runs": runs,
            "hook_ms": round(medians["hook"], 2),
            "anchor_ms": round(medians["anchor"], 2),
            "hook_extra_ms": round(extra, 2),
            "big_input_hook_ms": round(medians["big"], 2),
            "target": {"hook_extra_ms_at_most": TARGET_EXTRA_MS, "met": extra <= TARGET_EXTRA_MS},
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    print(json.dumps(asyncio.run(main(parser.parse_args().runs))))
