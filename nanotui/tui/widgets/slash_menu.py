"""The completion list the prompt shows while a slash command is being typed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from nanotui.tui.slash_commands import Completion


class SlashMenu(OptionList):
    """Rows of `/command  argument  description`; the prompt keeps focus and drives it.

    It never takes focus, so typing goes on in the prompt while the list filters; the prompt
    moves the highlight (up/down) and asks for the chosen row (tab/enter). A click chooses a
    row through `on_choose`, since the menu is the prompt's sibling and a message from it
    would bubble past the prompt.
    """

    can_focus = False

    def __init__(self, on_choose: Callable[[Completion], None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._on_choose = on_choose
        self.completions: list[Completion] = []
        self.display = False

    @property
    def is_open(self) -> bool:
        """Whether the menu is showing rows the keys should act on."""
        return self.display and bool(self.completions)

    def show(self, completions: Sequence[Completion]) -> None:
        """Show these rows (the first highlighted), or close when there are none."""
        if list(completions) == self.completions and self.display:
            return  # keep the user's highlight while the rows are unchanged
        self.completions = list(completions)
        self.set_options(self._row(c, self._label_width()) for c in self.completions)
        self.display = bool(self.completions)
        if self.completions:
            self.highlighted = 0

    def close(self) -> None:
        """Hide the menu; `show` opens it again."""
        self.display = False

    def move(self, step: int) -> None:
        """Move the highlight by one row up (-1) or down (1), wrapping at the ends."""
        if self.completions:
            current = self.highlighted or 0
            self.highlighted = (current + step) % len(self.completions)

    @property
    def chosen(self) -> Completion | None:
        """The highlighted row, if the menu is open."""
        if not self.is_open or self.highlighted is None:
            return None
        return self.completions[self.highlighted]

    def _label_width(self) -> int:
        return max((len(c.label) + len(c.hint) + 1 for c in self.completions), default=0)

    @staticmethod
    def _row(completion: Completion, width: int) -> Option:
        head = f"{completion.label} {completion.hint}".rstrip()
        return Option(
            Content.assemble(
                (completion.label, "bold"),
                (f" {completion.hint}" if completion.hint else "", "$text-muted"),
                " " * (width - len(head) + 2),
                (completion.description, "$text-muted"),
            )
        )

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._on_choose(self.completions[event.option_index])
