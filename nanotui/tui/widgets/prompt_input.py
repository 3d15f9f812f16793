"""The prompt: a few lines of text, Enter sends, slash commands complete as they are typed.

Keys (each a binding with an id, so `[keys]` in the config can move it):
Enter sends, ctrl+j inserts a new line (and shift+enter too where the terminal reports it:
terminals that speak the kitty keyboard protocol, such as kitty, WezTerm, foot, Ghostty and
recent iTerm2; the others send shift+enter as a plain Enter), and a backslash typed just
before Enter turns that Enter into a new line in any terminal. Up and down walk through what
was sent before, but only from the first or last row; elsewhere they move the cursor.

A large paste shows as one mark, `[pasted 4,012 lines, 216 KB]`, which stands for the pasted
text: the whole text is what is sent (and what the model gets).
"""

from __future__ import annotations

from textual import events
from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.widgets import TextArea

from nanotui.tui.pastes import fold_mark, is_large, unfold
from nanotui.tui.slash_commands import Completion, completions_for, parse_slash_command
from nanotui.tui.widgets.slash_menu import SlashMenu

PLACEHOLDER = "Ask nanotui…  Enter send · ctrl+j new line · / commands · F1 help"


class PromptInput(TextArea):
    """A multi-line prompt with a history of sent prompts and slash-command completion."""

    BINDINGS = [
        Binding("enter", "send", "Send", show=False, id="prompt.send"),
        Binding("ctrl+j,shift+enter", "newline", "New line", show=False, id="prompt.newline"),
        Binding("up", "back", "Previous prompt", show=False, id="prompt.history_back"),
        Binding("down", "forward", "Next prompt", show=False, id="prompt.history_forward"),
        Binding("tab", "complete", "Complete command", show=False, id="prompt.complete"),
        Binding("escape", "close_menu", "Close completion", show=False, id="prompt.close_menu"),
    ]

    current_mode: var[str] = var("")
    """The approval mode in force (the screen binds it), marked in the `/mode ` choices."""

    class Submitted(Message):
        """The user sent a prompt (never empty, never a slash command), pastes unfolded.

        `typed` is the prompt as typed, each paste a mark, when it held a paste (else None):
        the chat shows it so."""

        def __init__(self, prompt_input: PromptInput, text: str, typed: str | None) -> None:
            super().__init__()
            self.prompt_input = prompt_input
            self.text = text
            self.typed = typed

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    class SlashCommand(Message):
        """The user sent `/name argument`; `name` is as typed, known or not."""

        def __init__(self, prompt_input: PromptInput, text: str, name: str, argument: str) -> None:
            super().__init__()
            self.prompt_input = prompt_input
            self.text = text
            """The whole line as sent, for the history."""
            self.name = name
            self.argument = argument

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    def __init__(self, *, id: str | None = None, placeholder: str = PLACEHOLDER) -> None:
        super().__init__(
            id=id,
            placeholder=placeholder,
            soft_wrap=True,
            tab_behavior="focus",
            highlight_cursor_line=False,
        )
        # `history` is TextArea's undo stack, so the sent prompts live under another name.
        self.prompt_history: list[str] = []
        self._position = 0
        self._draft = ""
        self._menu = SlashMenu(self._choose, id=f"{id}-menu" if id else None)
        self._menu_dismissed = False
        self._quiet_change = False
        self._pastes: dict[str, str] = {}
        """Each large paste by the mark that stands for it in the prompt (kept for the history)."""
        self._sent: tuple[str, str] = ("", "")
        """The last text sent, unfolded and as the prompt showed it."""

    @property
    def menu(self) -> SlashMenu:
        """The completion list (a sibling just above the prompt, mounted with it)."""
        return self._menu

    def on_mount(self) -> None:
        # A sibling rather than a child: a TextArea draws its own lines, not child widgets,
        # and in the layout flow the list needs no position arithmetic on resize.
        if self.parent is not None:
            self.parent.mount(self._menu, before=self)

    def on_unmount(self) -> None:
        if self._menu.is_mounted:
            self._menu.remove()

    # ---- history ------------------------------------------------------------------------

    def remember(self, text: str) -> None:
        """Add a sent prompt to the history and reset the walk to the end."""
        if text == self._sent[0]:
            text = self._sent[1]  # recalled with its pastes folded, as it was typed
        if not self.prompt_history or self.prompt_history[-1] != text:
            self.prompt_history.append(text)
        self._position = len(self.prompt_history)
        self._draft = ""

    def _walk_history(self, step: int) -> None:
        if not self.prompt_history:
            return
        if self._position == len(self.prompt_history):
            self._draft = self.text
        position = max(0, min(len(self.prompt_history), self._position + step))
        if position == self._position:
            return
        self._position = position
        at_draft = position == len(self.prompt_history)
        # A recalled "/mode plan" must not pop the menu up and capture the next up/down.
        self._quiet_change = True
        self.load_text(self._draft if at_draft else self.prompt_history[position])
        self.move_cursor(self.document.end)

    def _on_first_row(self) -> bool:
        return self.wrapped_document.location_to_offset(self.cursor_location).y == 0

    def _on_last_row(self) -> bool:
        row = self.wrapped_document.location_to_offset(self.cursor_location).y
        return row == self.wrapped_document.height - 1

    # ---- keys ---------------------------------------------------------------------------

    def _on_key(self, event: events.Key) -> None:
        # TextArea inserts a new line on Enter itself; skip that handler (prevent_default)
        # and let Enter bubble on to the bindings, so that it sends and so that `[keys]` can
        # move sending and new lines to other keys.
        if event.key == "enter":
            event.prevent_default()

    def _on_paste(self, event: events.Paste) -> None:
        # A large paste would make the prompt slow and its text impossible to read around:
        # a mark stands for it until the prompt is sent. prevent_default skips TextArea's own
        # handler, which would insert the text itself.
        if self.read_only or not is_large(event.text):
            return
        event.prevent_default()
        mark = fold_mark(event.text, self._pastes)
        self._pastes[mark] = event.text
        start, end = self.selection
        self.replace(mark, start, end, maintain_selection_offset=False)
        self.focus()

    def action_send(self) -> None:
        """Send the prompt: a slash command, or text; nothing when it is blank."""
        if (chosen := self._menu.chosen) is not None:
            self._choose(chosen, send=True)
            return
        row, column = self.cursor_location
        if self.selection.is_empty and column > 0 and self.document[row][column - 1] == "\\":
            # Line continuation: works in every terminal, whatever shift+enter sends.
            self.replace("\n", (row, column - 1), (row, column))
            return
        text = self.text.strip()
        if not text:
            return
        self._send(text)

    def _send(self, text: str) -> None:
        self._menu.close()
        whole = unfold(text, self._pastes).strip()
        self._sent = (whole, text)
        command = parse_slash_command(whole)
        if command is None:
            self.post_message(self.Submitted(self, whole, text if text != whole else None))
        else:
            self.post_message(self.SlashCommand(self, whole, *command))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)

    def action_back(self) -> None:
        """Up: the menu's previous row, the previous prompt from the first row, else the cursor."""
        if self._menu.is_open:
            self._menu.move(-1)
        elif self.selection.is_empty and self._on_first_row():
            self._walk_history(-1)
        else:
            self.action_cursor_up()

    def action_forward(self) -> None:
        """Down: the menu's next row, the next prompt from the last row, else the cursor."""
        if self._menu.is_open:
            self._menu.move(1)
        elif self.selection.is_empty and self._on_last_row():
            self._walk_history(1)
        else:
            self.action_cursor_down()

    def action_complete(self) -> None:
        """Complete to the highlighted row; without a menu, tab moves the focus as usual."""
        chosen = self._menu.chosen
        if chosen is None:
            raise SkipAction()
        self._choose(chosen)

    def action_close_menu(self) -> None:
        """Close the completion; without a menu, Escape goes on to interrupt as usual."""
        if not self._menu.is_open:
            raise SkipAction()
        self._menu_dismissed = True
        self._menu.close()

    # ---- completion ---------------------------------------------------------------------

    def _choose(self, completion: Completion, *, send: bool = False) -> None:
        """Put the completion in the prompt; with `send` (Enter), send it at once.

        Enter on a command that takes an optional argument runs it bare (`/model` shows the
        model); tab completes it, so that the argument can be typed or chosen.
        """
        self._menu.close()
        # Like any sent prompt, a sent command stays in the prompt until the screen clears it;
        # meanwhile the menu stays shut.
        self._quiet_change = send
        text = completion.replacement.rstrip() if send else completion.replacement
        # An edit rather than load_text, so ctrl+z takes a completion back.
        self.replace(text, (0, 0), self.document.end)
        self.move_cursor(self.document.end)
        if send:
            self._send(text)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        # Not stopped: the screen may want to know the prompt changed too.
        if event.text_area is not self:
            return
        if self._quiet_change:
            self._quiet_change = False
            self._menu.close()
            return
        if not self.text.startswith("/"):
            self._menu_dismissed = False  # Escape holds only while the slash line lasts
        if self._menu_dismissed:
            return
        current = {"mode": self.current_mode} if self.current_mode else None
        self._menu.show(completions_for(self.text, current))
