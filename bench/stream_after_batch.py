"""A long reply streamed right after a batch, while the next checkpoint's tree is built.

As a batch of tool calls ends, the agent builds the next checkpoint's tree on a thread
(`SafetyNet.build_ahead`) while the model answers: in a large repository that is git work
beside a reply that may be streaming fast. This times that reply as users see it.

`nanotui` runs in a pseudo-terminal (120x40, `--mode auto-edit`) in a generated repository
of FILES files (`checkpoint.py`'s), against the scripted model server in a process of its
own. The model's first reply asks for five `write_file` calls in one batch; its second is
TOKENS four-character fragments of Markdown (`tui_stream.py`'s), sent as fast as the app
reads them; each of its prose paragraphs starts with a mark (code, lists and tables are
left as they are). `first_words_ms` runs from the moment the server starts sending that
reply (it writes the time to a file) to the first frame that shows a mark: the build ahead
(0.1-0.25 s at 50k files) and the screen catching up with the batch's five tool calls both
fall in it. From then to the reply's last words, `tokens_per_s` is the rate it streamed at
and the longest silence of the terminal the worst stall a user could see. The anchor is
the same session with checkpoints off (`[checkpoints] enabled = false`): no checkpoint, no
build ahead. Runs alternate; medians are reported, and each run's figures.

    python bench/stream_after_batch.py [--files 50000] [--tokens 20000] [--runs 4]

Prints one JSON object. Runs in temporary folders (NANOTUI_HOME among them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from app_stream import (  # noqa: E402
    END,
    LONG_REPLIES_CONFIG,
    READY,
    TARGET_MAX_STALL_MS,
    answered_trust,
    app_in_terminal,
    server_process,
)
from checkpoint import generate  # noqa: E402
from tui_stream import reply_fragments  # noqa: E402

EDITED = 5
MARK = "ZQZQ"
DEFAULT_FILES = 50_000

SERVE = """
import sys, threading, time
count, reply, started = sys.argv[1:4]
sys.path[:0] = sys.argv[4:]
from fake_model_server import FakeModelServer, openai_reply
stamp = time.time()
calls = [
    ("write_file", {"path": f"pkg00000/edited{n}.py", "content": f"n = {n}  # {stamp}\\n"})
    for n in range(int(count))
]
with FakeModelServer() as model:
    model.enqueue(openai_reply("", tool_calls=calls))
    model.enqueue(openai_reply(open(reply).read(), chunk_size=4))
    print(model.openai_base_url, flush=True)
    while len(model.requests) < 2:  # a request is recorded as its reply is taken
        time.sleep(0.0005)
    open(started, "w").write(repr(time.perf_counter()))
    sys.stdin.read()  # serves until the bench closes this pipe
"""


@contextlib.contextmanager
def model_server(reply: str, tmp: Path) -> Iterator[tuple[str, Path]]:
    """The scripted model: a batch of EDITED writes, then `reply` in four-character pieces.
    Yields its URL and the file where it writes when it began sending `reply` (the system's
    monotonic clock, as `time.perf_counter` reads it in every process here)."""
    text, started = tmp / "reply.txt", tmp / "second-reply-started"
    text.write_text(reply)
    args = (str(EDITED), str(text), str(started), str(HERE.parent / "tests"), str(HERE))
    with server_process(SERVE, *args) as url:
        yield url, started


def marked(text: str) -> str:
    """`text` with MARK before each of its prose paragraphs: whichever part of the reply a
    frame shows first then says that its words are on the screen. Code, lists, tables and
    headings stay as they are, so the reply is drawn as the unmarked one would be."""
    lines, in_code, after_blank = [], False, True
    for line in text.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and after_blank and line[:1].isalpha():
            line = f"{MARK} {line}"
        lines.append(line)
        after_blank = not line.strip()
    return "\n".join(lines)


def run_session(repo: Path, text: str, tmp: Path, checkpoints: bool) -> dict:
    home = tmp / "home"
    home.mkdir(parents=True)
    answered_trust(home, repo)
    config = LONG_REPLIES_CONFIG
    if not checkpoints:
        config += "[checkpoints]\nenabled = false\n"
    (home / "config.toml").write_text(config)
    reply = text + f"\n\n{END}\n"
    with model_server(reply, tmp) as (base_url, started):
        opened = time.time()
        terminal = app_in_terminal(base_url, repo, home, "--mode", "auto-edit")
        try:
            terminal.wait_for(READY)
            time.sleep(1.0)  # the welcome settles (the session's warm-up runs meanwhile)
            terminal.type("edit five files, then explain\r")
            done = terminal.wait_for(END)
            start = float(started.read_text())
            words = terminal.first_showing(MARK, start)
            edited = repo / "pkg00000" / f"edited{EDITED - 1}.py"
            if words is None or not edited.exists() or edited.stat().st_mtime < opened:
                raise RuntimeError("the batch or the reply did not show: nothing was measured")
            stall, at = terminal.worst_gap(words, done)
            return {
                "first_words_ms": 1000 * (words - start),
                "seconds": done - words,
                "stall_ms": stall,
                "stall_at": at,
            }
        finally:
            terminal.close()


def figures(runs: list[dict], tokens: int) -> dict:
    return {
        "first_words_ms": round(statistics.median(r["first_words_ms"] for r in runs), 1),
        "first_words_ms_runs": [round(r["first_words_ms"], 1) for r in runs],
        "tokens_per_s": round(tokens / statistics.median(r["seconds"] for r in runs)),
        "tokens_per_s_runs": [round(tokens / r["seconds"]) for r in runs],
        "worst_stall_ms": round(max(r["stall_ms"] for r in runs), 1),
        "stall_ms_runs": [round(r["stall_ms"], 1) for r in runs],
        "worst_stall_at": [round(r["stall_at"], 2) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=DEFAULT_FILES)
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    text = marked("".join(reply_fragments(args.tokens)))
    sent = math.ceil(len(text) / 4)  # the marks add a few fragments
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / "repo"
        generate(repo, args.files)
        built: list[dict] = []
        off: list[dict] = []
        for run in range(args.runs):
            # Alternate which goes first, so both see the same machine.
            order = [(True, built), (False, off)] if run % 2 == 0 else [(False, off), (True, built)]
            for checkpoints, results in order:
                tmp = Path(folder) / f"run{run}-{'on' if checkpoints else 'off'}"
                results.append(run_session(repo, text, tmp, checkpoints))
    mine, theirs = figures(built, sent), figures(off, sent)
    print(
        json.dumps(
            {
                "files": args.files,
                "tokens": sent,
                "runs": args.runs,
                "with_build_ahead": mine,
                "anchor_checkpoints_off": theirs,
                "first_words_extra_ms": round(mine["first_words_ms"] - theirs["first_words_ms"], 1),
                "rate_vs_anchor": round(mine["tokens_per_s"] / theirs["tokens_per_s"], 2),
                "target": {
                    "max_stall_ms": TARGET_MAX_STALL_MS,
                    "met": mine["worst_stall_ms"] <= TARGET_MAX_STALL_MS,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
