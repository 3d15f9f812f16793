"""The full-screen app on a server session against the same app running the engine here.

Used by bench/serve_load.py. Both are the real `LaunchApp`, driven headless by Textual's
Pilot in this process, on the same scripted model server: locally with the provider given
as flags, remotely with `ServerTarget` on a running `nanotui serve`. Runs alternate between
the two. For each it measures

- first frame: from starting the app until its first screen is drawn;
- ready: until the main screen is up with its session (locally: settings, provider,
  agent; remotely: a session made on the server);
- streaming: a reply of STREAM_CHARS characters in small chunks, from Enter to the end of
  the turn, as characters per second shown.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

from fake_model_server import FakeModelServer, openai_reply
from pilot_support import main_screen, send, wait_for

from nanotui.client.remote_session import ServerTarget
from nanotui.tui.launch import LaunchApp

STREAM_CHARS = 20_000
CHUNK = 8
SIZE = (120, 40)


async def _measure(app: LaunchApp, model: FakeModelServer) -> dict[str, float]:
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        first_frame = time.perf_counter() - started
        # Not a query of its own: the screen is switched to before its widgets are composed,
        # and a query then failed the run (and shut the app down mid-compose).
        screen = await main_screen(pilot, timeout=60)
        ready = time.perf_counter() - started
        asked = len(model.requests)
        sent = time.perf_counter()
        await send(pilot, "stream")

        def turn_over() -> bool:
            return len(model.requests) > asked and not screen.busy

        await wait_for(pilot, turn_over, "the turn to end", timeout=120)
        streamed = time.perf_counter() - sent
    return {"first_frame_s": first_frame, "ready_s": ready, "stream_s": streamed}


TARGET_FIRST_FRAME_LATER_S = 0.2
"""The app on a server session draws its first frame at most this much later than locally."""
TARGET_STREAMING_VS_LOCAL = 0.8
"""...and streams a long reply at least this share of the local rate."""


def _reply() -> object:
    text = "".join(f"token{i:05d} " for i in range(STREAM_CHARS // 10))
    return openai_reply(text=text, chunk_size=CHUNK, usage=dict(prompt=100, completion=5000))


def compare_apps(
    tmp: Path, model: FakeModelServer, url: str, token: str, *, runs: int
) -> dict[str, object]:
    """Local and remote, `runs` each, alternating; medians and the ratios the issue sets
    targets for (first frame within 0.2 s of local; streaming at least 80% of local)."""
    workspace = tmp / "app-local"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("notes\n")
    flags = {
        "provider": {"base_url": model.openai_base_url, "model": "bench-model"},
        "approval": {"mode": "ask"},
        "rate_limit": {"requests_per_minute": 0},
    }
    saved_home = os.environ.get("NANOTUI_HOME")
    os.environ["NANOTUI_HOME"] = str(tmp / "app-home")
    figures: dict[str, list[dict[str, float]]] = {"local": [], "remote": []}
    try:
        for _ in range(runs):
            model.enqueue(_reply())
            local = LaunchApp(workspace, flags=flags, trusted=True)
            figures["local"].append(asyncio.run(_measure(local, model)))
            model.enqueue(_reply())
            target = ServerTarget(url=url, token=token, project="web", mode="ask")
            figures["remote"].append(
                asyncio.run(_measure(LaunchApp(workspace, server=target), model))
            )
    finally:
        if saved_home is None:
            os.environ.pop("NANOTUI_HOME", None)
        else:
            os.environ["NANOTUI_HOME"] = saved_home

    def median(where: str, key: str) -> float:
        return statistics.median(run[key] for run in figures[where])

    result: dict[str, object] = {"runs": runs, "stream_chars": STREAM_CHARS}
    for where in ("local", "remote"):
        result[where] = {
            "first_frame_s": round(median(where, "first_frame_s"), 3),
            "ready_s": round(median(where, "ready_s"), 3),
            "stream_chars_per_s": round(STREAM_CHARS / median(where, "stream_s")),
        }
    local_stream = median("local", "stream_s")
    result["first_frame_later_than_local_s"] = round(
        median("remote", "first_frame_s") - median("local", "first_frame_s"), 3
    )
    result["streaming_rate_vs_local"] = round(local_stream / median("remote", "stream_s"), 2)
    result["target"] = {
        "first_frame_later_than_local_s": TARGET_FIRST_FRAME_LATER_S,
        "streaming_rate_vs_local": TARGET_STREAMING_VS_LOCAL,
        "met": result["first_frame_later_than_local_s"] <= TARGET_FIRST_FRAME_LATER_S
        and result["streaming_rate_vs_local"] >= TARGET_STREAMING_VS_LOCAL,
    }
    return result
