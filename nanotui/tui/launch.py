"""Starting the full-screen app: a first frame at once, then settings, questions and agent.

`LaunchApp` is the `NanotuiApp` that `nanotui` runs. It draws a plain starting screen before
anything heavy is imported (the settings need pydantic, the agent an HTTP client, the main
screen its widgets: together about a second on a slow machine), then, off the event loop,
reads the settings, asks the first-run questions that are needed (setup when no provider is
configured, trust when an untrusted project config was restricted), builds the agent and
switches to the main screen that `NanotuiApp` would have opened. Everything else (bindings,
quit, closing the agent) is `NanotuiApp`'s own.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from nanotui.tui.app import NanotuiApp
from nanotui.tui.keymap import apply_keymap

if TYPE_CHECKING:
    from nanotui.client.remote_session import ServerTarget
    from nanotui.config import ProviderConfig
    from nanotui.config_loading import LoadedConfig
    from nanotui.engine.startup import ModelClient
    from nanotui.tui.screens.first_run import Detector


class StartingScreen(Screen[None]):
    """The first frame, and what shows under the first-run questions: the name, a status and
    a prompt line.

    The prompt line takes keys from the first frame on: what the user types shows at once and
    is kept (`typed`), then handed to the main screen's prompt once it is up. The agent and the
    main screen take a further half second or so to build on a slow machine; someone who starts
    typing as soon as the app appears sees their words and loses none of them."""

    def __init__(self) -> None:
        super().__init__()
        self.typed = ""

    def compose(self) -> ComposeResult:
        yield Static("nanotui", id="backdrop-title")
        yield Static("starting…", id="backdrop-status")
        yield Static(self._prompt_line(), id="backdrop-prompt", markup=False)

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character:
            self.typed += event.character
        elif event.key == "backspace" and self.typed:
            self.typed = self.typed[:-1]
        else:
            return
        event.stop()
        self._show_typed()

    def on_paste(self, event: events.Paste) -> None:
        self.typed += event.text
        event.stop()
        self._show_typed()

    def _show_typed(self) -> None:
        self.query_one("#backdrop-prompt", Static).update(self._prompt_line())

    def _prompt_line(self) -> str:
        return f"> {self.typed}▏"

    def say(self, status: str) -> None:
        self.query_one("#backdrop-status", Static).update(status)


class LaunchApp(NanotuiApp):
    """A `NanotuiApp` that loads its settings and builds its session after its first frame.

    `loaded` skips reading the settings (tests pass their own); `resume` is a session id
    to go on with. `startup_error` holds what
    stopped it before the main screen (one sentence as str()), for `run_app` to raise once
    the terminal is back.
    """

    def __init__(
        self,
        workspace: Path,
        *,
        flags: Mapping[str, Mapping[str, Any]] | None = None,
        loaded: LoadedConfig | None = None,
        trusted: bool | None = None,
        workspace_explicit: bool = True,
        resume: str | None = None,
        detect: Detector | None = None,
        environ: Mapping[str, str] | None = None,
        server: ServerTarget | None = None,
    ) -> None:
        # No session yet: it is built once the settings are read (see `_launch`).
        super().__init__(None, trusted=bool(trusted))  # type: ignore[arg-type]
        self.loaded = loaded
        self.workspace = workspace
        self.flags = {section: dict(values) for section, values in (flags or {}).items()}
        self.startup_error: Exception | None = None
        # The provider settings checked before the questions, and the client built for them.
        self._checked: tuple[ProviderConfig, ModelClient] | None = None
        self._trusted_given = trusted
        self._workspace_explicit = workspace_explicit
        self._resume = resume
        self._detect = detect
        self._environ = environ
        self._server = server
        self._starting = StartingScreen()
        """A session on a team server instead of one here (`nanotui --server URL`)."""

    def get_default_screen(self) -> Screen[None]:
        return self._starting

    def on_mount(self) -> None:
        # After the first frame is on the terminal: the imports that follow hold the GIL.
        self.call_after_refresh(self._start)

    async def on_unmount(self, event: events.Unmount) -> None:
        if self.session is None:
            # Quit before the session was built: there is none for NanotuiApp to close, so its
            # handler is skipped.
            event.prevent_default()

    def _say(self, status: str) -> None:
        screen = self.screen_stack[0] if self.screen_stack else None
        if isinstance(screen, StartingScreen):
            screen.say(status)

    @work(exclusive=True, group="launch")
    async def _start(self) -> None:
        try:
            await self._launch()
        except Exception as exc:  # reported by run_app as one sentence, after the screen
            self.startup_error = exc
            self.exit(1)

    async def _launch(self) -> None:
        # Imported off the event loop: with the settings' models and the HTTP client this is
        # a sixth of a second, in which the starting screen would not take a key.
        await asyncio.to_thread(importlib.import_module, "nanotui.tui.first_run_detect")
        from nanotui.tui.first_run_detect import needs_first_run, needs_setup

        if self._server is not None:
            await self._launch_on_server(self._server)
            return
        if self.loaded is None:
            self._say("reading the settings…")
            await asyncio.to_thread(self._read_settings)
        assert self.loaded is not None
        self.notices = [*self.loaded.notices, *self.notices]
        self.notices.extend(apply_keymap(self, dict(self.loaded.settings.keys)))
        if self.loaded.settings.provider.kind == "demo":
            await asyncio.to_thread(self._use_demo_workspace, self._workspace_explicit)

        # What can fail without the user's answers (a missing key or model) fails before
        # anything is asked: a question answered for nothing is worse than none.
        if not needs_setup(self.loaded):
            await self._check_provider(self.loaded)
        asked = needs_first_run(self.loaded, self.workspace, self.trusted)
        if asked and not await self._answer_questions():
            await self._drop_checked_provider()
            return

        self._say(f"connecting to {self.loaded.settings.provider.kind}…")
        provider = await self._checked_provider()
        # Off the event loop: with no model named, building asks the server which it serves.
        self.session = await asyncio.to_thread(self._build_session, provider)
        await self._open_main_screen()

    async def _open_main_screen(self) -> None:
        """Switch to the main screen NanotuiApp builds, at the bottom of a stack of its own
        (the default stack's bottom screen, the starting screen, cannot be switched out), and
        give its prompt what was typed while the app started."""
        main_screen = super().get_default_screen()
        self.add_mode("main", lambda: main_screen)
        await self.switch_mode("main")
        warm_up_lexers()
        typed, self._starting.typed = self._starting.typed, ""
        if typed:
            from nanotui.tui.widgets.prompt_input import PromptInput

            # Once the screen has mounted (its prompt starts empty), not before.
            prompt = main_screen.query_one(PromptInput)
            main_screen.call_after_refresh(prompt.insert, typed)

    async def _launch_on_server(self, target: ServerTarget) -> None:
        """Attach to a session on a team server: its settings, model and folder are the
        server's; only the user's own key bindings apply here."""
        from nanotui.client.remote_session import RemoteSession, server_label
        from nanotui.config_loading import load_user_layer

        self._say("reading the settings…")
        keys = (await asyncio.to_thread(load_user_layer)).get("keys", {})
        self.notices.extend(apply_keymap(self, dict(keys)))
        self._say(f"connecting to {server_label(target.url)}…")
        self.session = await RemoteSession.open(target)
        await asyncio.to_thread(_warm_up_main_screen)
        self.trusted = True  # the project's settings are the server admin's, not a folder's
        self.workspace = self.session.workspace
        await self._open_main_screen()

    def _read_settings(self) -> None:
        from nanotui.config_loading import load_settings
        from nanotui.engine.startup import is_trusted

        trusted = self._trusted_given
        if trusted is None:
            trusted = is_trusted(self.workspace)
        self.loaded = load_settings(self.workspace, self.flags, trusted=trusted)
        self.trusted = trusted

    def _use_demo_workspace(self, explicit: bool) -> None:
        """The demo works on its sample project: a fresh copy unless the folder is one."""
        from nanotui.engine.startup import demo_workspace

        target, notice = demo_workspace(self.workspace, explicit=explicit)
        if notice:
            self.notices.append(notice[0].upper() + notice[1:])
        self.workspace = target

    async def _check_provider(self, loaded: LoadedConfig) -> None:
        """Build the model client for `loaded`'s settings now, so that what is missing
        (a key, a model) stops the start before a question; kept for the agent."""
        from nanotui.engine.startup import check_model

        config = loaded.settings.provider
        self._say(f"connecting to {config.kind}…")
        await self._drop_checked_provider()
        # Off the event loop: with no model named, building asks the server which it serves.
        self._checked = (config, await asyncio.to_thread(check_model, config))
        self._say("")

    async def _checked_provider(self) -> ModelClient | None:
        """The client checked before the questions if the settings still ask for it, else
        None (trusting the folder may have changed them)."""
        if self._checked is not None and self.loaded is not None:
            config, provider = self._checked
            if self.loaded.settings.provider == config:
                self._checked = None
                return provider
        await self._drop_checked_provider()
        return None

    async def _drop_checked_provider(self) -> None:
        checked, self._checked = self._checked, None
        if checked is not None:
            await checked[1].aclose()

    def _build_session(self, provider: ModelClient | None = None) -> Any:
        from nanotui.config_loading import setting_origins
        from nanotui.engine.assembly import build_agent
        from nanotui.engine.facade import EngineSession

        assert self.loaded is not None
        agent = build_agent(
            self.loaded.settings, self.workspace, provider=provider, resume=self._resume
        )
        _warm_up_main_screen()
        return EngineSession(agent, setting_origins(self.loaded))

    async def _answer_questions(self) -> bool:
        """The setup and trust questions; False when the user left instead of answering."""
        from nanotui.config_loading import load_settings
        from nanotui.engine.startup import decline_trust, trust_workspace
        from nanotui.tui.first_run_detect import needs_setup, needs_trust_question
        from nanotui.tui.screens.first_run import SetupScreen
        from nanotui.tui.screens.trust import TrustScreen

        assert self.loaded is not None
        loaded, trusted = self.loaded, self.trusted
        self._say("")
        if needs_setup(loaded):
            choice = await self.push_screen_wait(
                SetupScreen(detect=self._detect, environ=self._environ)
            )
            if choice is None:
                self.exit(0)
                return False
            if choice.is_demo:
                await asyncio.to_thread(self._use_demo_workspace, False)
                self.flags.setdefault("provider", {})["kind"] = "demo"
                trusted = False
            loaded = load_settings(self.workspace, self.flags, trusted=trusted)
            await self._check_provider(loaded)

        notices = list(loaded.notices)
        asked = needs_trust_question(loaded, self.workspace, trusted)
        answer = asked and await self.push_screen_wait(TrustScreen(self.workspace, loaded.notices))
        if asked and not answer:
            with contextlib.suppress(OSError):  # asked again next time: no harm done
                decline_trust(self.workspace)
        if answer:
            try:
                trust_workspace(self.workspace)
            except OSError as exc:
                notices.append(
                    f"Could not save the folder's trust ({exc.strerror or exc}); "
                    "its project settings stay restricted."
                )
            else:
                trusted = True
                loaded = load_settings(self.workspace, self.flags, trusted=True)
                notices = list(loaded.notices)
        # The notices of the settings read first are replaced by those of the final ones.
        kept = self.notices[len(self.loaded.notices) :]
        self.loaded, self.trusted, self.notices = loaded, trusted, notices + kept
        return True


WARM_LANGUAGES = ("python", "bash")
"""Languages whose highlighting is made ready once the main screen is up, while the user
types: the code replies hold most. Made at a reply's first fence instead (on the lexer
thread), it competed with the stream's drawing, where the longest silences began."""


def _warm_up_main_screen() -> None:
    """Off the event loop (it holds the GIL for a tenth of a second): import the main screen,
    so the switch to it does not stall the starting screen, and make the Markdown parser, so
    the first words of the first reply do not stall the stream."""
    import nanotui.tui.screens.main  # noqa: F401
    from nanotui.tui.widgets.markdown_blocks import parser

    parser()


def warm_up_lexers() -> None:
    """Have the lexer thread make the commonest lexers now (`WARM_LANGUAGES`)."""
    from nanotui.tui.widgets.markdown_code import lexer_ready

    for language in WARM_LANGUAGES:
        lexer_ready(language)
