"""The full-screen app: `nanotui` with no sub-command.

`run_app` runs `LaunchApp` (see `launch.py`), which draws its first frame before it reads the
settings and builds the session; tests build the agent themselves (for example with the
offline demo model), make a `NanotuiApp` of its `EngineSession` and drive that with Pilot.
This module imports only Textual and small helpers, so that the first frame does not wait
for the engine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from nanotui.tui import frame_rate_read, strip_cycles
from nanotui.tui.keymap import apply_keymap
from nanotui.tui.palette import CommandEntry, NanotuiCommands
from nanotui.tui.resources import styles_dir
from nanotui.tui.screens.help import toggle_help

frame_rate_read()  # Textual read it as it loaded, above

if TYPE_CHECKING:
    from nanotui.client.remote_session import ServerTarget
    from nanotui.protocol.session_port import SessionPort

STYLESHEETS = (
    "app.tcss",
    "diff_view.tcss",
    "prompt.tcss",
    "help.tcss",
    "setup.tcss",
    "timeline.tcss",
    "checkpoints.tcss",
)


class NanotuiApp(App[int]):
    """One agent session on screen. The app owns the session: it closes it when it exits."""

    TITLE = "nanotui"
    CSS_PATH = [str(styles_dir() / name) for name in STYLESHEETS]
    COMMANDS = App.COMMANDS | {NanotuiCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="nanotui.quit"),
        Binding("f1", "help", "Keys and commands", priority=True, id="nanotui.help"),
        Binding(
            "question_mark", "help", "Keys and commands", show=False, id="nanotui.help_question"
        ),
    ]

    def __init__(
        self,
        session: SessionPort,
        *,
        notices: Sequence[str] = (),
        trusted: bool = False,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.notices = list(notices)
        self.trusted = trusted
        # Before the main screen is made: it shows self.notices (a mistyped id, say) on mount.
        self.notices.extend(apply_keymap(self, dict(keys or {})))

    def get_default_screen(self) -> Screen[None]:
        from nanotui.tui.screens.main import MainScreen

        return MainScreen(self.session, self.notices, trusted=self.trusted)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Our own palette entries cover quitting and the keys; Textual's would repeat them.
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Quit"):
                yield command

    def action_help(self) -> None:
        toggle_help(self)

    def on_key(self, event: events.Key) -> None:
        """A key that reached the app unused: Esc or typing away from the prompt go back to it.

        This runs before the app looks up the key's binding, so Esc is then taken as if
        pressed in the prompt (see `focus_home`).
        """
        from nanotui.tui.focus_home import bring_focus_home  # the first frame must not wait

        if bring_focus_home(self.screen, event):
            event.stop()
            event.prevent_default()

    def command_entries(self) -> Iterable[CommandEntry]:
        yield CommandEntry(
            "Help", "Every key with its binding id, and the slash commands", self.action_help
        )
        yield CommandEntry(
            "Quit", "Leave nanotui (a running turn is interrupted)", self.action_quit
        )

    async def action_quit(self) -> None:
        """Quit; a running turn is interrupted first so no command outlives the app."""
        from nanotui.tui.screens.main import MainScreen

        screen = self.screen_stack[0] if self.screen_stack else None
        if isinstance(screen, MainScreen):
            await screen.stop_turn()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.session.close()


SWITCH_INTERVAL_S = 0.001
"""How long a thread may hold the interpreter lock while another waits for it (Python's
default is 5 ms)."""


def run_app(
    workspace: Path,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    workspace_explicit: bool = True,
    resume: str | None = None,
    server: ServerTarget | None = None,
) -> int:
    """Run the full-screen app in `workspace` (or, with `server`, on a session of a team
    server) until the user quits; return the exit code.

    `flags` are the command line's settings (a first-run answer that reloads the settings
    applies them again); `resume` is a session to go on with. What stopped the app before
    its main screen (a config error, a model server that cannot be reached) is raised here,
    once the terminal is back.
    """
    from nanotui.tui.launch import LaunchApp

    # Textual writes each frame to the terminal from a thread of its own, and every partial
    # write to the terminal needs the interpreter lock back: while the event loop is busy
    # it waited up to the 5 ms switch interval each time, and a frame took 9 ms to go out
    # (40 at worst) under a fast stream. At 1 ms: 2.5 ms, 5 to 10 at worst.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    strip_cycles.free_undivided_lines()  # a drawn line is freed when replaced, not collected
    app = LaunchApp(
        workspace,
        flags=flags,
        workspace_explicit=workspace_explicit,
        resume=resume,
        server=server,
    )
    result = app.run()
    if app.startup_error is not None:
        raise app.startup_error
    return result if isinstance(result, int) else 0
