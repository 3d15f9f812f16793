"""The command palette's nanotui commands (ctrl+p): every user action, by name.

The palette asks the screen it was opened from, and the app, for their `command_entries()`
each time it opens, so what it offers follows the state (approve and reject only while an
approval waits) and a screen adds its actions without touching this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True)
class CommandEntry:
    """One action in the palette: its name, one line of help and what runs it."""

    name: str
    help: str
    callback: Callable[[], Any]
    """Called with no arguments once the palette has closed; may be a coroutine function."""


CommandLike = CommandEntry | tuple[str, str, Callable[[], Any]]


@runtime_checkable
class CommandSource(Protocol):
    """A screen or app that offers palette commands."""

    def command_entries(self) -> Iterable[CommandLike]: ...


def gather_entries(*sources: object) -> list[CommandEntry]:
    """The entries of every source that offers them, first name wins, in order."""
    entries: dict[str, CommandEntry] = {}
    for source in sources:
        if not isinstance(source, CommandSource):
            continue
        for item in source.command_entries():
            entry = item if isinstance(item, CommandEntry) else CommandEntry(*item)
            entries.setdefault(entry.name, entry)
    return list(entries.values())


class NanotuiCommands(Provider):
    """Offers the calling screen's commands, then the app's; lists them all with no query."""

    async def startup(self) -> None:
        # Read once per opening: the state the palette was opened in is the one to serve.
        self._entries = gather_entries(self.screen, self.app)

    async def discover(self) -> Hits:
        for entry in self._entries:
            yield DiscoveryHit(entry.name, entry.callback, help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries:
            score = matcher.match(entry.name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(entry.name), entry.callback, entry.name, entry.help
                )
