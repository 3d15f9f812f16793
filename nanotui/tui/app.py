"""The full-screen app: `nanotui` with no sub-command.

`run_app` builds the agent from the loaded settings and runs `NanotuiApp`; tests build the
agent themselves (for example with the offline demo model) and drive the app with Pilot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from nanotui.config import LoadedConfig
from nanotui.engine.agent import Agent
from nanotui.tui.keymap import apply_keymap
from nanotui.tui.palette import CommandEntry, NanotuiCommands
from nanotui.tui.resources import styles_dir
from nanotui.tui.screens.help import toggle_help
from nanotui.tui.screens.main import MainScreen

STYLESHEETS = ("app.tcss", "diff_view.tcss", "prompt.tcss", "help.tcss", "setup.tcss")


class NanotuiApp(App[int]):
    """One session with an agent. The app owns the agent: it closes it when it exits."""

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
        agent: Agent,
        *,
        notices: Sequence[str] = (),
        trusted: bool = False,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.agent = agent
        self.notices = list(notices)
        self.trusted = trusted
        # Before the main screen is made: it shows self.notices (a mistyped id, say) on mount.
        self.notices.extend(apply_keymap(self, dict(keys or {})))

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(self.agent, self.notices, trusted=self.trusted)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Our own palette entries cover quitting and the keys; Textual's would repeat them.
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Quit"):
                yield command

    def action_help(self) -> None:
        toggle_help(self)

    def command_entries(self) -> Iterable[CommandEntry]:
        yield CommandEntry(
            "Help", "Every key with its binding id, and the slash commands", self.action_help
        )
        yield CommandEntry(
            "Quit", "Leave nanotui (a running turn is interrupted)", self.action_quit
        )

    async def action_quit(self) -> None:
        """Quit; a running turn is interrupted first so no command outlives the app."""
        screen = self.screen_stack[0] if self.screen_stack else None
        if isinstance(screen, MainScreen):
            await screen.stop_turn()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.agent.provider.aclose()
        self.agent.close()


def run_app(
    loaded: LoadedConfig, workspace: Path, flags: Mapping[str, Mapping[str, Any]] | None = None
) -> int:
    """Build the agent from settings and run the full-screen app until the user quits.

    With no provider configured, or an untrusted project config that was restricted, the
    first-run questions come first (`FirstRunApp`); `flags` are the command line's settings,
    applied again when an answer means reloading the settings.
    """
    from nanotui.security.trust import is_trusted
    from nanotui.setup_detect import needs_first_run

    trusted = is_trusted(workspace)
    if needs_first_run(loaded, workspace, trusted):
        from nanotui.tui.first_run import FirstRunApp

        first_run = FirstRunApp(loaded, workspace, flags=flags, trusted=trusted)
        result = first_run.run()
        if first_run.startup_error is not None:
            raise first_run.startup_error
        return result if isinstance(result, int) else 0

    from nanotui.engine.setup import build_agent

    agent = build_agent(loaded.settings, workspace)
    app = NanotuiApp(agent, notices=loaded.notices, trusted=trusted, keys=loaded.settings.keys)
    result = app.run()
    return result if isinstance(result, int) else 0
