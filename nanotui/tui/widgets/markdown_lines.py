"""Markdown blocks shown as drawn lines: one widget on the screen, however long the text.

Textual's `Markdown` mounts a widget per block, list item, bullet and table cell, and every
layout of the screen visits all of them: a long reply makes each frame slower. This widget
instead draws its blocks into lines and keeps the lines. Frozen blocks (which will not change)
are drawn once; the tail blocks are drawn again whenever they change. Subclasses decide which
is which (`AssistantReply` freezes a streamed block once later text cannot change it).
"""

from __future__ import annotations

import time
from typing import Any

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Size
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style
from textual.timer import Timer
from textual.widget import Widget

from nanotui.tui.widgets import markdown_blocks
from nanotui.tui.widgets.markdown_blocks import Block, render_block
from nanotui.tui.widgets.markdown_code import CodeCache, HighlightBudget

# A drawn line as (text, style number) pairs. Tuples of strings and ints are left alone by
# the garbage collector, while Strips carry caches and style objects that every full
# collection would walk through, a pause that grows with the text. Strips are made only for
# the lines on the screen.
Line = tuple[tuple[str, int], ...]
STRIP_CACHE_SIZE = 128  # strips kept for lines on the screen: a few screens' worth
# Highlighting per drawing; code beyond it is drawn plain, then drawn again a frame later.
HIGHLIGHT_BUDGET_S = 0.008
REDRAW_DELAY_S = 1 / 30


class ChunkCache(dict[Any, Any]):
    """Highlighted code chunks: those the last drawing used, kept for the next one."""

    def __init__(self, previous: dict[Any, Any]) -> None:
        super().__init__()
        self.previous = previous

    def get(self, key: Any, default: Any = None) -> Any:
        value = super().get(key)
        if value is None and (value := self.previous.get(key)) is not None:
            self[key] = value
        return default if value is None else value


class MarkdownLines(Widget):
    """Frozen blocks drawn once, tail blocks drawn whenever they change; all as lines."""

    COMPONENT_CLASSES = markdown_blocks.COMPONENT_CLASSES

    # The look of Textual's Markdown widget, on the same theme variables.
    DEFAULT_CSS = """
    MarkdownLines {
        width: 1fr;
        height: auto;
        color: $foreground;
        & > .markdown--h1 {
            color: $markdown-h1-color;
            background: $markdown-h1-background;
            text-style: $markdown-h1-text-style;
        }
        & > .markdown--h2 {
            color: $markdown-h2-color;
            background: $markdown-h2-background;
            text-style: $markdown-h2-text-style;
        }
        & > .markdown--h3 {
            color: $markdown-h3-color;
            background: $markdown-h3-background;
            text-style: $markdown-h3-text-style;
        }
        & > .markdown--h4 {
            color: $markdown-h4-color;
            background: $markdown-h4-background;
            text-style: $markdown-h4-text-style;
        }
        & > .markdown--h5 {
            color: $markdown-h5-color;
            background: $markdown-h5-background;
            text-style: $markdown-h5-text-style;
        }
        & > .markdown--h6 {
            color: $markdown-h6-color;
            background: $markdown-h6-background;
            text-style: $markdown-h6-text-style;
        }
        &:dark > .markdown--code-inline {
            background: $warning 10%;
            color: $text-warning 95%;
        }
        &:light > .markdown--code-inline {
            background: $error 5%;
            color: $text-error 95%;
        }
        & > .markdown--fence {
            background: black 10%;
        }
        &:light > .markdown--fence {
            background: black 5%;
        }
        & > .markdown--bullet {
            color: $text-primary;
        }
        &:light > .markdown--bullet {
            color: $text-secondary;
        }
        & > .markdown--quote {
            color: $text-primary 50%;
        }
        & > .markdown--rule {
            color: $secondary;
        }
        & > .markdown--table-header {
            color: $text-primary;
            text-style: bold;
        }
        & > .markdown--table-border {
            color: $foreground 30%;
        }
        & > .markdown--link {
            color: $text-accent;
            text-style: underline;
        }
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._frozen: list[Block] = []
        self._tail: list[Block] = []
        self.streaming = False
        """Text is still arriving: a fence's lexer not made yet is made off the event loop."""
        # Link reference definitions from frozen blocks, for the blocks after them.
        self._env: dict[str, Any] = {"references": {}}
        # What the lines were drawn for (width, theme, style): any change draws them again.
        self._draw_key: tuple[object, ...] = ()
        self._width = 0
        self._frozen_drawn = 0
        self._frozen_lines: list[Line] = []
        self._tail_lines: list[Line] | None = None
        self._palette: list[RichStyle | None] = []
        self._palette_numbers: dict[RichStyle | None, int] = {}
        self._style_numbers: dict[Style, int] = {}
        self._strip_cache: LRUCache[tuple[int, Line], Strip] = LRUCache(STRIP_CACHE_SIZE)
        # Highlighted chunks of the code being streamed, and their drawn lines by Content.
        self._code_cache: CodeCache = {}
        self._drawn: dict[int, tuple[Content, Line]] = {}
        self._redraw_timer: Timer | None = None
        self._measured_height = -1
        """The height the last layout was given (`get_content_height`)."""

    def _blocks_changed(self) -> None:
        """The frozen or tail blocks changed: draw them again, and lay out again if their
        height changed."""
        self._tail_lines = None
        if self._width and self.is_attached:
            # Drawn now, in this callback, rather than inside the next frame's layout: the
            # two together could hold the event loop up for longer than either does.
            self._draw(self._width)
            height = len(self._frozen_lines) + len(self._tail_lines or ())
            if height == self._measured_height and not self._layout_required:
                # Words added to the last line: a layout of the whole screen (and a drawing
                # of every widget on it) would change nothing but this widget's lines.
                self.refresh()
                return
        if self._layout_required:
            # Textual keys its box-model cache on `_layout_updates`, which `refresh` leaves
            # alone while a layout is pending; a screen layout that ran in between measured
            # this widget before the change, and the pending one would reuse that height.
            self._layout_updates += 1
        self.refresh(layout=True)

    # ---- layout -------------------------------------------------------------------------

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._draw(width)
        self._measured_height = len(self._frozen_lines) + len(self._tail_lines or ())
        return self._measured_height

    def notify_style_update(self) -> None:
        # A new theme or class may change colours drawn into the lines: `_draw` checks.
        super().notify_style_update()
        self.refresh(layout=True)

    # ---- drawing ------------------------------------------------------------------------

    def _draw(self, width: int) -> None:
        """Bring the lines up to date for `width`: new frozen blocks, then the tail.

        A frozen block is kept (and never drawn again) only once drawn in full; code that the
        highlighting budget had no time for is drawn plain in the tail lines meanwhile, and
        drawn again shortly.
        """
        key = (width, self.app.theme, self.visual_style, self.classes)
        if key != self._draw_key:
            self._draw_key = key
            self._width = width
            self._frozen_drawn = 0
            self._frozen_lines = []
            self._tail_lines = None
            self._palette = []
            self._palette_numbers = {}
            self._style_numbers = {}
            self._strip_cache.clear()
            self._code_cache = {}
            self._drawn = {}
        if self._tail_lines is not None:
            return  # nothing changed since the last drawing
        started = time.monotonic()
        budget = HighlightBudget(started + HIGHLIGHT_BUDGET_S, lexers_later=self.streaming)
        code_cache = ChunkCache(self._code_cache)
        drawn: dict[int, tuple[Content, Line]] = {}
        undrawn = len(self._frozen) - self._frozen_drawn
        previous = self._frozen[self._frozen_drawn - 1] if self._frozen_drawn else None
        tail_lines: list[Line] = []
        for index, block in enumerate(self._frozen[self._frozen_drawn :] + self._tail):
            refused = budget.refused
            lines = self._draw_block(previous, block, width, code_cache, budget, drawn)
            if index < undrawn and not tail_lines and budget.refused == refused:
                self._frozen_lines.extend(lines)
                self._frozen_drawn += 1
                block.tokens = None  # parsed again from the source if ever drawn again
            else:
                tail_lines.extend(lines)
            previous = block
        self._tail_lines = tail_lines
        # Keep only what this drawing used: the chunks of a fence still being streamed.
        self._code_cache = dict(code_cache)
        self._drawn = drawn
        if budget.refused and self._redraw_timer is None:
            self._redraw_timer = self.set_timer(REDRAW_DELAY_S, self._redraw, name="redraw")

    def _redraw(self) -> None:
        self._redraw_timer = None
        self._blocks_changed()

    def _draw_block(
        self,
        previous: Block | None,
        block: Block,
        width: int,
        code_cache: CodeCache,
        budget: HighlightBudget,
        drawn: dict[int, tuple[Content, Line]],
    ) -> list[Line]:
        """A block's lines, after the blank lines that part it from the block before."""
        base = self.visual_style
        gap = max(previous.margins[1], block.margins[0]) if previous is not None else 0
        lines = [self._line(Content(), base, width)] * gap
        for content in render_block(block, width, self._env, code_cache, budget):
            # The same Content again (a cached code chunk) has the same line.
            known = self._drawn.get(id(content))
            line = known[1] if known and known[0] is content else None
            if line is None:
                line = self._line(content, base, width)
            drawn[id(content)] = (content, line)
            lines.append(line)
        return lines

    def _line(self, content: Content, base: Style, width: int) -> Line:
        """One line as (text, style number) pairs, padded to `width`."""
        number = self._number
        pairs = [
            (text, number(style))
            for text, style in content.render(base, end="", parse_style=self._resolve_style)
        ]
        if (padding := width - content.cell_length) > 0:
            pairs.append((" " * padding, number(base)))
        return tuple(pairs)

    def _number(self, style: Style) -> int:
        """The palette number of a style (equal styles share one Rich style)."""
        number = self._style_numbers.get(style)
        if number is None:
            rich_style = style.rich_style
            number = self._palette_numbers.get(rich_style)
            if number is None:
                number = self._palette_numbers[rich_style] = len(self._palette)
                self._palette.append(rich_style)
            self._style_numbers[style] = number
        return number

    def _resolve_style(self, style: str | Style) -> Style:
        """A span's style: a component class (".markdown--h1") or a style with variables."""
        if isinstance(style, Style):
            return style
        if style.startswith("."):
            return self.get_visual_style(style[1:], partial=True)
        try:
            return Style.parse(style)
        except Exception:  # a highlighter style this theme cannot express: draw it plain
            return Style()

    def render_line(self, y: int) -> Strip:
        frozen = self._frozen_lines
        if y < len(frozen):
            line = frozen[y]
        elif y - len(frozen) < len(tail := self._tail_lines or ()):
            line = tail[y - len(frozen)]
        else:
            return Strip.blank(self._width, self.rich_style)
        # Each frame of a growing text moves every line, and Textual asks for all of them
        # again; most are unchanged (a line keeps its text when its block freezes).
        key = (y, line)
        strip = self._strip_cache.get(key)
        if strip is None:
            palette = self._palette
            strip = Strip([Segment(text, palette[number]) for text, number in line], self._width)
            # Offsets tell a mouse selection where it is in the text.
            strip = self._strip_cache[key] = strip.apply_offsets(0, y)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            strip = self._paint_selection(strip, *span)
        return strip

    def _paint_selection(self, strip: Strip, start: int, end: int) -> Strip:
        end = strip.cell_length if end == -1 else end
        style = self.screen.get_component_rich_style("screen--selection")
        before, selected, after = strip.divide([start, end, strip.cell_length])
        painted = Strip(list(Segment.apply_style(selected, post_style=style)))
        return Strip.join([before, painted, after])

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        lines = [*self._frozen_lines, *(self._tail_lines or [])]
        text = "\n".join("".join(text for text, _ in line).rstrip() for line in lines)
        return selection.extract(text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()
