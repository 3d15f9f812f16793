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
_UNESCAPED_BRACE = re.compile(r"(?<!\\)\{")
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
    """One word, as a redirection target reads it: a brace list there is not trusted."""
    value = literal_value(node)
    if value is None or _has_brace_list(node):
        return Word(node_text(node), False)
    return Word(value, True)


def words_of(node: Node) -> list[Word]:
    """The words an argument becomes: `{/,x}` is two arguments, `/` and `x`, as bash reads it.

    A word whose braces cannot be expanded here (sequences, expansions inside, too many
    words) is kept whole and marked not literal, so nothing trusts it.
    """
    if not _has_brace_list(node):
        return [word_of(node)]
    # tree-sitter splits `"/"{,}` into a quoted part and plain words. Quoted text takes no
    # part in brace expansion, so it goes in escaped, character by character.
    parts = node.children if node.type == "concatenation" else [node]
    pieces: list[str] = []
    for part in parts:
        if part.type == "word":
            pieces.append(node_text(part))
            continue
        value = literal_value(part)
        if value is None:
            return [Word(node_text(node), False)]
        pieces.append("".join("\\" + char for char in value))
    expanded = expand_braces("".join(pieces))
    if expanded is None:
        return [Word(node_text(node), False)]
    # Empty results vanish, as in bash (`x{,}` is `x`, `{,}` is nothing); quoted empties stay.
    quoted_empty = any(part.type != "word" for part in parts)
    return [Word(_BACKSLASH.sub(r"\1", value), True) for value in expanded if value or quoted_empty]


MAX_BRACE_WORDS = 64


def _has_brace_list(node: Node) -> bool:
    """Whether the word holds an unquoted `{` (a brace list or sequence for bash)."""
    if node.type == "word":
        return bool(_UNESCAPED_BRACE.search(node_text(node)))
    if node.type in ("concatenation", "brace_expression"):
        return node.type == "brace_expression" or any(_has_brace_list(c) for c in node.children)
    return False


def expand_braces(text: str) -> list[str] | None:
    """Bash's brace expansion of comma lists (`a{b,c{d,e}}f`); None for what it leaves out."""
    start = _first_list(text)
    if start is None:
        return None if _UNESCAPED_BRACE.search(text) and ".." in text else [text]
    open_at, close_at, commas = start
    head, tail = text[:open_at], text[close_at + 1 :]
    pieces = [text[a + 1 : b] for a, b in zip([open_at, *commas], [*commas, close_at], strict=True)]
    results: list[str] = []
    for piece in pieces:
        expanded = expand_braces(head + piece + tail)
        if expanded is None or len(results) + len(expanded) > MAX_BRACE_WORDS:
            return None
        results += expanded
    return results


def _first_list(text: str) -> tuple[int, int, list[int]] | None:
    """The first `{...}` holding a comma at its own level: (open, close, comma positions)."""
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == "{":
            depth, commas, at = 0, [], index
            while at < len(text):
                char = text[at]
                if char == "\\":
                    at += 2
                    continue
                depth += char == "{"
                depth -= char == "}"
                if char == "," and depth == 1:
                    commas.append(at)
                if depth == 0:
                    break
                at += 1
            if depth == 0 and commas:
                return index, at, commas
        index += 1
    return None
