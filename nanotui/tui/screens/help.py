"""The help screen (F1, or `?` outside the prompt): the keys where you are, and the commands.

Nothing here is a hand-kept table: the keys come from the live bindings of the screen
underneath, with the `[keys]` remapping applied, so the ids shown are exactly those the
config can remap and the keys are those that work now.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from nanotui.tui.keymap import key_label, remapped
from nanotui.tui.slash_commands import SLASH_COMMANDS, SlashCommandSpec

INTRO = (
    "The keys in reach now, then the slash commands. To move a key, give its id a new key "
    'in config.toml: [keys] "nanotui.interrupt" = "ctrl+c".'
)


@dataclass(frozen=True)
class BindingRow:
    """One action and every key that runs it."""

    keys: tuple[str, ...]
    description: str
    binding_id: str | None


@dataclass(frozen=True)
class BindingGroup:
    """The bindings one widget, screen or the app brings."""

    title: str
    rows: tuple[BindingRow, ...]


def binding_groups(screen: Screen[object]) -> list[BindingGroup]:
    """The bindings in reach on `screen`: the remappable ones first, then the fixed ones.

    Walks the focused widget and its ancestors up to the app, then the screen's other
    widgets. Bindings with an id come first, grouped by where they live: those are the
    actions a user can remap (an approval's keys too, while the prompt has the focus). The
    focus chain's bindings without an id (the prompt's editing keys, say) follow, each group
    marked "fixed keys"; the other widgets' unnamed scroll keys are left out.
    """
    app = screen.app
    focused = screen.focused
    chain: list[DOMNode] = list(focused.ancestors_with_self) if focused else [screen, app]
    if app not in chain:
        chain.append(app)
    nodes = _one_per_class([*chain, *screen.walk_children()])
    named: list[BindingGroup] = []
    fixed: list[BindingGroup] = []
    for node in nodes:
        title = _title(node, app)
        rows = _rows(node, app)
        if with_id := tuple(row for row in rows if row.binding_id):
            named.append(BindingGroup(title, with_id))
        if node in chain and (without := tuple(row for row in rows if not row.binding_id)):
            fixed.append(BindingGroup(f"{title}, fixed keys", without))
    return [*named, *fixed]


def _one_per_class(nodes: Iterable[DOMNode]) -> list[DOMNode]:
    # Forty tool-call blocks bring the same keys forty times; list them once.
    seen: dict[type[DOMNode], DOMNode] = {}
    for node in nodes:
        seen.setdefault(type(node), node)
    return list(seen.values())


def _rows(node: DOMNode, app: App[object]) -> tuple[BindingRow, ...]:
    by_action: dict[tuple[str, str, str | None], list[str]] = {}
    for key, binding in remapped(node._bindings, app):
        if binding.system or not binding.description:
            continue
        # One row per action: a binding with several keys (or a remapped one) comes as
        # several entries here.
        slot = (binding.action, binding.description, binding.id)
        by_action.setdefault(slot, []).append(key_label(key))
    return tuple(
        BindingRow(tuple(dict.fromkeys(keys)), description, binding_id)
        for (_, description, binding_id), keys in by_action.items()
    )


def _title(node: DOMNode, app: App[object]) -> str:
    if node is app:
        return "Everywhere"
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", type(node).__name__)
    return " ".join(words).capitalize()


def bindings_table(rows: Iterable[BindingRow], key_width: int = 10, id_width: int = 0) -> Table:
    """Key, action and binding id in three columns (fixed widths line up several tables)."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column("key", style="bold", width=key_width)
    table.add_column("action", ratio=1)
    table.add_column("id", no_wrap=True, style="dim", width=id_width or None)
    for row in rows:
        table.add_row(", ".join(row.keys), row.description, row.binding_id or "")
    return table


def commands_table(
    commands: Iterable[SlashCommandSpec] = SLASH_COMMANDS, usage_width: int = 10
) -> Table:
    """Each slash command with its argument and what it does."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column("command", no_wrap=True, style="bold", min_width=usage_width)
    table.add_column("description", ratio=1)
    for spec in commands:
        usage = Text(f"/{spec.name}", style="bold")
        if spec.argument:
            usage.append(f" {spec.argument}", style="not bold dim")
        description = spec.description
        if spec.choices:
            description += f": {', '.join(spec.choices)}"
        table.add_row(usage, description)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key in reach with its binding id, and the slash commands; scrolls; Esc closes."""

    BINDINGS = [
        Binding("escape,q,f1,question_mark", "close", "Close help", id="help.close"),
    ]

    def __init__(self, source: Screen[object] | None = None) -> None:
        super().__init__()
        self._source = source

    def _source_screen(self) -> Screen[object]:
        if self._source is not None:
            return self._source
        below = [screen for screen in self.app.screen_stack if screen is not self]
        return below[-1] if below else self

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog") as dialog:
            dialog.border_title = "Help"
            dialog.border_subtitle = "esc close · ↑↓ scroll"
            yield Static(INTRO, id="help-intro", markup=False)
            groups = binding_groups(self._source_screen())
            rows = [row for group in groups for row in group.rows]
            # Wide enough for most keys; a long list of aliases wraps within its column.
            key_width = min(max((len(", ".join(row.keys)) for row in rows), default=10), 20)
            id_width = max((len(row.binding_id or "") for row in rows), default=0)
            with VerticalScroll(id="help-body"):
                for group in groups:
                    yield Static(group.title, classes="help-section")
                    table = bindings_table(group.rows, key_width, id_width)
                    yield Static(table, classes="help-table")
                yield Static("Slash commands (type / in the prompt)", classes="help-section")
                yield Static(commands_table(usage_width=key_width), classes="help-table")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


def toggle_help(app: App[object]) -> None:
    """Open the help over the current screen, or close it if it is what is showing."""
    if isinstance(app.screen, HelpScreen):
        app.screen.dismiss(None)
    else:
        app.push_screen(HelpScreen())
