"""What the user asked, as it appears in the conversation; a large paste or prompt is folded."""

from __future__ import annotations

import re

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.reactive import var
from textual.widgets import Static

from nanotui.tui.pastes import MARK_PATTERN, is_large, size_words

PREVIEW_LINES = 2
"""A long prompt folded whole shows this many of its first lines under its mark."""
PREVIEW_CHARS = 200
"""...each cut to this many characters (the row cuts them again to its width)."""


class UserEntry(Static):
    """One prompt the user sent; shown literally (no markup).

    A prompt sent with large pastes shows as it was typed, each paste folded to its mark
    (`[pasted 4,012 lines, 216 KB]`); a long prompt whose pastes are not known (a resumed
    or replayed session) is folded whole behind such a mark, with its first lines under it.
    Enter or space on the focused entry, or a click, shows it whole and folds it again.
    """

    BINDINGS = [
        Binding("enter,space", "toggle", "Show / hide a long prompt", id="chat.toggle_prompt"),
    ]

    folded: var[bool] = var(True)

    def __init__(self, text: str, typed: str | None = None) -> None:
        self.text = text
        self.typed = typed
        """The prompt as typed, with the marks of its pastes, when the screen knows it
        (`PromptInput.Submitted.typed`)."""
        super().__init__(Content(text))
        self._settle()

    @property
    def foldable(self) -> bool:
        return self.typed is not None or is_large(self.text)

    def _settle(self) -> None:
        # Only a folded entry is a stop for the keyboard: there is nothing to open otherwise.
        self.can_focus = self.foldable
        self.set_class(self.foldable, "-foldable")
        self.set_class(self.foldable and not self.folded, "-unfolded")
        self.update(self._content())

    def _content(self) -> Content:
        if not self.foldable:
            return Content(self.text)
        if not self.folded:
            return Content.assemble(
                ("▼ shown whole · enter or click to fold\n", "$text-muted"), self.text
            )
        if self.typed is not None:
            return Content.assemble(
                *_marked(self.typed), ("\n▶ enter or click to show it all", "$text-muted")
            )
        head = [line[:PREVIEW_CHARS] for line in self.text.strip("\n").splitlines()]
        preview = "\n".join(head[:PREVIEW_LINES]) + ("\n…" if len(head) > PREVIEW_LINES else "")
        return Content.assemble(
            (f"[pasted {size_words(self.text)}]", "bold"),
            (" ▶ enter or click to show it all\n", "$text-muted"),
            (preview, "$text-muted"),
        )

    def watch_folded(self) -> None:
        self._settle()

    def action_toggle(self) -> None:
        """Show the whole prompt, or fold it again (its first line stays where the eye is)."""
        if self.foldable:
            self.folded = not self.folded
            # A chat that follows its end would otherwise jump to the end of a long paste.
            self.call_after_refresh(self.scroll_visible, top=True, animate=False)

    def on_click(self, event: events.Click) -> None:
        if self.foldable:
            event.stop()
            self.action_toggle()


def _marked(typed: str) -> list[str | tuple[str, str]]:
    """The typed prompt in pieces, its paste marks in bold."""
    pieces: list[str | tuple[str, str]] = []
    for part in re.split(f"({MARK_PATTERN.pattern})", typed):
        if part:
            pieces.append((part, "bold") if MARK_PATTERN.fullmatch(part) else part)
    return pieces
