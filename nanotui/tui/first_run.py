"""The first run: choose a model, decide on folder trust, then the usual main screen.

`FirstRunApp` is a `NanotuiApp` that starts before it has an agent: it asks the questions
that are needed (setup when no provider is configured, trust when an untrusted project config
was restricted), reloads the settings their answers changed, builds the agent and only then
switches to the main screen that `NanotuiApp` would have opened. Everything else (bindings,
quit, closing the agent) is `NanotuiApp`'s own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual import events, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from nanotui.config import LoadedConfig, load_settings
from nanotui.providers.demo import demo_workspace
from nanotui.setup_detect import needs_setup, needs_trust_question
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.setup import Detector, SetupScreen
from nanotui.tui.screens.trust import TrustScreen


class FirstRunBackdrop(Screen[None]):
    """What shows under the first-run questions: the name, nothing to act on."""

    def compose(self) -> ComposeResult:
        yield Static("nanotui", id="backdrop-title")


class FirstRunApp(NanotuiApp):
    """A `NanotuiApp` that answers the first-run questions before it builds its agent.

    `startup_error` holds what stopped it before the main screen (one sentence as str()),
    for `run_app` to raise once the terminal is back.
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        workspace: Path,
        *,
        flags: Mapping[str, Mapping[str, Any]] | None = None,
        trusted: bool = False,
        detect: Detector | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        # No agent yet: it is built from the answers (see `_first_run`).
        super().__init__(
            None,  # type: ignore[arg-type]
            notices=loaded.notices,
            trusted=trusted,
            keys=loaded.settings.keys,
        )
        # What NanotuiApp added about the [keys] remapping, kept when the settings reload.
        self._keymap_notices = self.notices[len(loaded.notices) :]
        self.loaded = loaded
        self.workspace = workspace
        self.flags = {section: dict(values) for section, values in (flags or {}).items()}
        self.startup_error: Exception | None = None
        self._detect = detect
        self._environ = environ

    def get_default_screen(self) -> Screen[None]:
        return FirstRunBackdrop()

    def on_mount(self) -> None:
        self._answer_questions()

    async def on_unmount(self, event: events.Unmount) -> None:
        if self.agent is None:
            # Quit before the questions were answered: there is no agent for NanotuiApp to
            # close, so its handler is skipped.
            event.prevent_default()

    @work(exclusive=True, group="first-run")
    async def _answer_questions(self) -> None:
        try:
            await self._first_run()
        except Exception as exc:  # reported by run_app as one sentence, after the screen
            self.startup_error = exc
            self.exit(1)

    async def _first_run(self) -> None:
        from nanotui.engine.setup import build_agent
        from nanotui.security.trust import trust

        loaded, workspace, trusted = self.loaded, self.workspace, self.trusted
        if needs_setup(loaded):
            choice = await self.push_screen_wait(
                SetupScreen(detect=self._detect, environ=self._environ)
            )
            if choice is None:
                self.exit(0)
                return
            if choice.is_demo:
                workspace = await asyncio.to_thread(demo_workspace, workspace)
                self.flags.setdefault("provider", {})["kind"] = "demo"
                trusted = False
            loaded = load_settings(workspace, self.flags, trusted=trusted)

        notices = list(loaded.notices)
        asked = needs_trust_question(loaded, workspace, trusted)
        if asked and await self.push_screen_wait(TrustScreen(workspace, loaded.notices)):
            try:
                trust(workspace)
            except OSError as exc:
                notices.append(
                    f"Could not save the folder's trust ({exc.strerror or exc}); "
                    "its project settings stay restricted."
                )
            else:
                trusted = True
                loaded = load_settings(workspace, self.flags, trusted=True)
                notices = list(loaded.notices)

        # Off the event loop: with no model named, building asks the server which it serves.
        agent = await asyncio.to_thread(build_agent, loaded.settings, workspace)
        self.loaded, self.workspace = loaded, workspace
        self.agent, self.notices, self.trusted = agent, notices + self._keymap_notices, trusted
        # The main screen as NanotuiApp builds it, at the bottom of a stack of its own (the
        # default stack's bottom screen, the backdrop, cannot be switched out).
        main_screen = super().get_default_screen()
        self.add_mode("main", lambda: main_screen)
        await self.switch_mode("main")
