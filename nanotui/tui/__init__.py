"""The terminal app (Textual). Importing it sets Textual's frame rate, before Textual loads."""

from __future__ import annotations

import os

# Textual draws at most TEXTUAL_FPS frames a second (60 by default), and a frame that is late
# waits one to two frame periods for the next: under a fast stream, with the loop busy, the
# terminal fell silent for 60-70 ms. At 120 the wait is half as long. Only a screen with
# something new is drawn, so an idle app does no more work. A value set by the user is kept.
RATE_IS_OURS = "TEXTUAL_FPS" not in os.environ
os.environ.setdefault("TEXTUAL_FPS", "120")


def frame_rate_read() -> None:
    """Textual has read its frame rate (textual.constants is loaded): take nanotui's value
    out of the environment again, so git, $EDITOR and commands do not inherit it."""
    if RATE_IS_OURS:
        os.environ.pop("TEXTUAL_FPS", None)
