"""Finding the rows that pass a filter in a log of a million events, a piece at a time.

A kind filter is answered from the index alone: every row's kind is known from it. A text is
looked for in each row's line first: a row whose summary has not been read yet is read only
when its raw line holds the text (lower-cased bytes, a C search). That is exact whenever the
text is a word that no summary template writes (`raw_lines_suffice`), since a summary then
holds it only where the record spells it out; for any other text every row is read. Matches
come in log order, one piece of the log at a time, so the first ones show at once.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from pathlib import Path

from nanotui.protocol.summary_words import template_words
from nanotui.tui.timeline_log import log_chunks, record_in
from nanotui.tui.timeline_rows import KindFilter, TimelineRow, describe_row, matching

FIRST_PIECE_BYTES = 1 << 18
"""The first piece of the log searched is small, so that the first matches show at once."""
PIECE_BYTES = 1 << 22

_PLAIN_WORD = re.compile(r"[a-z0-9_./-]*[a-z][a-z0-9_./-]*")

_LOWERED_TO_ASCII = ("\u0130".encode(), "\u212a".encode())
"""İ and the Kelvin sign: the only characters whose lower case is (partly) ASCII, so that a
summary lower-cased can hold an ASCII word its raw line, lower-cased byte by byte, does not.
Lines that have one are always read."""


def raw_lines_suffice(text: str) -> bool:
    """Whether every row whose summary holds `text` (lower case) holds it in its raw line too:
    a word JSON writes as it is, with a letter (numbers are reformatted: `1,200`), that is no
    part of a word of the templates'."""
    return bool(_PLAIN_WORD.fullmatch(text)) and not any(text in word for word in template_words())


def find_rows(
    rows: list[TimelineRow], kind_filter: KindFilter, text: str, path: Path | None
) -> Iterator[list[int]]:
    """The indices of the `rows` that pass `kind_filter` and hold `text`, in order, in
    batches (one per piece of the log read). Rows not yet described are described from the
    log at `path` when the text needs it; rows of a log are in its order."""
    text = text.strip().lower()
    if not text or path is None or not rows or rows[0].offset < 0:
        yield matching(rows, kind_filter, text)
        return
    offsets = [row.offset for row in rows]
    needle = text.encode() if raw_lines_suffice(text) else None
    done = 0

    def row_at(offset: int) -> int:
        """The index of the row whose line starts at `offset` (-1 for a line with no row)."""
        index = bisect_left(offsets, offset, done)
        return index if index < len(offsets) and offsets[index] == offset else -1

    pieces = log_chunks(path, offsets[0], offsets[-1], PIECE_BYTES, FIRST_PIECE_BYTES)
    for base, data in pieces:
        end = bisect_left(offsets, base + len(data), done)
        looked_at: Iterable[int] = range(done, end)
        if needle is not None:  # only the rows described already, and those holding it
            holding = [i for at in _lines_holding(data, needle) if (i := row_at(base + at)) >= 0]
            described = [i for i in looked_at if rows[i].summary is not None]
            looked_at = sorted({*holding, *described})
        for index in looked_at:
            row = rows[index]
            if row.summary is None and kind_filter.matches(row):
                describe_row(row, record_in(data, row.offset - base))
        yield [
            index
            for index in looked_at
            if (row := rows[index]).described
            and kind_filter.matches(row)
            and text in row.text().lower()
        ]
        done = end
    # Rows past the end of what could be read (the log was cut): those already described.
    yield [index for index in matching(rows, kind_filter, text, done) if rows[index].described]


def _lines_holding(data: bytes, needle: bytes) -> set[int]:
    """Where the lines of `data` start that hold `needle` (lower case), ignoring case, and
    those that have a character whose lower case may make one that does."""
    lowered = data.lower()
    starts: set[int] = set()
    for mark, text in ((needle, lowered), *((c, data) for c in _LOWERED_TO_ASCII)):
        hit = text.find(mark)
        while hit != -1:
            starts.add(text.rfind(b"\n", 0, hit) + 1)
            hit = text.find(mark, text.index(b"\n", hit))
    return starts
