"""The bottom line: mode, model, sandbox, trust, session, whether a turn is running, and
the server the session runs on (when it does not run here)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Label

from nanotui.protocol.basics import MODE_ORDER


class StatusBar(Horizontal):
    """Each fact is its own Label so the stylesheet can colour it (see styles/app.tcss).

    Values are set as Content, never markup: a model name may hold square brackets.
    """

    mode: reactive[str] = reactive("ask")
    busy: reactive[bool] = reactive(False)
    model_label: reactive[str] = reactive("")
    sandbox: reactive[str] = reactive("")
    session_id: reactive[str] = reactive("")
    trusted: reactive[bool] = reactive(False)
    runs_at: reactive[str] = reactive("local")
    managed: reactive[bool] = reactive(False)
    """An organisation's managed file decides some settings (`/policy` lists them)."""

    def compose(self) -> ComposeResult:
        yield Label(id="status-mode")
        yield Label(id="status-model")
        yield Label(id="status-sandbox")
        yield Label(id="status-trust")
        yield Label("managed", id="status-managed")
        yield Label(id="status-state")
        yield Label(id="status-session")
        yield Label(id="status-where")

    def watch_mode(self, mode: str) -> None:
        label = self.query_one("#status-mode", Label)
        label.update(Content(f" {mode} "))
        for name in MODE_ORDER:
            label.set_class(name == mode, f"-mode-{name}")

    def watch_model_label(self, text: str) -> None:
        self.query_one("#status-model", Label).update(Content(text))

    def watch_sandbox(self, backend: str) -> None:
        label = self.query_one("#status-sandbox", Label)
        label.update(Content(f"sandbox: {backend}"))
        # "plain" runs commands with no kernel sandbox at all: it must stand out.
        label.set_class(backend == "plain", "-unsandboxed")

    def watch_trusted(self, trusted: bool) -> None:
        label = self.query_one("#status-trust", Label)
        label.update("trusted" if trusted else "untrusted")
        label.set_class(trusted, "-trusted")

    def watch_managed(self, managed: bool) -> None:
        self.query_one("#status-managed", Label).display = managed

    def watch_session_id(self, session_id: str) -> None:
        self.query_one("#status-session", Label).update(Content(f"session {session_id}"))

    def watch_busy(self, busy: bool) -> None:
        label = self.query_one("#status-state", Label)
        label.update("working…" if busy else "ready")
        label.set_class(busy, "-busy")

    def watch_runs_at(self, where: str) -> None:
        label = self.query_one("#status-where", Label)
        # Shown only for a session elsewhere: the engine, the files and the keys are there.
        label.update(Content(f"on {where}"))
        label.display = where != "local"
