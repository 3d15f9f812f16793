"""The full-screen app: `nanotui` with no sub-command.

`run_app` builds the agent from the loaded settings and runs `NanotuiApp`; tests build the
agent themselves (for example with the offline demo model) and drive the app with Pilot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from nanotui.config import LoadedConfig
from nanotui.engine.agent import Agent
from nanotui.tui.resources import styles_dir
from nanotui.tui.screens.main import MainScreen


class NanotuiApp(App[int]):
    """One session with an agent. The app owns the agent: it closes it when it exits."""

    TITLE = "nanotui"
    CSS_PATH = str(styles_dir() / "app.tcss")
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="nanotui.quit"),
    ]

    def __init__(self, agent: Agent, *, notices: Sequence[str] = ()) -> None:
        super().__init__()
        self.agent = agent
        self.notices = list(notices)

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(self.agent, self.notices)

    async def action_quit(self) -> None:
        """Quit; a running turn is interrupted first so no command outlives the app."""
        screen = self.screen_stack[0] if self.screen_stack else None
        if isinstance(screen, MainScreen):
            await screen.stop_turn()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.agent.provider.aclose()
        self.agent.close()


def run_app(loaded: LoadedConfig, workspace: Path) -> int:
    """Build the agent from settings and run the full-screen app until the user quits."""
    from nanotui.engine.setup import build_agent

    agent = build_agent(loaded.settings, workspace)
    app = NanotuiApp(agent, notices=loaded.notices)
    result = app.run()
    return result if isinstance(result, int) else 0
