"""The session log: appends per second, and verify and show on a 100,000-event log.

Appends go through the real `SessionLog` (redaction, the hash chain, a flush per event)
with the event mix of a working session: streamed text, tool calls and results, usage,
and an fsync at every turn end (one turn per 50 events here) and every approval. Then
`audit verify` (`verify_log`) and `audit show` (the readable timeline, written to a
throw-away stream) are timed on the log just written. Verifying's peak memory is taken in a
fresh interpreter, on that log and on one a tenth as long written the same way: what it adds
to an interpreter that only imported the code must not grow with the log. Targets: verify
under 1 s, and in constant memory (the long log's extra within `CONSTANT_SLACK_MB` of the
short one's).

    python bench/audit.py [--events 100000]

Prints one JSON object. Runs in a temporary NANOTUI_HOME.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_VERIFY_S = 1.0
CONSTANT_SLACK_MB = 1.0
"""How much more the long log's verify may take than the short one's (allocator noise;
at 100,000 events the log is 4 MB, so holding it whole would not fit in this)."""
TURN_EVENTS = 50


def session_events(count: int) -> list[Any]:
    """`count` events shaped like a real session's, in a realistic order."""
    from nanotui.protocol.events import (
        ApprovalResolved,
        TextDelta,
        ToolResult,
        ToolStarted,
        TurnFinished,
        UsageReported,
        UserMessage,
    )
    from nanotui.protocol.model_io import Usage

    content = "def handler(request):\n    return respond(request.body)\n" * 10
    cycle = [
        lambda n: UserMessage(text=f"step {n}: make the tests pass"),
        *[lambda n: TextDelta(text="reading the failing test ") for _ in range(20)],
        lambda n: ToolStarted(call_id=f"c{n}", tool="read_file", summary="src/app.py"),
        lambda n: ToolResult(call_id=f"c{n}", tool="read_file", ok=True, content=content),
        lambda n: ApprovalResolved(call_id=f"c{n}", decision="approve", by="user"),
        lambda n: UsageReported(usage=Usage(input_tokens=1200, output_tokens=80), model="m"),
    ]
    events: list[Any] = []
    n = 0
    while len(events) < count:
        n += 1
        for make in cycle:
            events.append(make(n))
        events.extend(TextDelta(text="and so on ") for _ in range(TURN_EVENTS - len(cycle) - 1))
        events.append(TurnFinished(status="done", steps=1))
    return events[:count]


PEAK = """
import sys
from pathlib import Path
from nanotui.governance.audit_chain import verify_log
if sys.argv[2] == "verify":
    assert verify_log(Path(sys.argv[1])).ok
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM")))
"""


def peak_mb(path: Path, *, verify: bool) -> float:
    """The peak resident memory (VmHWM: getrusage's maxrss would keep the bench's own, which
    an exec does not reset) of a fresh interpreter that verifies the log (or not)."""
    argv = [sys.executable, "-c", PEAK, str(path), "verify" if verify else "import"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return round(int(done.stdout.strip()) / 1024, 1)


def main(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nanotui-audit-bench-") as home:
        os.environ["NANOTUI_HOME"] = home
        from nanotui.cli.audit_commands import show
        from nanotui.governance.audit_chain import verify_log

        events = session_events(count)
        started = time.perf_counter()
        path = written_log("bench", events)
        append_s = time.perf_counter() - started
        short_path = written_log("bench-short", session_events(max(count // 10, 1)))

        started = time.perf_counter()
        verdict = verify_log(path)
        verify_s = time.perf_counter() - started

        started = time.perf_counter()
        show(path, io.StringIO())
        show_s = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        verify_peak_mb, bare_peak_mb = peak_mb(path, verify=True), peak_mb(path, verify=False)
        short_peak_mb = peak_mb(short_path, verify=True)
    extra_mb = round(verify_peak_mb - bare_peak_mb, 1)
    short_extra_mb = round(short_peak_mb - bare_peak_mb, 1)
    constant = extra_mb <= short_extra_mb + CONSTANT_SLACK_MB
    return {
        "events": count,
        "log_mb": round(size_mb, 1),
        "appends_per_s": round(count / append_s),
        "verify_s": round(verify_s, 3),
        "verify_ok": verdict.ok,
        "show_s": round(show_s, 3),
        # In a fresh interpreter: what verifying adds to one that only imported the code.
        "verify_peak_rss_mb": verify_peak_mb,
        "interpreter_peak_rss_mb": bare_peak_mb,
        "verify_extra_mb": extra_mb,
        # The anchor: the same on a log a tenth as long, in the same run.
        "tenth_as_long_verify_extra_mb": short_extra_mb,
        "target_verify_s": TARGET_VERIFY_S,
        "target_constant_memory_slack_mb": CONSTANT_SLACK_MB,
        "constant_memory": constant,
        "pass": verdict.ok and verify_s < TARGET_VERIFY_S and constant,
    }


def written_log(session: str, events: list[Any]) -> Path:
    """`events` appended one by one through the real `SessionLog`; the log's path."""
    from nanotui.governance.audit import SessionLog

    log = SessionLog(session)
    for event in events:
        log.append(event)
    log.close()
    return Path(log.path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    print(json.dumps(main(parser.parse_args().events)))
