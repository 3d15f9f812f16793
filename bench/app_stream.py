"""Streaming as users get it: the real app in a real terminal, a long reply end to end.

`nanotui` runs in a pseudo-terminal (120x40) against the scripted model server (a process of
its own), which sends a reply of TOKENS four-character fragments of realistic Markdown
(bench/tui_stream.py makes them) as fast as the app reads them. The clock runs from the Enter
that sends the prompt to the moment the reply's last word is on the terminal; the longest
silence of the terminal in that time is the worst stall a user could see (the app draws at
most 120 frames a second, so a gap over 50 ms is the app not keeping up). The anchor is a
bare Textual app in the same terminal streaming the same fragments into Textual's own
`Markdown` through `MarkdownStream`, timed the same way. Runs alternate; medians are reported
with the target, and each run's worst stall.

    python bench/app_stream.py [--tokens 20000] [--runs 3]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import itertools
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from tui_stream import reply_fragments  # noqa: E402

TARGET_TOKENS_PER_S = 2000
TARGET_MAX_STALL_MS = 50
END = "ZZQENDOFREPLYQZZ"
READY = "Type a request"
COLUMNS, LINES = 120, 40
DEADLINE_S = 180


class Terminal:
    """A program in a pseudo-terminal, its output read and timed as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(LINES)},
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""
        self.writes: list[float] = []
        self.ends: list[int] = []
        """Where in `seen` each write ended, beside its time in `writes`."""

    def wait_for(self, text: str, deadline_s: float = DEADLINE_S) -> float:
        """Read until `text` has appeared; the time it was first seen."""
        end = time.perf_counter() + deadline_s
        while text not in self.seen[-200_000:]:
            left = end - time.perf_counter()
            if left <= 0 or self.process.poll() is not None:
                raise RuntimeError(f"{text!r} never appeared on the terminal")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    continue
                now = time.perf_counter()
                self.writes.append(now)
                self.seen += data.decode("utf-8", errors="replace")
                self.ends.append(len(self.seen))
                if text in self.seen[-200_000:]:
                    return now
        return time.perf_counter()

    def type(self, keys: str) -> float:
        os.write(self.master, keys.encode())
        return time.perf_counter()

    def worst_gap(self, start: float, end: float) -> tuple[float, float]:
        """The longest silence of the terminal between `start` and `end`, in ms, and where
        it began, as a share of the whole (0: at once, 1: at the end)."""
        times = [start, *[t for t in self.writes if start <= t <= end], end]
        gap, at = max((b - a, a) for a, b in itertools.pairwise(times))
        return 1000 * gap, (at - start) / max(end - start, 1e-9)

    def first_showing(self, text: str, after: float) -> float | None:
        """When `text` was first written to the terminal after the moment `after`."""
        start = 0
        for when, end in zip(self.writes, self.ends, strict=True):
            # A text split between this write and the last one is found in this one.
            if when >= after and text in self.seen[max(start - len(text) + 1, 0) : end]:
                return when
            start = end
        return None

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        os.close(self.master)


def answered_trust(home: Path, workspace: Path) -> None:
    """Record that the folder's trust question was answered (no): the first start asks it."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from nanotui.engine.startup import "
            "decline_trust; decline_trust(Path(sys.argv[1]))",
            str(workspace),
        ],
        env={**os.environ, "NANOTUI_HOME": str(home)},
        check=True,
    )


TURN_DONE = "QTURNDONE"
"""Ends each earlier turn's reply, with the turn's number and a Z (turn 1's is not turn 12's)."""

SERVE = """
import sys
reply, turns, done = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path[:0] = sys.argv[4:]
from fake_model_server import FakeModelServer, openai_reply
said = "I changed the three files and checked them. " * 8 + "\\n\\n- one\\n- two\\n\\n"
with FakeModelServer() as model:
    for turn in range(turns):
        files = [(f"t{turn}_{n}.py", f"n = {n}\\n") for n in range(3)]
        calls = [("write_file", {"path": path, "content": text}) for path, text in files]
        model.enqueue(openai_reply("", tool_calls=calls))
        model.enqueue(openai_reply(f"{said}{done}{turn}Z", chunk_size=16))
    model.enqueue(openai_reply(open(reply).read(), chunk_size=4))
    print(model.openai_base_url, flush=True)
    sys.stdin.read()  # serves until the bench closes this pipe
"""


@contextlib.contextmanager
def server_process(script: str, *args: str) -> Iterator[str]:
    """A model server `script` run in a process of its own, which prints its base URL first;
    yields that URL, and kills the process after. In the bench's process, a server thread
    would hold the interpreter lock against the loop that reads and times the terminal."""
    server = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the app hanging up at the end is no news
        text=True,
    )
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.kill()
        server.wait(timeout=10)


@contextlib.contextmanager
def model_server(reply: str, tmp: Path, turns: int = 0) -> Iterator[str]:
    """The scripted model server: `turns` earlier turns (three writes and a short reply
    each), then `reply` in four-character pieces."""
    text = tmp / "reply.txt"
    text.write_text(reply)
    paths = (str(ROOT / "tests"), str(ROOT / "bench"))
    with server_process(SERVE, str(text), str(turns), TURN_DONE, *paths) as url:
        yield url


LONG_REPLIES_CONFIG = "[provider]\nmax_output_tokens = 32000\n"
"""The app cuts a reply at twice max_output_tokens (a model that never stops): room for it."""


def app_in_terminal(base_url: str, workspace: Path, home: Path, *options: str) -> Terminal:
    """`nanotui` in a terminal, on the scripted model at `base_url`, working in `workspace`
    with NANOTUI_HOME `home`; `options` go on its command line."""
    argv = [
        str(Path(sys.executable).parent / "nanotui"),
        *("--base-url", base_url, "--model", "bench-model", "--workspace", str(workspace)),
        *options,
    ]
    return Terminal(argv, {**os.environ, "NANOTUI_HOME": str(home)}, workspace)


def run_app(fragments: list[str], tmp: Path, turns: int = 0) -> dict[str, float]:
    """The app streaming the reply, in a fresh session or after `turns` earlier turns (in a
    git repository, as a session of work has them: each turn writes three files, so it
    leaves its checkpoints, a prompt, three tool calls and a reply on the screen)."""
    home, workspace = tmp / "home", tmp / "ws"
    home.mkdir(parents=True, exist_ok=True)
    workspace.mkdir(parents=True, exist_ok=True)
    answered_trust(home, workspace)
    config, options = LONG_REPLIES_CONFIG, ()
    if turns:
        subprocess.run(["git", "init", "-q", str(workspace)], check=True)
        # The earlier turns' requests come faster than the default 60 a minute allows.
        config += "[rate_limit]\nrequests_per_minute = 0\n"
        options = ("--mode", "auto-edit")
    (home / "config.toml").write_text(config)
    with model_server("".join(fragments) + f"\n\n{END}\n", tmp, turns) as base_url:
        terminal = app_in_terminal(base_url, workspace, home, *options)
        try:
            terminal.wait_for(READY)
            time.sleep(0.3)  # the welcome settles
            for turn in range(turns):
                terminal.type(f"turn {turn}\r")
                terminal.wait_for(f"{TURN_DONE}{turn}Z")
            if turns:
                time.sleep(1.0)  # the last turn's end settles (its garbage is collected)
            sent = terminal.type("stream\r")
            done = terminal.wait_for(END)
            stall, at = terminal.worst_gap(sent, done)
            return {"seconds": done - sent, "stall_ms": stall, "stall_at": at}
        finally:
            terminal.close()


ANCHOR = """
import sys, asyncio, json
from textual.app import App
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream
fragments = json.load(open(sys.argv[1]))
class Anchor(App):
    def compose(self):
        yield Static("ready: Type a request")
        yield Markdown()
    async def on_key(self, event):
        if event.key != "enter":
            return
        stream = MarkdownStream(self.query_one(Markdown))
        stream.start()
        for fragment in fragments:
            await stream.write(fragment)
            await asyncio.sleep(0)
        await stream.stop()
        self.query_one(Static).update(sys.argv[2])
Anchor().run()
"""


def run_anchor(fragments: list[str], tmp: Path) -> dict[str, float]:
    script, data = tmp / "anchor.py", tmp / "fragments.json"
    script.write_text(ANCHOR)
    data.write_text(json.dumps(fragments))
    terminal = Terminal([sys.executable, str(script), str(data), END], dict(os.environ), tmp)
    try:
        terminal.wait_for(READY)
        time.sleep(0.3)
        sent = terminal.type("\r")
        done = terminal.wait_for(END)
        stall, at = terminal.worst_gap(sent, done)
        return {"seconds": done - sent, "stall_ms": stall, "stall_at": at}
    finally:
        terminal.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--turns",
        type=int,
        default=0,
        help="also stream after this many earlier turns (each three writes and a reply)",
    )
    args = parser.parse_args()
    fragments = reply_fragments(args.tokens)
    app: list[dict[str, float]] = []
    anchor: list[dict[str, float]] = []
    later: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            app.append(run_app(fragments, Path(folder) / f"app{run}"))
            anchor.append(run_anchor(fragments, Path(folder)))
            if args.turns:
                later.append(run_app(fragments, Path(folder) / f"later{run}", args.turns))

    def figures(runs: list[dict[str, float]]) -> dict[str, float]:
        seconds = statistics.median(r["seconds"] for r in runs)
        return {
            "tokens_per_s": round(args.tokens / seconds),
            "tokens_per_s_runs": [round(args.tokens / r["seconds"]) for r in runs],
            "worst_stall_ms": round(max(r["stall_ms"] for r in runs), 1),
            "stall_ms_runs": [round(r["stall_ms"], 1) for r in runs],
            "worst_stall_at": [round(r["stall_at"], 2) for r in runs],
        }

    def met(figures: dict[str, float]) -> bool:
        return (
            figures["tokens_per_s"] >= TARGET_TOKENS_PER_S
            and figures["worst_stall_ms"] <= TARGET_MAX_STALL_MS
        )

    mine, theirs = figures(app), figures(anchor)
    report: dict[str, object] = {
        "tokens": args.tokens,
        "runs": args.runs,
        "app": mine,
        "anchor_markdown_stream": theirs,
        "app_vs_anchor": round(mine["tokens_per_s"] / theirs["tokens_per_s"], 2),
        "target": {
            "tokens_per_s": TARGET_TOKENS_PER_S,
            "max_stall_ms": TARGET_MAX_STALL_MS,
            "met": met(mine),
        },
    }
    if later:
        # Its anchor is the fresh session above, in the same run.
        after = figures(later)
        report["app_after_turns"] = {"turns": args.turns, **after}
        report["after_turns_vs_fresh"] = round(after["tokens_per_s"] / mine["tokens_per_s"], 2)
        report["target"]["met_after_turns"] = met(after)  # type: ignore[index]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
