"""The prompt, slash commands, help screen, command palette and key remapping, each driven
with Pilot in a small app that wires them the way the main screen does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from pilot_support import wait_for
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import VerticalScroll
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import OptionList, Static

from nanotui.tui.keymap import apply_keymap, is_key_name, key_label
from nanotui.tui.palette import CommandEntry, NanotuiCommands
from nanotui.tui.pastes import fold_mark, unfold
from nanotui.tui.resources import styles_dir
from nanotui.tui.screens.help import HelpScreen, binding_groups, toggle_help
from nanotui.tui.slash_commands import SLASH_COMMANDS, completions_for, parse_slash_command
from nanotui.tui.widgets.prompt_input import PromptInput


class SessionScreen(Screen[None]):
    """A stand-in for the main screen: a focusable conversation, the prompt, two actions."""

    BINDINGS = [
        Binding("escape", "interrupt", "Interrupt", id="nanotui.interrupt"),
        Binding("shift+tab", "cycle_mode", "Mode", priority=True, id="nanotui.cycle_mode"),
    ]
    AUTO_FOCUS = "#prompt"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Message] = []
        self.calls: list[str] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="chat", can_focus=True):
            yield Static("The conversation.")
        yield PromptInput(id="prompt")

    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        self.sent.append(message)

    def on_prompt_input_slash_command(self, message: PromptInput.SlashCommand) -> None:
        self.sent.append(message)

    def action_interrupt(self) -> None:
        self.calls.append("interrupt")

    def action_cycle_mode(self) -> None:
        self.calls.append("cycle_mode")

    def command_entries(self) -> Iterable[CommandEntry]:
        yield CommandEntry("Interrupt", "Stop the model", self.action_interrupt)
        yield CommandEntry("Cycle mode", "plan, ask, auto-edit, full-auto", self.action_cycle_mode)
        yield CommandEntry("Set mode: plan", "Read-only", lambda: self.calls.append("plan"))


class PromptApp(App[None]):
    CSS_PATH = [str(styles_dir() / name) for name in ("app.tcss", "prompt.tcss", "help.tcss")]
    COMMANDS = App.COMMANDS | {NanotuiCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="nanotui.quit"),
        Binding("f1", "show_help", "Keys and commands", priority=True, id="nanotui.help"),
        Binding("question_mark", "show_help", "Keys and commands", id="nanotui.help_question"),
    ]

    def get_default_screen(self) -> Screen[None]:
        return SessionScreen()

    def action_show_help(self) -> None:
        toggle_help(self)

    def command_entries(self) -> Iterable[tuple[str, str, Callable[[], object]]]:
        yield ("Help", "Keys, binding ids and slash commands", self.action_show_help)
        yield ("Interrupt", "shadowed by the screen's entry of that name", self.bell)


def session(app: App[None]) -> SessionScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, SessionScreen)
    return screen


async def prompt_ready(pilot: Pilot) -> PromptInput:
    prompt = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
    return prompt


def sent(app: App[None]) -> list[tuple[str, ...]]:
    result: list[tuple[str, ...]] = []
    for message in session(app).sent:
        if isinstance(message, PromptInput.SlashCommand):
            result.append(("slash", message.name, message.argument))
        elif isinstance(message, PromptInput.Submitted):
            result.append(("text", message.text))
    return result


# ---- the prompt -------------------------------------------------------------------------


async def test_ctrl_j_inserts_a_new_line_and_enter_sends_the_whole_text() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press(*"fix it", "ctrl+j", *"and test")
        assert prompt.text == "fix it\nand test"
        assert prompt.size.height == 2  # it grows with its lines
        await pilot.press("enter")
        assert sent(app) == [("text", "fix it\nand test")]
        assert prompt.text == "fix it\nand test"  # the screen clears it once it accepts it


async def test_a_backslash_before_enter_makes_a_new_line() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press(*"one\\", "enter", *"two")
        assert prompt.text == "one\ntwo"
        assert sent(app) == []


async def test_a_blank_prompt_is_not_sent() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        await prompt_ready(pilot)
        await pilot.press("enter", "space", "ctrl+j", "space", "enter")
        assert sent(app) == []


async def test_up_and_down_walk_the_history_only_from_the_first_and_last_row() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        prompt.remember("first")
        prompt.remember("second\nline")
        await pilot.press(*"draft")
        await pilot.press("up")
        assert prompt.text == "second\nline"
        assert prompt.cursor_location == (1, 4)
        await pilot.press("up")  # from the last row: the cursor moves, the text stays
        assert prompt.text == "second\nline"
        assert prompt.cursor_location[0] == 0
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("up")  # the oldest stays
        assert prompt.text == "first"
        await pilot.press("down", "down")
        assert prompt.text == "draft"
        assert prompt.prompt_history == ["first", "second\nline"]


async def test_up_in_a_wrapped_line_moves_the_cursor_before_it_walks_the_history() -> None:
    app = PromptApp()
    async with app.run_test(size=(40, 24)) as pilot:
        prompt = await prompt_ready(pilot)
        prompt.remember("older")
        await pilot.press(*("word " * 12))  # one line, wrapped over two rows
        assert prompt.document.line_count == 1
        await pilot.press("up")
        assert prompt.text.startswith("word word")
        await pilot.press("up")
        assert prompt.text == "older"


# ---- slash commands ---------------------------------------------------------------------


def test_every_slash_command_has_a_description_and_parses() -> None:
    names = [spec.name for spec in SLASH_COMMANDS]
    assert names == [
        *("help", "mode", "model", "clear", "cost", "policy", "mcp"),
        *("checkpoints", "audit", "timeline", "resume", "trust", "quit"),
    ]
    assert all(spec.description for spec in SLASH_COMMANDS)
    assert parse_slash_command("/mode plan") == ("mode", "plan")
    assert parse_slash_command("  /model  qwen2.5-coder:14b \n") == ("model", "qwen2.5-coder:14b")
    assert parse_slash_command("/Nope") == ("Nope", "")
    assert parse_slash_command("/etc/hosts looks odd") is None  # a path, not a command
    assert parse_slash_command("fix /tmp") is None


def test_completion_offers_command_names_then_mode_choices() -> None:
    # Names that start with the letters first, then those that hold them.
    assert [c.label for c in completions_for("/c")] == [
        *("/clear", "/cost", "/checkpoints", "/policy", "/mcp")
    ]
    assert [c.label for c in completions_for("/mode ")] == ["plan", "ask", "auto-edit", "full-auto"]
    assert [c.replacement for c in completions_for("/mode a")] == ["/mode ask", "/mode auto-edit"]
    assert completions_for("/model ") == []  # no known choices
    assert completions_for("/cost\nmore") == []


async def test_slash_completion_filters_as_you_type_and_tab_completes() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press("slash")
        assert prompt.menu.is_open
        assert len(prompt.menu.completions) == len(SLASH_COMMANDS)
        await pilot.press("c", "o")
        assert [c.label for c in prompt.menu.completions] == ["/cost"]
        await pilot.press("backspace", "h")
        assert [c.label for c in prompt.menu.completions] == ["/checkpoints"]
        await pilot.press("tab")
        assert prompt.text == "/checkpoints"
        assert prompt.has_focus  # tab completed rather than moving the focus


async def test_mode_plan_completes_and_posts_slash_command_mode_plan() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press(*"/mo", "tab")
        assert prompt.text == "/mode "
        assert [c.label for c in prompt.menu.completions] == [
            *("plan", "ask", "auto-edit", "full-auto")
        ]
        await pilot.press("down", "up", "enter")
        assert sent(app) == [("slash", "mode", "plan")]
        assert not prompt.menu.is_open


async def test_enter_on_a_command_without_argument_sends_it() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        await prompt_ready(pilot)
        await pilot.press(*"/co", "enter")
        assert sent(app) == [("slash", "cost", "")]


async def test_enter_on_a_whole_command_name_runs_it_bare_even_if_it_takes_an_argument() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press(*"/model", "enter")
        assert sent(app) == [("slash", "model", "")]  # one Enter, not a completion to "/model "
        assert not prompt.menu.is_open
        prompt.clear()
        await pilot.press(*"/mode", "enter")
        assert sent(app)[-1] == ("slash", "mode", "")
        prompt.clear()
        await pilot.press(*"/mod", "tab")  # tab still completes, for the argument
        assert prompt.text == "/mode "
        assert len(sent(app)) == 2


async def test_the_mode_choices_mark_the_mode_in_force() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        prompt.current_mode = "auto-edit"
        await pilot.press(*"/mode ")
        rows = {c.label: c.hint for c in prompt.menu.completions}
        assert rows == {"plan": "", "ask": "", "auto-edit": "(current)", "full-auto": ""}
        assert "auto-edit (current)" in str(prompt.menu.get_option_at_index(2).prompt)


async def test_an_unknown_command_is_posted_with_its_name_as_typed() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press(*"/deploy now")
        assert not prompt.menu.is_open
        await pilot.press("enter")
        prompt.load_text("/etc/hosts is odd")
        await pilot.press("enter")
        assert sent(app) == [("slash", "deploy", "now"), ("text", "/etc/hosts is odd")]


async def test_escape_closes_the_menu_first_then_reaches_the_screen() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press("slash", "escape")
        assert not prompt.menu.is_open
        assert session(app).calls == []
        await pilot.press("m")  # the menu stays shut while this slash line lasts
        assert not prompt.menu.is_open
        await pilot.press("escape")
        assert session(app).calls == ["interrupt"]


# ---- pastes -------------------------------------------------------------------------------

PASTE = "".join(f"{i:05d} {'x' * 48}\n" for i in range(4012))


async def test_a_large_paste_shows_as_a_mark_and_is_sent_whole() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press(*"explain ")
        app.post_message(events.Paste(PASTE))  # as the terminal's bracketed paste arrives
        await wait_for(pilot, lambda: "pasted" in prompt.text, "the paste")
        assert prompt.text == "explain [pasted 4,012 lines, 215 KB]"
        assert prompt.document.line_count == 1
        await pilot.press("enter")
        assert sent(app) == [("text", "explain " + PASTE.rstrip())]
        # The history recalls the prompt as it was typed, and sends the paste again.
        prompt.remember(session(app).sent[0].text)
        prompt.clear()
        await pilot.press("up")
        assert prompt.text == "explain [pasted 4,012 lines, 215 KB]"
        await pilot.press("enter")
        assert sent(app)[-1] == ("text", "explain " + PASTE.rstrip())


async def test_a_small_paste_is_inserted_as_it_is() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        app.post_message(events.Paste("one\ntwo"))
        await wait_for(pilot, lambda: prompt.text == "one\ntwo", "the paste")


def test_two_different_pastes_of_the_same_size_get_marks_of_their_own() -> None:
    first, second = "a" * 5000, "b" * 5000
    assert fold_mark(first) == "[pasted 1 line, 5 KB]"
    taken = {fold_mark(first): first}
    assert fold_mark(second, taken) == "[pasted 1 line, 5 KB #2]"
    assert fold_mark(first, taken) == "[pasted 1 line, 5 KB]"
    taken["[pasted 1 line, 5 KB #2]"] = second
    assert unfold("[pasted 1 line, 5 KB] and [pasted 1 line, 5 KB #2]", taken) == (
        f"{first} and {second}"
    )


async def test_a_recalled_command_does_not_open_the_menu() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        prompt.remember("fix the tests")
        prompt.remember("/mode plan")
        await pilot.press("up")
        assert prompt.text == "/mode plan"
        assert not prompt.menu.is_open
        await pilot.press("up")  # so up goes on through the history
        assert prompt.text == "fix the tests"


# ---- help ---------------------------------------------------------------------------------


def screen_text(app: App[None]) -> str:
    return app.export_screenshot().replace("&#160;", " ")


async def test_f1_opens_help_listing_binding_ids_and_slash_commands() -> None:
    app = PromptApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await prompt_ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        groups = {group.title: group for group in binding_groups(session(app))}
        assert list(groups) == [
            *("Prompt input", "Session screen", "Everywhere"),
            *("Prompt input, fixed keys", "Session screen, fixed keys", "Everywhere, fixed keys"),
        ]
        rows = {row.binding_id: row for group in groups.values() for row in group.rows}
        assert rows["prompt.newline"].keys == ("ctrl+j", "shift+enter")
        assert rows["nanotui.interrupt"].keys == ("escape",)
        assert rows["nanotui.help_question"].keys == ("?",)
        assert tuple(
            row.description
            for row in groups["Prompt input, fixed keys"].rows
            if row.keys == ("ctrl+left",)
        ) == ("Cursor word left",)
        assert "nanotui.cycle_mode" in screen_text(app)
        await pilot.press("end")  # the list scrolls down to the slash commands
        await wait_for(pilot, lambda: "/checkpoints" in screen_text(app), "the commands")
        await pilot.press("escape")
        assert isinstance(app.screen, SessionScreen)


async def test_question_mark_types_in_the_prompt_and_opens_help_elsewhere() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = await prompt_ready(pilot)
        await pilot.press("question_mark")
        assert prompt.text == "?"
        assert isinstance(app.screen, SessionScreen)
        app.screen.query_one("#chat").focus()
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await pilot.press("f1")  # F1 toggles it shut again
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "help to close")


# ---- the command palette --------------------------------------------------------------------


async def open_palette(pilot: Pilot) -> OptionList:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: CommandPalette.is_open(pilot.app), "the palette")
    options = pilot.app.screen.query_one(OptionList)
    await wait_for(pilot, lambda: options.option_count > 0, "the palette's commands")
    return options


async def test_the_palette_lists_our_commands_and_runs_the_one_chosen() -> None:
    app = PromptApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await prompt_ready(pilot)
        options = await open_palette(pilot)
        shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert {"Interrupt", "Cycle mode", "Set mode: plan", "Help"} <= {
            line.splitlines()[0] for line in shown
        }
        await pilot.press(*"cycle")
        await wait_for(pilot, lambda: "Cycle" in str(options.get_option_at_index(0).prompt), "hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: session(app).calls == ["cycle_mode"], "the command to run")


async def test_the_screens_entry_wins_over_the_apps_of_the_same_name() -> None:
    app = PromptApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await prompt_ready(pilot)
        options = await open_palette(pilot)
        await pilot.press(*"interrupt")
        await wait_for(pilot, lambda: options.option_count == 1, "one hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: session(app).calls == ["interrupt"], "the interrupt")


# ---- key remapping ------------------------------------------------------------------------


async def test_keymap_moves_a_binding_to_a_new_key() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        await prompt_ready(pilot)
        assert apply_keymap(app, {"nanotui.help": "f2", "nanotui.interrupt": "f5"}) == []
        await pilot.press("f1")  # the old key no longer opens help
        assert isinstance(app.screen, SessionScreen)
        await pilot.press("f5")
        assert session(app).calls == ["interrupt"]
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        rows = [row for group in binding_groups(session(app)) for row in group.rows]
        assert next(r for r in rows if r.binding_id == "nanotui.help").keys == ("f2",)


async def test_keymap_reports_an_unknown_id_and_a_key_that_is_no_key() -> None:
    app = PromptApp()
    async with app.run_test() as pilot:
        await prompt_ready(pilot)
        warnings = apply_keymap(
            app, {"nanotui.interupt": "f5", "nanotui.quit": "ctlr+q", "prompt.send": "ctrl+s"}
        )
        assert warnings == [
            '[keys] names "nanotui.interupt", which is no binding id (did you mean '
            '"nanotui.interrupt"?); the help screen (F1) lists them, so that entry was ignored.',
            '[keys] "nanotui.quit" = "ctlr+q": "ctlr+q" is not a key name (for example '
            '"ctrl+k", "f2", "escape", "shift+tab"), so that entry was ignored.',
        ]
        await pilot.press(*"hi", "ctrl+s")  # the valid entry still applies
        assert sent(app) == [("text", "hi")]


def test_key_names_are_checked_and_shown_as_typed_in_config() -> None:
    assert all(map(is_key_name, ["a", "?", "f2", "ctrl+j", "shift+tab", "question_mark"]))
    assert not any(map(is_key_name, ["ctlr+j", "ctrl+", "", "hyperspace"]))
    assert key_label("question_mark") == "?"
    assert key_label("space") == "space"


# ---- snapshots ----------------------------------------------------------------------------


async def open_help(pilot: Pilot) -> None:
    await prompt_ready(pilot)
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help screen")
    await pilot.pause()


async def open_slash_menu(pilot: Pilot) -> None:
    prompt = await prompt_ready(pilot)
    await pilot.press("slash", "c")
    await wait_for(pilot, lambda: prompt.menu.is_open, "the completion")
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["wide", "narrow"])
def test_snapshot_help(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(PromptApp(), terminal_size=size, run_before=open_help)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["wide", "narrow"])
def test_snapshot_slash_menu(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(PromptApp(), terminal_size=size, run_before=open_slash_menu)
