"""The words an event's summary can hold that its record does not spell out.

A summary (`event_summary.describe`) is its template's own words around values copied from
the record. A search that looks for a word in the raw log lines, to read in full only the
lines that hold it, is exact when the word is none of the templates' own: a summary then
holds it only where the record spells it out. These words are taken from the code itself
(the text in the templates of `event_summary` and of the helpers it calls), so a template
added or changed is counted without a list to keep up to date. Counting too many is safe: a
search for such a word only reads more lines.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterator
from types import CodeType, ModuleType

from nanotui.protocol import basics, checkpoints, diffs, event_summary, spend, tool_output

TEMPLATE_MODULES: tuple[ModuleType, ...] = (
    event_summary,
    basics,
    checkpoints,
    diffs,
    spend,
    tool_output,
)
"""`event_summary` and the modules of the helpers it writes summaries with."""

WORD = re.compile(r"[a-z0-9_./-]+")
"""A word, as `template_words` counts them: the characters JSON writes as they are."""

VALUE_WORDS = ("none", "true", "false")
"""What Python writes for a value that is not text (a record's `null` reads `None`)."""


@functools.cache
def template_words() -> frozenset[str]:
    """The words (lower case) of the templates' own text, of every kind's name and of
    `VALUE_WORDS`, each also with an "s" (`plural` adds one to a template's noun)."""
    texts = [*event_summary.STYLES, *VALUE_WORDS]
    for module in TEMPLATE_MODULES:
        for function in _functions_of(module):
            texts.extend(_strings_of(function.__code__, skip=function.__doc__))
    words = {word for text in texts for word in WORD.findall(text.lower())}
    return frozenset(words | {word + "s" for word in words})


def _functions_of(module: ModuleType) -> Iterator[object]:
    for value in vars(module).values():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value):
            yield value
        elif inspect.isclass(value):
            for member in vars(value).values():
                member = getattr(member, "__func__", getattr(member, "fget", member))
                if inspect.isfunction(member):
                    yield member


def _strings_of(code: CodeType, skip: str | None = None) -> Iterator[str]:
    for constant in code.co_consts:
        if isinstance(constant, str) and constant != skip:
            yield constant
        elif isinstance(constant, CodeType):
            yield from _strings_of(constant)
