"""Shell words as the shell reads them: quotes removed, escapes decoded, expansions kept apart.

A word is `literal` when its value is fixed on the line; anything that expands at run time
(variables, substitutions) keeps its raw text and is never trusted as a program name or path.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from tree_sitter import Node

_GLOB_OR_BRACE = re.compile(r"(?<!\\)[*?\[{]")
_BACKSLASH = re.compile(r"\\(.)", re.DOTALL)
_DOUBLE_QUOTED_BACKSLASH = re.compile(r'\\([$`"\\\n])')


@dataclass(slots=True)
class Word:
    """One shell word: its value after quote removal when `literal`, else its raw text."""

    value: str
    literal: bool = True


def basename(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def node_text(node: Node) -> str:
    return node.text.decode(errors="replace") if node.text else ""


def literal_value(node: Node, *, program: bool = False) -> str | None:
    """The word's value after quote removal, or None when it depends on the shell's state."""
    kind = node.type
    text = node_text(node)
    if kind == "word":
        if program and _GLOB_OR_BRACE.search(text):
            return None
        return _BACKSLASH.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)
    if kind in ("raw_string", "number"):
        return text[1:-1] if kind == "raw_string" else text
    if kind == "string":
        if any(c.type != "string_content" for c in node.named_children):
            return None
        return _DOUBLE_QUOTED_BACKSLASH.sub(
            lambda m: "" if m.group(1) == "\n" else m.group(1), text[1:-1]
        )
    if kind == "ansi_c_string":
        return _decode_ansi_c(text[2:-1])
    if kind == "concatenation":
        parts = [literal_value(c, program=program) for c in node.children]
        return None if any(p is None for p in parts) else "".join(parts)  # type: ignore[arg-type]
    return None


def _decode_ansi_c(body: str) -> str | None:
    try:
        value = codecs.decode(body.encode("utf-8"), "unicode_escape")
    except UnicodeDecodeError:
        return None
    # An escape Python does not know (bash's \e, \cX) stays as a backslash: give up then.
    return None if "\\" in value else value


def word_of(node: Node) -> Word:
    value = literal_value(node)
    return Word(value, True) if value is not None else Word(node_text(node), False)
