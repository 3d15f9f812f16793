"""A DataTable that is drawn afresh once it has measured the rows it was given.

Textual's DataTable measures new rows' cells, and widens its columns to them, when it is
next idle; the lines it draws before that are cached under a key that the widening does not
change. A frame drawn between the rows' arrival and that idle moment (the screen and the
table run their messages separately) therefore left the table drawn at the header's widths,
ids cut to two characters, until something else changed it: a key press, a resize.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import DataTable


class MeasuredTable(DataTable):
    """A DataTable whose lines drawn before its columns widened are not kept after."""

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        # The measuring sets the scrollable size, whose width is the columns' widths added
        # up: a change of it is a change of columns the cached lines do not know of. (One
        # column widening as another narrows by as much would go unseen; this app's tables
        # only widen one: the ids when the base mark comes.)
        if new.width != old.width:
            # Public, and what a change of styles does: drop every cached line, draw again.
            self.notify_style_update()
