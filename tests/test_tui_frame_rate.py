"""The app sets Textual's frame rate before Textual loads, and keeps one the user set."""

from __future__ import annotations

import os
import subprocess
import sys

READ_RATE = (
    "import nanotui.tui.app, textual.constants as c, textual.screen as s; "
    "import os; print(c.MAX_FPS, round(1 / s.UPDATE_PERIOD), os.environ.get('TEXTUAL_FPS'))"
)


def frame_rate(environ: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", READ_RATE], env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_app_draws_up_to_120_frames_a_second() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    # and the value leaves the environment again: git and $EDITOR do not inherit it
    assert frame_rate(environ) == "120 120 None"


def test_a_frame_rate_the_user_set_is_kept() -> None:
    assert frame_rate({**os.environ, "TEXTUAL_FPS": "30"}) == "30 30 30"
