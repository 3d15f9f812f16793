"""Process start to first frame, and memory once idle: the real app and a bare Textual app.

Each app is started as a new process in a pseudo-terminal (120x40), as a user would start it.
The clock runs from just before the process is spawned to the moment the first frame reaches
the terminal: the first output, after the switch to the alternate screen, that shows any
text. After that the app is left idle for a second and its resident memory is read from
/proc/<pid>/status (VmRSS); then it is sent ctrl+q. The real app is `python -m nanotui.cli.main
--demo` (no model or network needed) with NANOTUI_HOME in a temporary folder; the bare app
is a Textual App with a Header and a Footer, for the ratio. Each is started once to warm up,
then several times more, and the medians are reported.

For the real app it also reports `keys_in_prompt_s`: keys typed the moment the first frame
shows, until they show in a prompt line (the starting screen has one, whose text moves to the
main screen's prompt), and `ready_s`: until the main screen is up ("offline demo" in its
welcome). Target: keys in the prompt within 1.5x the bare app's first frame, same run.

Bytecode is cached as an installed package has it (pip compiles on install): in a folder of
its own (PYTHONPYCACHEPREFIX), so that a PYTHONDONTWRITEBYTECODE in the environment does not
make every start compile nanotui from source, and the working tree stays clean.

    python bench/startup.py [--runs 5]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

TARGET_FIRST_FRAME_S = 0.4
TARGET_IDLE_RSS_MB = 100
TARGET_KEYS_VS_BARE = 1.5
"""Keys typed at once are in the prompt within this many times the bare app's first frame."""
ROWS, COLUMNS = 40, 120
IDLE_S = 1.0
TIMEOUT_S = 20.0

BARE_APP = """\
from textual.app import App
from textual.widgets import Footer, Header

class Bare(App):
    def compose(self):
        yield Header()
        yield Footer()

Bare().run()
"""

ALTERNATE_SCREEN = b"\x1b[?1049h"
# The main screen's status bar says this once the demo session is ready for a prompt.
READY_TEXT = b"offline demo"
TYPED = b"qzqzq"
"""Typed as soon as the first frame shows; found again once it is in the prompt."""
# Escape sequences (CSI, OSC, and the two-character ones), to find the text between them.
ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")


def start_once(
    argv: list[str], home: Path, bytecode: Path, ready_text: bytes | None
) -> tuple[float, float, float, float | None]:
    """Seconds from spawning `argv` to its first frame, to `ready_text` and (with
    `ready_text`) to keys typed at the first frame showing in the prompt; idle RSS in MB."""
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = dict(os.environ, NANOTUI_HOME=str(home), TERM="xterm-256color")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=home,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        first_frame, ready, keys = read_until_ready(master, started, ready_text)
        drain(master, IDLE_S)  # the app keeps drawing; an unread terminal would block it
        rss_mb = resident_mb(process.pid)
        os.write(master, b"\x11")  # ctrl+q
        deadline = time.monotonic() + 5
        while process.poll() is None and time.monotonic() < deadline:
            drain(master, 0.05)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(master)
    keys_s = keys - started if keys is not None else None
    return first_frame - started, ready - started, rss_mb, keys_s


def read_until_ready(
    master: int, started: float, ready_text: bytes | None
) -> tuple[float, float, float | None]:
    """When the first frame showed, when `ready_text` did (the first frame if None), and,
    with `ready_text`, when keys typed as the first frame showed reached the prompt (a user
    starts typing as soon as something is on the screen)."""
    output = b""
    first_frame = ready = keys = None
    while time.perf_counter() - started < TIMEOUT_S:
        readable, _, _ = select.select([master], [], [], 0.01)
        if not readable:
            continue
        now = time.perf_counter()
        output += os.read(master, 65536)
        text = ESCAPES.sub(b"", output.partition(ALTERNATE_SCREEN)[2])
        if first_frame is None and text.strip():
            first_frame = now
            if ready_text is not None:
                os.write(master, TYPED)
        if first_frame is not None and ready is None and (ready_text is None or ready_text in text):
            ready = now
        if ready_text is not None and keys is None and TYPED in text:
            keys = now
        if ready is not None and (ready_text is None or keys is not None):
            return first_frame, ready, keys
    raise TimeoutError(f"not ready within {TIMEOUT_S} s; output so far: {output[-300:]!r}")


def drain(master: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:  # the app has gone and closed its side
                return


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def measure(
    argv: list[str], runs: int, bytecode: Path, ready_text: bytes | None = None
) -> dict[str, Any]:
    frames, readies, memory, typed = [], [], [], []
    for run in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="nanotui-startup-") as home:
            seconds, ready, rss, keys = start_once(argv, Path(home), bytecode, ready_text)
        if run:  # the first run compiles and caches the bytecode
            frames.append(seconds)
            readies.append(ready)
            memory.append(rss)
            if keys is not None:
                typed.append(keys)
    figures = {
        "first_frame_s": round(statistics.median(frames), 3),
        "first_frame_runs_s": [round(value, 3) for value in frames],
        "ready_s": round(statistics.median(readies), 3),
        "idle_rss_mb": round(statistics.median(memory), 1),
    }
    if typed:
        figures["keys_in_prompt_s"] = round(statistics.median(typed), 3)
    return figures


def main(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nanotui-bytecode-") as bytecode:
        bare = measure([sys.executable, "-c", BARE_APP], runs, Path(bytecode))
        app = measure(
            [sys.executable, "-m", "nanotui.cli.main", "--demo"], runs, Path(bytecode), READY_TEXT
        )
    return {
        "app": "python -m nanotui.cli.main --demo",
        **app,
        "target_first_frame_s": TARGET_FIRST_FRAME_S,
        "target_idle_rss_mb": TARGET_IDLE_RSS_MB,
        "pass_first_frame": app["first_frame_s"] < TARGET_FIRST_FRAME_S,
        "pass_idle_rss": app["idle_rss_mb"] < TARGET_IDLE_RSS_MB,
        "bare_textual": bare,
        "ratio_to_bare": round(app["first_frame_s"] / bare["first_frame_s"], 2),
        # The target users feel (TARGET_KEYS_VS_BARE).
        "keys_in_prompt_vs_bare_first_frame": round(
            app["keys_in_prompt_s"] / bare["first_frame_s"], 2
        ),
        "target_keys_vs_bare": TARGET_KEYS_VS_BARE,
        "pass_keys_vs_bare": app["keys_in_prompt_s"] <= TARGET_KEYS_VS_BARE * bare["first_frame_s"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    print(json.dumps(main(parser.parse_args().runs)))
