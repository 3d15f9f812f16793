"""The prompt line: Enter sends, up and down walk through what was sent before."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

PLACEHOLDER = "Ask nanotui…  (Enter send · Esc interrupt · shift+tab mode · ctrl+q quit)"


class PromptInput(Input):
    """An Input with a history of sent prompts."""

    BINDINGS = [
        Binding("up", "history(-1)", "Previous prompt", show=False, id="prompt.history_back"),
        Binding("down", "history(1)", "Next prompt", show=False, id="prompt.history_forward"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)
        self.history: list[str] = []
        self._position = 0
        self._draft = ""

    def remember(self, text: str) -> None:
        """Add a sent prompt to the history and reset the walk to the end."""
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self._position = len(self.history)
        self._draft = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._position == len(self.history):
            self._draft = self.value
        self._position = max(0, min(len(self.history), self._position + step))
        if self._position == len(self.history):
            self.value = self._draft
        else:
            self.value = self.history[self._position]
        self.cursor_position = len(self.value)
