"""Turns a shell line into the simple commands it would run, using tree-sitter-bash.

The walk is deliberately closed: it descends only into node types it knows, and records a
problem for anything else, so that the policy never allows what it has not seen. Commands
inside substitutions, heredocs, loops, functions and groups are all listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from tree_sitter import Language, Node, Parser

from nanotui.security.shell.words import (
    Word,
    basename,
    literal_value,
    node_text,
    word_of,
    words_of,
)

CommandKind = Literal["command", "assignment", "test"]

# Nodes that only hold statements (and separators): walked child by child.
_CONTAINERS = {
    "program",
    "list",
    "subshell",
    "compound_statement",
    "do_group",
    "if_statement",
    "elif_clause",
    "else_clause",
    "while_statement",
    "for_statement",
    "c_style_for_statement",
    "case_statement",
    "case_item",
    "negated_command",
}
# Nodes that hold data (words, strings, expansions): only scanned for substitutions.
_DATA = {
    "word",
    "string",
    "raw_string",
    "ansi_c_string",
    "translated_string",
    "concatenation",
    "number",
    "simple_expansion",
    "expansion",
    "arithmetic_expansion",
    "variable_name",
    "array",
    "extglob_pattern",
    "regex",
    "binary_expression",
    "unary_expression",
    "postfix_expression",
    "parenthesized_expression",
    "ternary_expression",
    "test_operator",
    "special_variable_name",
    "brace_expression",
}
_SUBSTITUTIONS = {"command_substitution", "process_substitution"}
_REDIRECTS = {"file_redirect", "heredoc_redirect", "herestring_redirect"}
_GLUED_CONTINUATION = re.compile(r"(?<![\s\\])\\\n(?!\s)")


@dataclass
class Redirect:
    operator: str
    target: Word | None
    """None for heredocs, which only feed standard input."""


@dataclass
class SimpleCommand:
    """One command the line would run, with what the policy needs to judge it."""

    text: str
    kind: CommandKind = "command"
    words: list[Word] = field(default_factory=list)
    assignments: list[str] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    upstream: frozenset[str] = frozenset()
    """Program-like words of the earlier stages of its pipeline (to spot `curl | sh`)."""
    substituted: set[str] = field(default_factory=set)
    """Program-like words of the commands inside its substitutions (to spot `sh <(curl)`)."""
    problems: list[str] = field(default_factory=list)


@dataclass
class ParsedLine:
    commands: list[SimpleCommand] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    denials: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _parser() -> Parser:
    # Imported here so that importing the policy stays cheap until a line is judged.
    import tree_sitter_bash

    return Parser(Language(tree_sitter_bash.language()))


def _stray_backticks(root: Node, line: bytes) -> bool:
    """Whether a backtick lies outside every place the parser accounted for.

    tree-sitter-bash leaves backticks inside unquoted heredocs and `${x:-...}` as text, where
    bash runs them; any backtick not inside a parsed substitution, a single-quoted string, a
    quoted heredoc or a comment is therefore code the policy did not see.
    """
    if b"`" not in line:
        return False
    covered: list[tuple[int, int]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        kind = node.type
        parsed_tick = kind == "command_substitution" and node_text(node).startswith("`")
        quoted = kind in ("raw_string", "comment") or (
            kind == "heredoc_redirect" and _quoted_heredoc(node)
        )
        if parsed_tick or quoted:
            covered.append((node.start_byte, node.end_byte))
        stack.extend(node.children)
    ticks = [i for i, byte in enumerate(line) if byte == ord("`")]
    return any(not any(a <= i < b for a, b in covered) for i in ticks)


def _quoted_heredoc(node: Node) -> bool:
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    return start is not None and any(q in node_text(start) for q in "'\"\\")


def parse_line(line: str) -> ParsedLine:
    """Every simple command of `line`, plus what could not be accounted for."""
    root = _parser().parse(line.encode()).root_node
    walk = _Walk()
    if root.has_error:
        walk.parsed.problems.append("does not parse as shell")
    if _GLUED_CONTINUATION.search(line):
        # bash joins `r\<newline>m` into `rm`; the grammar splits it into two words.
        walk.parsed.problems.append(
            "continues a word on the next line, which the grammar reads differently"
        )
    if _stray_backticks(root, line.encode()):
        walk.parsed.problems.append("has a backtick substitution the parser did not read")
    walk.statement(root, [], frozenset())
    return walk.parsed


class _Walk:
    def __init__(self) -> None:
        self.parsed = ParsedLine()
        self.errors_open = 0

    def statement(self, node: Node, redirects: list[Redirect], upstream: frozenset[str]) -> None:
        kind = node.type
        if kind == "ERROR":
            # Already reported; still walk it so that a denied command inside is seen.
            self.errors_open += 1
            self._container(node, redirects, upstream)
            self.errors_open -= 1
        elif kind in _CONTAINERS:
            self._container(node, redirects, upstream)
        elif kind == "command":
            self._command(node, node, redirects, upstream)
        elif kind == "redirected_statement":
            self._redirected(node, redirects, upstream)
        elif kind == "pipeline":
            self._pipeline(node, redirects, upstream)
        elif kind == "function_definition":
            self._function(node, redirects)
        elif kind in ("variable_assignment", "variable_assignments"):
            self._assignment(node, [node])
        elif kind in ("declaration_command", "unset_command"):
            self._assignment(node, node.named_children)
        elif kind == "test_command":
            self._add(SimpleCommand(node_text(node), kind="test"), node.named_children)
        elif kind in ("comment", "heredoc_body"):
            return
        elif kind in _DATA or kind in _SUBSTITUTIONS or self.errors_open:
            self.scan(node, None)
        else:
            self.parsed.problems.append(f"uses shell syntax the policy does not know ({kind})")

    def _container(self, node: Node, redirects: list[Redirect], upstream: frozenset[str]) -> None:
        if node.type == "compound_statement" and node.child(0) and node.child(0).type == "((":
            # Arithmetic `(( ... ))`: judged as a test (see `arithmetic_problem`).
            self._add(SimpleCommand(node_text(node), kind="test"), node.named_children)
            return
        if node.type == "for_statement":
            # `for NAME in WORDS`: NAME is assigned each word, so it is judged as an assignment
            # (`for PATH in .` changes what runs), and the words as its values.
            name = node.child_by_field_name("variable")
            values = [c for c in node.children_by_field_name("value")]
            if name is not None:
                self._assignment(node, [name, *values], text=f"{node_text(name)}=…")
            for child in node.named_children:
                if child.type in ("do_group", "compound_statement"):
                    self.statement(child, redirects, upstream)
            return
        if node.type == "case_statement":
            value = node.child_by_field_name("value")
            if value is not None and _evaluates_arithmetic(value):
                self.parsed.problems.append(ARITHMETIC_EXPANSION)
        if node.type == "c_style_for_statement":
            # `for ((a; b; c))`: the header is arithmetic too, judged like `(( a; b; c ))`.
            body = node.child_by_field_name("body")
            header = [c for c in node.named_children if c != body]
            text = node_text(node)
            inner = text[text.find("((") + 2 : text.rfind("))")] if "))" in text else text
            self._add(SimpleCommand(f"(({inner}))", kind="test"), header)
            if body is not None:
                self.statement(body, redirects, upstream)
            return
        for child in node.named_children:
            self.statement(child, redirects, upstream)

    def _redirected(self, node: Node, redirects: list[Redirect], upstream: frozenset[str]) -> None:
        own = list(redirects)
        arguments: list[Node] = []
        scanned: list[Node] = []
        for child in node.named_children:
            if child.type in _REDIRECTS:
                self._redirect(child, own, arguments, scanned)
        body = node.child_by_field_name("body")
        if body is None:
            self.parsed.problems.append("has a redirection without a command")
        elif body.type == "command":
            self._command(body, node, own, upstream, arguments, scanned)
        else:
            if arguments:
                self.parsed.problems.append("puts words after the redirection of a group")
            for data in scanned:
                self.scan(data, None)
            self.statement(body, own, upstream)

    def _pipeline(self, node: Node, redirects: list[Redirect], upstream: frozenset[str]) -> None:
        seen = set(upstream)
        for stage in node.named_children:
            start = len(self.parsed.commands)
            self.statement(stage, redirects, frozenset(seen))
            for command in self.parsed.commands[start:]:
                seen.update(basename(w.value) for w in command.words if w.literal)

    def _function(self, node: Node, redirects: list[Redirect]) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        name = literal_value(name_node) if name_node else None
        if body is None:
            return
        if name and _calls_itself_in_parallel(body, name):
            self.parsed.denials.append(
                f"`{node_text(node)}` defines a function that starts copies of itself in a pipe "
                "or in the background: a fork bomb"
            )
        self.statement(body, redirects, frozenset())

    def _assignment(self, node: Node, parts: list[Node], text: str | None = None) -> None:
        names = []
        command = SimpleCommand(text or node_text(node), kind="assignment")
        declares = node.type in ("declaration_command", "unset_command")
        for part in parts:
            target = (
                part.child_by_field_name("name") if part.type == "variable_assignment" else part
            )
            if target is not None and target.type == "variable_name":
                names.append(node_text(target))
            # Bash evaluates array indexes, integer variables and $((...)) as arithmetic, and
            # arithmetic expands a variable's value as more arithmetic: `x='a[$(cmd)]'` then
            # `y[x]=1` runs cmd. Nothing of that kind is judged safe.
            text = literal_value(part) or node_text(part)  # `"-i"` is -i too
            if (target is not None and target.type == "subscript") or (declares and "[" in text):
                command.problems.append(ARITHMETIC_INDEX)
            elif declares and part.type != "variable_assignment" and text.startswith("-"):
                if "i" in text or "n" in text:  # integers, and namerefs (`declare -n r=a[x]`)
                    command.problems.append(ARITHMETIC_INTEGER)
            elif _evaluates_arithmetic(part):
                command.problems.append(ARITHMETIC_EXPANSION)
        command.assignments = names
        self._add(command, parts)

    def _command(
        self,
        node: Node,
        outer: Node,
        redirects: list[Redirect],
        upstream: frozenset[str],
        arguments: list[Node] | None = None,
        scanned: list[Node] | None = None,
    ) -> None:
        command = SimpleCommand(node_text(outer), redirects=list(redirects), upstream=upstream)
        words: list[Node] = []
        data = list(scanned or [])
        for child in node.named_children:
            if child.type == "variable_assignment":
                command.assignments.append(node_text(child.child_by_field_name("name") or child))
                data.append(child)
            elif child.type == "command_name":
                name = child.named_children[0] if child.named_children else child
                value = literal_value(name, program=True)
                if value is None:
                    command.problems.append(
                        f"has a program name (`{node_text(child)}`) that is not a plain word"
                    )
                command.words.append(Word(value or node_text(child), value is not None))
                data.append(child)
            elif child.type in _REDIRECTS:
                self._redirect(child, command.redirects, words, data)
            else:
                words.append(child)
        words += arguments or []
        command.words += [word for node in words for word in words_of(node)]
        self._add(command, words + data)

    def _redirect(
        self, node: Node, redirects: list[Redirect], arguments: list[Node], scanned: list[Node]
    ) -> None:
        """Record the redirection; sort its other words into arguments and data to scan."""
        operator = next((node_text(c) for c in node.children if not c.is_named), "")
        if node.type == "heredoc_redirect":
            problem = _heredoc_problem(node, strip_tabs=operator == "<<-")
            if problem:
                self.parsed.problems.append(problem)
        target: Word | None = None
        for child in node.named_children:
            if child.type in ("file_descriptor", "heredoc_start", "heredoc_end"):
                continue
            if child.type in _REDIRECTS:
                # A heredoc line may carry its own redirection: `cat <<EOF > out`.
                self._redirect(child, redirects, arguments, scanned)
            elif child.type == "heredoc_body" or node.type != "file_redirect":
                scanned.append(child)
            elif target is None:
                target = word_of(child)
                scanned.append(child)
            else:
                # `echo > out hi`: words after the target are arguments of the command.
                arguments.append(child)
        redirects.append(Redirect(operator, target))

    def _add(self, command: SimpleCommand, data: list[Node]) -> None:
        self.parsed.commands.append(command)
        for node in data:
            self.scan(node, command)

    def scan(self, node: Node, owner: SimpleCommand | None, in_arithmetic: bool = False) -> None:
        """Walk the commands of every substitution inside a data node."""
        if node.type not in _SUBSTITUTIONS:
            arithmetic = in_arithmetic or node.type == "arithmetic_expansion"
            for child in node.named_children:
                self.scan(child, owner, arithmetic)
            return
        if in_arithmetic and owner is not None:
            owner.problems.append("runs a command inside arithmetic")
        start = len(self.parsed.commands)
        for inner in node.named_children:
            self.statement(inner, [], frozenset())
        if owner is not None:
            for command in self.parsed.commands[start:]:
                owner.substituted.update(basename(w.value) for w in command.words)


def _heredoc_problem(node: Node, *, strip_tabs: bool) -> str | None:
    """Why the heredoc's end may not be where bash ends it, or None.

    Bash ends a heredoc at the first line equal to its delimiter after quote removal
    (`<<E"O"F` ends at `EOF`). If the parser placed the end elsewhere, the lines between
    would run as commands while the policy read them as data.
    """
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    end = next((c for c in node.children if c.type == "heredoc_end"), None)
    body = next((c for c in node.children if c.type == "heredoc_body"), None)
    if start is None:
        return None
    raw = node_text(start)
    if "$" in raw or "`" in raw:
        return "has a heredoc whose delimiter is computed"
    delimiter = re.sub(r"\\(.)", r"\1", raw).replace("'", "").replace('"', "")
    if end is not None and node_text(end) != delimiter:
        return "has a heredoc whose end the policy cannot place"
    lines = node_text(body).split("\n") if body is not None else []
    if any((line.lstrip("\t") if strip_tabs else line) == delimiter for line in lines):
        return "has a heredoc whose end the policy cannot place"
    return None


ARITHMETIC_INDEX = "sets an array element, whose index bash evaluates as arithmetic"
ARITHMETIC_INTEGER = (
    "declares an integer variable or a name reference, whose values bash evaluates further"
)
ARITHMETIC_EXPANSION = "expands a variable in a way that can run code hidden in its value"


def _evaluates_arithmetic(node: Node) -> bool:
    """Whether the node holds an expansion that can run code hidden in a variable's value:
    $((...)) and $[...], an array index, a substring offset (`${s:i}`), indirection
    (`${!x}`) or a transformation (`${x@P}` expands its value as a prompt)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "arithmetic_expansion":
            return True
        if current.type == "expansion" and any(c in node_text(current) for c in "[:!@"):
            return True
        stack.extend(current.named_children)
    return False


_ARITHMETIC_COMPARISON = re.compile(r"(\S+)\s+-(?:eq|ne|lt|le|gt|ge)\s+(\S+)")
_INTEGER = re.compile(r"-?\d+")


def arithmetic_problem(test: str) -> str | None:
    """Why a `(( ))` or `[[ ]]` test may run hidden code, or None when it cannot.

    Bash evaluates a name in arithmetic as the arithmetic in its value, recursively, and an
    array index in that value runs command substitutions: `x='a[$(cmd)]'; (( x ))` runs cmd.
    So arithmetic is safe only on plain numbers, and `[[ ]]` only without indexes.
    """
    text = test.strip()
    if text.startswith("(("):
        if re.search(r"[A-Za-z_]", text):
            return "evaluates names as arithmetic, which can run commands hidden in their values"
        return None
    if not text.startswith("[["):
        return None  # `[ ... ]` is the test builtin: no arithmetic, and its `[` is its name
    inner = text[2:-2] if text.endswith("]]") else text
    if "[" in inner:
        return "evaluates an array index, which can run commands"
    for left, right in _ARITHMETIC_COMPARISON.findall(inner):
        if not (_INTEGER.fullmatch(left) and _INTEGER.fullmatch(right)):
            return "compares names as arithmetic, which can run commands hidden in their values"
    return None


def _calls_itself_in_parallel(body: Node, name: str) -> bool:
    """Whether the body calls `name` inside a pipeline, or calls it and backgrounds anything."""
    calls_self = calls_in_pipe = backgrounds = False
    stack = [(body, False)]
    while stack:
        node, in_pipe = stack.pop()
        backgrounds = backgrounds or node.type == "&"
        is_name = node.type == "command_name" and node.named_children
        if is_name and literal_value(node.named_children[0]) == name:
            calls_self = True
            calls_in_pipe = calls_in_pipe or in_pipe
        stack.extend((c, in_pipe or node.type == "pipeline") for c in node.children)
    return calls_in_pipe or (calls_self and backgrounds)
