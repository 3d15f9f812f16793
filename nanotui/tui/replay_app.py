"""`nanotui audit replay ID` in a terminal: the replay as a full-screen app of its own.

It builds no agent and no model client: a replay shows what the log holds, nothing more.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from nanotui.engine.session_logs import verify_session_log
from nanotui.tui import strip_cycles
from nanotui.tui.app import STYLESHEETS
from nanotui.tui.resources import styles_dir
from nanotui.tui.screens.help import toggle_help
from nanotui.tui.screens.replay import ReplayScreen


class ReplayApp(App[int]):
    """Plays one session log again; q or ctrl+q leaves."""

    TITLE = "nanotui replay"
    CSS_PATH = [str(styles_dir() / name) for name in STYLESHEETS]
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="nanotui.quit"),
        Binding("f1", "help", "Keys and commands", priority=True, id="nanotui.help"),
    ]

    def __init__(self, path: Path, *, speed: float = 0.0, session: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.speed = speed
        self.session = session or path.stem

    def get_default_screen(self) -> Screen[None]:
        return ReplayScreen(
            self.path, speed=self.speed, session=self.session, verify=verify_session_log
        )

    def action_help(self) -> None:
        toggle_help(self)


def run_replay(path: Path, *, speed: float) -> int:
    """Replay the session logged at `path` full screen until the user quits."""
    strip_cycles.free_undivided_lines()  # a drawn line is freed when replaced, not collected
    ReplayApp(path, speed=speed).run()
    return 0
