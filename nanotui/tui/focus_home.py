"""The prompt is the focus's home: Esc, or typing where typing does nothing, goes back to it.

Tab walks the chat, its tool rows and the side panes, none of which takes text. Without
this, a letter typed there is lost, and Esc only interrupts. So, on the screen that has the
prompt, while the focus is away from it (or nowhere at all: a focused pane hidden when the
terminal narrows leaves nothing focused):

- Esc brings the focus back to the prompt, then does what Esc does there (interrupting a
  running turn, say);
- a printable key that no key binding in reach takes goes to the prompt, focus and all.

"Away" is anywhere but the prompt, a text field, or the approval pane while something waits
for approval (its keys y, n, a, e, s, j, k, space, tab and Esc are its own).
"""

from __future__ import annotations

from textual import events
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea

from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.prompt_input import PromptInput

PROMPT_ID = "prompt"


def home_prompt(screen: Screen[object]) -> PromptInput | None:
    """The screen's prompt, if it has one that can take the focus now."""
    for prompt in screen.query(f"#{PROMPT_ID}").results(PromptInput):
        if prompt.focusable:
            return prompt
    return None


def is_away(focused: Widget | None) -> bool:
    """Whether the focus is somewhere typing does nothing (or nowhere)."""
    if focused is None:
        return True
    if isinstance(focused, (Input, TextArea)):
        return False
    return not any(
        isinstance(node, ApprovalPanel) and node.request is not None
        for node in focused.ancestors_with_self
    )


def bring_focus_home(screen: Screen[object], event: events.Key) -> bool:
    """Move the focus to the prompt for `event` if it belongs there.

    Returns True when the key itself was handed to the prompt (the caller stops it); for Esc
    only the focus moves, and the key goes on to the bindings as seen from the prompt.
    """
    if not is_away(screen.focused):
        return False
    prompt = home_prompt(screen)
    if prompt is None:
        return False
    if event.key == "escape":
        screen.set_focus(prompt)
        return False
    # A key some binding in reach takes stays there (? opens the help from the chat); the
    # approval pane's own keys are out of reach while nothing waits (its check_action).
    if not event.is_printable or event.key in screen.active_bindings:
        return False
    screen.set_focus(prompt)
    prompt.post_message(events.Key(event.key, event.character))
    return True
