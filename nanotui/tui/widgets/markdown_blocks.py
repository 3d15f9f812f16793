"""Markdown drawn block by block as lines of `Content`: the renderer behind `AssistantReply`.

Textual's `Markdown` widget mounts a widget per block (and per list item, bullet, cell...);
every layout of the screen walks all of them, so a long reply makes every frame slower. Here a
top-level block is drawn once into lines and only the lines are kept. The look follows
Textual's Markdown (same parser preset, theme variables, bullets, margins); styles are named
as component classes of the widget that renders the lines, so its CSS can change them.

A block's lines depend only on its own tokens and the width, which is what lets a streamed
reply freeze each block as soon as it is complete and still read exactly like the whole text
drawn at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from textual.content import Content, Span
from textual.style import Style

from nanotui.tui.widgets.markdown_code import FENCE, CodeCache, HighlightBudget, render_code

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

BULLETS = ("• ", "▪ ", "‣ ", "⭑ ", "◦ ")
QUOTE_BAR = "▌ "

# Component classes of the rendering widget (see AssistantReply.DEFAULT_CSS).
HEADINGS = {f"h{level}": f"markdown--h{level}" for level in range(1, 7)}
CODE_INLINE = "markdown--code-inline"
BULLET = "markdown--bullet"
QUOTE = "markdown--quote"
RULE = "markdown--rule"
TABLE_HEADER = "markdown--table-header"
TABLE_BORDER = "markdown--table-border"
LINK = "markdown--link"
COMPONENT_CLASSES = {
    *HEADINGS.values(),
    CODE_INLINE,
    FENCE,
    BULLET,
    QUOTE,
    RULE,
    TABLE_HEADER,
    TABLE_BORDER,
    LINK,
}

# Blank lines above and below each kind of top-level block; between two blocks the larger
# of the two applies, as with CSS margins in Textual's Markdown.
MARGINS = {
    "h1": (2, 1),
    "h2": (2, 1),
    "h3": (1, 1),
    "h4": (1, 1),
    "h5": (1, 1),
    "h6": (1, 1),
    "fence": (1, 1),
    "code_block": (1, 1),
    "blockquote": (1, 1),
    "hr": (1, 1),
}
DEFAULT_MARGINS = (0, 1)

INLINE_STYLES = {
    "em_open": Style(italic=True),
    "strong_open": Style(bold=True),
    "s_open": Style(strike=True),
}


@dataclass
class Block:
    """One top-level block: its source, its margins, and its tokens until it is drawn.

    Frozen blocks keep only their source (a string the garbage collector never visits) and
    are parsed again on the rare occasions they must be drawn again (a resize, a new theme).
    """

    source: str
    margins: tuple[int, int] = DEFAULT_MARGINS
    tokens: list[Token] | None = field(default=None, repr=False)


@dataclass
class Node:
    """A node of the block tree: its opening (or only) token and the nodes inside it.

    Unlike markdown-it's `SyntaxTreeNode` it has no link to its parent: the tail of a reply is
    parsed every frame, and parent links would leave reference cycles for the collector.
    """

    type: str
    token: Token
    children: list[Node] = field(default_factory=list)


def build_tree(tokens: Iterable[Token]) -> list[Node]:
    """The top-level nodes of a token stream."""
    top: list[Node] = []
    open_children = [top]
    for token in tokens:
        if token.nesting == 1:
            node = Node(token.type.removesuffix("_open"), token)
            open_children[-1].append(node)
            open_children.append(node.children)
        elif token.nesting == -1:
            open_children.pop()
        else:
            open_children[-1].append(Node(token.type, token))
    return top


@cache
def parser() -> MarkdownIt:
    """The Markdown parser, made on first use: the first frame of the app does not wait for it."""
    from markdown_it import MarkdownIt

    # The preset Textual's Markdown widget uses: tables, strikethrough, linkify, raw HTML...
    markdown = MarkdownIt("gfm-like")
    # ...but only URLs with a scheme become links: `setup.py` is a file name, not a site.
    markdown.linkify.set({"fuzzy_link": False})
    return markdown


def parse_blocks(source: str, env: dict[str, Any] | None = None) -> list[Block]:
    """Split `source` (newlines only as `\\n`) into top-level blocks, with one parse.

    `env` collects link reference definitions, for the blocks parsed after these.
    """
    tokens = parser().parse(source, {} if env is None else env)
    lines = source.split("\n")
    starts: list[int] = []
    blocks: list[Block] = []
    for token in tokens:
        if token.level == 0 and token.nesting >= 0:
            kind = token.tag if token.type == "heading_open" else token.type.removesuffix("_open")
            starts.append(token.map[0] if token.map else 0)
            blocks.append(Block("", MARGINS.get(kind, DEFAULT_MARGINS), []))
        if blocks and blocks[-1].tokens is not None:
            blocks[-1].tokens.append(token)
    for index, block in enumerate(blocks):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        block.source = "\n".join(lines[starts[index] : end])
        if end < len(lines):
            block.source += "\n"
    return blocks


def block_start(source: str) -> int:
    """Where the last top-level block of `source` starts (0 when it has fewer than two)."""
    tokens = parser().parse(source, {})
    starts = [t.map[0] for t in tokens if t.level == 0 and t.nesting >= 0 and t.map]
    if len(starts) < 2:
        return 0
    offset = 0
    for _ in range(starts[-1]):
        offset = source.index("\n", offset) + 1
    return offset


def render_block(
    block: Block,
    width: int,
    env: dict[str, Any] | None = None,
    code_cache: CodeCache | None = None,
    budget: HighlightBudget | None = None,
) -> list[Content]:
    """The lines of one top-level block at `width` cells (none longer than that).

    `env` holds the link references defined so far; `code_cache` keeps highlighted chunks of
    code between calls and `budget` limits highlighting (see `markdown_code`).
    """
    width = max(width, 4)
    tokens = block.tokens
    if tokens is None:
        references = dict((env or {}).get("references", {}))
        tokens = parser().parse(block.source, {"references": references})
    renderer = BlockRenderer(code_cache, budget)
    lines: list[Content] = []
    for node in build_tree(tokens):
        lines.extend(renderer.render(node, width, depth=0))
    return [line.truncate(width) for line in lines]


class BlockRenderer:
    """Draws block nodes into lines; holds what the whole block shares (code cache, budget)."""

    def __init__(
        self, code_cache: CodeCache | None = None, budget: HighlightBudget | None = None
    ) -> None:
        self.code_cache = code_cache
        self.budget = budget

    def render(self, node: Node, width: int, depth: int) -> list[Content]:
        """Lines for a block-level node; `depth` counts the lists it sits in."""
        kind = node.type
        if kind == "paragraph":
            return inline_content(node.children).wrap(width) if node.children else []
        if kind == "heading":
            return self.render_heading(node, width)
        if kind in ("bullet_list", "ordered_list"):
            return self.render_list(node, width, depth)
        if kind in ("fence", "code_block"):
            language = node.token.info.split()[0] if node.token.info.strip() else ""
            return render_code(node.token.content, language, width, self.code_cache, self.budget)
        if kind == "blockquote":
            return self.render_quote(node, width, depth)
        if kind == "hr":
            return [Content.styled("─" * width, f".{RULE}")]
        if kind == "table":
            return self.render_table(node, width)
        # Raw HTML and anything unknown: shown as typed rather than dropped.
        return [
            line
            for text in node.token.content.rstrip("\n").split("\n")
            for line in Content(text).wrap(width)
        ]

    def render_children(
        self, nodes: Sequence[Node], width: int, depth: int, gap: int
    ) -> list[Content]:
        """Blocks inside a container, `gap` blank lines apart."""
        lines: list[Content] = []
        for index, child in enumerate(nodes):
            if index and gap:
                lines.extend([Content()] * gap)
            lines.extend(self.render(child, width, depth))
        return lines

    def render_heading(self, node: Node, width: int) -> list[Content]:
        style = f".{HEADINGS.get(node.token.tag, HEADINGS['h6'])}"
        text = inline_content(node.children).stylize_before(style)
        lines = text.wrap(width)
        if node.token.tag == "h1":
            # h1 is a full-width band with its title centred, as in Textual's Markdown.
            return [_align(line, width, "center").stylize_before(style) for line in lines]
        return lines

    def render_list(self, node: Node, width: int, depth: int) -> list[Content]:
        ordered = node.type == "ordered_list"
        items = [child for child in node.children if child.type == "list_item"]
        if ordered:
            start = int(node.token.attrs.get("start", 1) or 1)
            numbers = [f"{number}. " for number in range(start, start + len(items))]
            size = max(len(number) for number in numbers) + 1
            markers = [number.rjust(size) for number in numbers]
        else:
            markers = [BULLETS[depth % len(BULLETS)]] * len(items)
        # A loose list (blank lines between items) keeps them apart; markdown-it hides the
        # paragraphs of a tight one.
        loose = any(
            not child.token.hidden
            for item in items
            for child in item.children
            if child.type == "paragraph"
        )
        gap = 1 if loose else 0
        lines: list[Content] = []
        for index, (item, marker) in enumerate(zip(items, markers, strict=True)):
            if index and gap:
                lines.append(Content())
            indent = len(marker)
            body = self.render_children(item.children, max(width - indent, 1), depth + 1, gap) or [
                Content()
            ]
            lines.append(Content.assemble((marker, f".{BULLET}"), body[0]))
            lines.extend(Content.assemble(" " * indent, line) for line in body[1:])
        return lines

    def render_quote(self, node: Node, width: int, depth: int) -> list[Content]:
        body = self.render_children(node.children, max(width - len(QUOTE_BAR), 1), depth, gap=1)
        bar = Content.styled(QUOTE_BAR, f".{QUOTE}")
        return [bar + line for line in body]

    def render_table(self, node: Node, width: int) -> list[Content]:
        """A grid: bold header row, a rule under it, columns shrunk and wrapped to fit."""
        rows: list[tuple[bool, list[tuple[Content, str]]]] = []
        for section in node.children:
            for row in section.children:
                cells = [
                    (inline_content(cell.children), _cell_align(cell)) for cell in row.children
                ]
                rows.append((section.type == "thead", cells))
        columns = max((len(cells) for _, cells in rows), default=0)
        if not columns:
            return []
        natural = [1] * columns
        for _, cells in rows:
            for index, (content, _) in enumerate(cells):
                natural[index] = max(natural[index], content.cell_length)
        widths = _fit_columns(natural, width - 3 * (columns - 1) - 2)
        border = f".{TABLE_BORDER}"
        lines: list[Content] = []
        for header, cells in rows:
            wrapped = []
            aligns = []
            for index in range(columns):
                content, align = cells[index] if index < len(cells) else (Content(), "left")
                if header:
                    content = content.stylize_before(f".{TABLE_HEADER}")
                wrapped.append(content.wrap(widths[index]) or [Content()])
                aligns.append(align)
            for y in range(max(len(cell) for cell in wrapped)):
                parts: list[Content | tuple[str, str]] = [" "]
                for index, cell in enumerate(wrapped):
                    if index:
                        parts.append((" │ ", border))
                    text = cell[y] if y < len(cell) else Content()
                    parts.append(_align(text, widths[index], aligns[index]))
                lines.append(Content.assemble(*parts))
            if header:
                rule = "─┼─".join("─" * column for column in widths)
                lines.append(Content.styled(f"─{rule}─", border))
        return lines


def _cell_align(cell: Node) -> str:
    match = re.search(r"text-align:\s*(left|center|right)", str(cell.token.attrs.get("style", "")))
    return match.group(1) if match else "left"


def _align(text: Content, width: int, align: str) -> Content:
    if align == "right":
        return text.right(width)
    if align == "center":
        # (Content.center pads the right side twice over in Textual 8.)
        left = max(width - text.cell_length, 0) // 2
        return text.pad_left(left).truncate(width, pad=True)
    return text.truncate(width, pad=True)


def _fit_columns(natural: list[int], available: int) -> list[int]:
    """Column widths that fit `available` cells: the widest columns give way first."""
    widths = list(natural)
    available = max(available, len(widths))
    while sum(widths) > available:
        widest = max(range(len(widths)), key=widths.__getitem__)
        excess = sum(widths) - available
        others = sorted(set(widths), reverse=True)
        target = others[1] if len(others) > 1 else 1
        widths[widest] = max(widths[widest] - excess, target, 1)
    return widths


def inline_content(children: Iterable[Node]) -> Content:
    """Inline Markdown (the children of a block) as one Content with spans."""
    parts: list[str] = []
    spans: list[Span] = []
    position = 0
    opened: list[tuple[list[str | Style], int]] = []

    def add(text: str) -> None:
        nonlocal position
        parts.append(text)
        position += len(text)

    def close() -> None:
        if opened:
            styles, start = opened.pop()
            if position > start:
                spans.extend(Span(start, position, style) for style in styles)

    for child in children:
        inline = child.token.children if child.token is not None else None
        for token in inline or ():
            kind = token.type
            if kind == "text":
                add(token.content)
            elif kind == "softbreak":
                add(" ")
            elif kind == "hardbreak":
                add("\n")
            elif kind == "code_inline":
                opened.append(([f".{CODE_INLINE}"], position))
                add(token.content)
                close()
            elif kind == "html_inline":
                add(token.content)  # shown as typed: `List<T>` must not lose its `<T>`
            elif kind in INLINE_STYLES:
                opened.append(([INLINE_STYLES[kind]], position))
            elif kind == "link_open":
                href = str(token.attrs.get("href", ""))
                opened.append(([f".{LINK}", Style(link=href)], position))
            elif kind == "image":
                add(f"🖼  {token.content}")
            elif kind.endswith("_close"):
                close()
    return Content("".join(parts), spans)
