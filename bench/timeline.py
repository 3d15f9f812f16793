"""The audit timeline on a large session: first frame, scroll to the end, filter, search.

Writes a session log of 100,000 events (or `--events`) through the real `SessionLog` (every
one of them a timeline row: prompts, replies, tool calls and results, policy decisions and
refusals, approvals, usage and cost, checkpoints, notices, errors, turn ends; no streamed
text, which gets no row), then opens it in the real `TimelineScreen` in a headless app at
120x40 and times, from the moment the screen is pushed:

- `first_frame_s`: until a frame holding the first rows is drawn;
- `scroll_end_s`: from pressing End (as soon as the first frame is there) until a frame
  holding the session's last row is drawn (the rest of the log is still being indexed);
- `all_rows_s`: until every row is in the list (indexed: number, time, type, kind;
  summaries are read as rows are drawn or searched);
- `filter_s`: from pressing 3 (policy refusals) until the filtered rows are drawn, and
  `filter_all_s` until the filter is done (the count no longer says "filtering…");
- `search_s`: from typing the last letter of a word until its first matches are drawn
  (after the search box's 0.15 s pause), and `search_all_s` until the search is done.

The anchor, `anchor_filter_s`, is the same refusals filter as a plain reader makes it on the
same log in the same run: every line parsed and described. `peak_rss_mb` is the process's
peak resident memory (the app's: the log is written a turn at a time).

Targets: first frame, scroll to the end, first filter and first search **under 1 s** each.

    python bench/timeline.py [--events 100000]

Prints one JSON object. Runs in a temporary NANOTUI_HOME.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TARGET_S = 1.0
TARGETED = ("first_frame_s", "scroll_end_s", "filter_s", "search_s")
SIZE = (120, 40)


def session_events(count: int) -> Iterator[Any]:
    """`count` events of a working session, each one a timeline row, in a realistic order
    (made a turn at a time: a million of them at once would be gigabytes)."""
    from nanotui.protocol.events import (
        ApprovalRequested,
        ApprovalResolved,
        AssistantMessage,
        CheckpointCreated,
        CostUpdated,
        ErrorEvent,
        Notice,
        PolicyDecision,
        ToolCallProposed,
        ToolResult,
        ToolStarted,
        TurnFinished,
        UsageReported,
        UserMessage,
    )
    from nanotui.protocol.model_io import ToolCall, Usage

    content = "def handler(request):\n    return respond(request.body)\n" * 10
    usage = Usage(input_tokens=1200, output_tokens=80)

    def turn(n: int) -> list[Any]:
        read, run, fetch = f"r{n}", f"c{n}", f"f{n}"
        call = ToolCall(id=read, name="read_file", arguments='{"path": "src/app.py"}')
        events = [
            UserMessage(text=f"step {n}: make the tests pass"),
            CheckpointCreated(checkpoint=f"{n:040x}", reason="before turn", files=3),
            AssistantMessage(text="Reading the failing test first.", tool_calls=[call]),
            ToolCallProposed(call_id=read, tool="read_file", arguments="{}", summary="src/app.py"),
            PolicyDecision(call_id=read, tool="read_file", decision="allow", reasons=["read"]),
            ToolStarted(call_id=read, tool="read_file", summary="src/app.py"),
            ToolResult(call_id=read, tool="read_file", ok=True, content=content),
            UsageReported(usage=usage, model="m"),
            CostUpdated(
                request_usd=0.0012, session_usd=0.0012 * n, session_usage=usage, priced=True
            ),
            ToolCallProposed(call_id=run, tool="run_command", arguments="{}", summary="pytest -q"),
            PolicyDecision(
                call_id=run, tool="run_command", decision="ask", reasons=["ask: pytest"]
            ),
            ApprovalRequested(
                call_id=run,
                tool="run_command",
                kind="command",
                summary="pytest -q",
                command="pytest -q",
                shown_sha256="0" * 64,
            ),
            ApprovalResolved(call_id=run, decision="approve", by="user"),
            ToolStarted(call_id=run, tool="run_command", summary="pytest -q"),
            ToolResult(call_id=run, tool="run_command", ok=False, content="1 failed, 41 passed"),
            ToolCallProposed(call_id=fetch, tool="run_command", arguments="{}", summary="curl x"),
            PolicyDecision(call_id=fetch, tool="run_command", decision="deny", reasons=["curl"]),
            ToolResult(call_id=fetch, tool="run_command", ok=False, refused=True, content="no"),
            Notice(level="warning", text="the session has spent 80% of its budget"),
        ]
        if n % 10 == 0:
            events.append(ErrorEvent(text="the model server closed the connection"))
        events.append(TurnFinished(status="done", steps=3))
        return events

    made = 0
    n = 0
    while made < count:
        n += 1
        events = turn(n)[: count - made]
        made += len(events)
        yield from events


def write_log(count: int) -> Path:
    """The session log of `count` events, written by the real `SessionLog` (the hash chain,
    the anchor, the fsyncs) but without the hunt for secrets, which is most of an append's
    cost and finds nothing in these events: a million of them are written in about a minute
    rather than three."""
    from nanotui.governance.audit import SessionLog
    from nanotui.security.secrets.redaction import Redactor

    class NothingToRedact(Redactor):
        def redact_nested(self, value: Any) -> tuple[Any, list[str]]:
            return value, []

    log = SessionLog(
        "bench-timeline",
        redactor=NothingToRedact(),
        header={"workspace": "/bench", "model": "m"},
    )
    for event in session_events(count - 2):  # the header and session_closed make the rest
        log.append(event)
    log.close()
    return Path(log.path)


async def measure(path: Path, count: int) -> dict[str, Any]:
    from textual.app import App

    from nanotui.engine.session_logs import verify_session_log
    from nanotui.tui.app import NanotuiApp
    from nanotui.tui.screens.timeline import TimelineScreen
    from nanotui.tui.widgets.event_list import EventList
    from nanotui.tui.widgets.timeline_pane import TimelinePane

    drawn: dict[str, float] = {}
    watch: dict[str, Any] = {}
    original = EventList.render_line

    def render_line(self: EventList, y: int) -> Any:
        strip = original(self, y)
        row = round(self.scroll_y) + y
        shown = self.model.shown
        if row < len(shown):
            for name, wanted in list(watch.items()):
                if wanted(self, shown[row]):
                    drawn.setdefault(name, time.perf_counter())
                    del watch[name]
        return strip

    EventList.render_line = render_line  # type: ignore[method-assign]
    original_add = TimelinePane.add_rows

    def add_rows(self: TimelinePane, rows: Any) -> None:
        original_add(self, rows)
        if len(self.model.rows) == count:
            drawn.setdefault("all_rows", time.perf_counter())

    TimelinePane.add_rows = add_rows  # type: ignore[method-assign]
    # A filter is done when the pane's count stops saying "filtering…" (timed here, not
    # after `pilot.press` returns: a press waits for the process to be idle, up to a second
    # or two while the badge verifies the log on its thread).
    finished: dict[str, Any] = {}
    original_count = TimelinePane._show_count

    def show_count(self: TimelinePane) -> None:
        original_count(self)
        for name, wanted in list(finished.items()):
            if not self.filtering and wanted(self):
                drawn.setdefault(name, time.perf_counter())
                del finished[name]

    TimelinePane._show_count = show_count  # type: ignore[method-assign]

    class TimelineBench(App[None]):
        CSS_PATH = NanotuiApp.CSS_PATH

    async def until(name: str, timeout: float = 60) -> float:
        deadline = time.perf_counter() + timeout
        while name not in drawn:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no frame for {name}")
            await asyncio.sleep(0.001)
        return drawn[name]

    app = TimelineBench()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = TimelineScreen(
            path, title="Timeline · bench", verify=verify_session_log, follow=False
        )
        watch["first"] = lambda _list, index: index == 0
        opened = time.perf_counter()
        app.push_screen(screen)
        first_frame_s = await until("first") - opened
        pane = screen.query_one(TimelinePane)

        # The last row of the session (the rest of the log may still be coming in).
        watch["end"] = lambda _list, index: index == count - 1
        pressed = time.perf_counter()
        await pilot.press("end")
        scroll_end_s = await until("end") - pressed
        all_rows_s = await until("all_rows") - opened

        rows = len(pane.model.rows)
        refused = {"refused"}
        watch["filter"] = lambda event_list, index: (
            len(event_list.model.shown) < rows and event_list.model.rows[index].kind in refused
        )
        finished["filter_done"] = lambda pane: pane.model.kind_filter.name == "refusals"
        pressed = time.perf_counter()
        await pilot.press("3")
        filter_s = await until("filter") - pressed
        filter_all_s = await until("filter_done") - pressed
        refusals = len(pane.model.shown)

        await pilot.press("0")
        await pilot.press("slash")
        watch["search"] = lambda event_list, index: (
            event_list.model.text == "pytest"
            and "pytest" in (event_list.model.rows[index].summary or "")
        )
        await pilot.press(*"pytes")
        finished["search_done"] = lambda pane: pane.model.text == "pytest"
        pressed = time.perf_counter()
        await pilot.press("t")
        search_s = await until("search") - pressed
        search_all_s = await until("search_done") - pressed
        matches = len(pane.model.shown)
        badge = screen.query_one("#timeline-badge")
        while badge.verdict is None:  # type: ignore[attr-defined]
            await pilot.pause(0.05)
        verified = badge.verdict.ok  # type: ignore[attr-defined]
    EventList.render_line = original  # type: ignore[method-assign]
    TimelinePane.add_rows = original_add  # type: ignore[method-assign]
    TimelinePane._show_count = original_count  # type: ignore[method-assign]
    return {
        "rows": rows,
        "first_frame_s": round(first_frame_s, 3),
        "scroll_end_s": round(scroll_end_s, 3),
        "all_rows_s": round(all_rows_s, 3),
        "filter_s": round(filter_s, 3),
        "filter_all_s": round(filter_all_s, 3),
        "filter_rows": refusals,
        "search_s": round(search_s, 3),
        "search_all_s": round(search_all_s, 3),
        "search_rows": matches,
        "verified": verified,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM): the app's, since writing the log holds
    one turn of events at a time."""
    status = Path("/proc/self/status").read_text().splitlines()
    return round(int(next(line.split()[1] for line in status if line.startswith("VmHWM"))) / 1024)


def anchor_filter(path: Path) -> tuple[float, int]:
    """The anchor: the refusals filter as a plain reader makes it, every line parsed and
    described (what the timeline's first filter did before it read kinds from the index);
    the seconds it takes and the rows it keeps."""
    from nanotui.protocol.event_summary import SKIPPED_TYPES, describe_line

    started = time.perf_counter()
    kept = 0
    with path.open("rb") as handle:
        for line in handle:
            record = json.loads(line)
            if record["type"] in SKIPPED_TYPES:
                continue
            kind, _ = describe_line(record["type"], record.get("payload"), 240)
            kept += kind == "refused"
    return time.perf_counter() - started, kept


def main(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nanotui-timeline-bench-") as home:
        os.environ["NANOTUI_HOME"] = home
        started = time.perf_counter()
        path = write_log(count)
        write_s = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        result = asyncio.run(measure(path, count))
        anchor_s, anchor_rows = anchor_filter(path)
    assert anchor_rows == result["filter_rows"], "the filter and its anchor disagree"
    return {
        "events": count,
        "log_mb": round(size_mb, 1),
        "write_s": round(write_s, 1),
        **result,
        "anchor_filter_s": round(anchor_s, 3),
        "target_s": TARGET_S,
        "pass": all(result[name] < TARGET_S for name in TARGETED),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    print(json.dumps(main(parser.parse_args().events)))
