"""What the command line needs before any heavy import: the modes and the error classes.

`nanotui.config` pulls in pydantic, which takes a quarter of a second to import; the parser
and the full-screen app's first frame come before it, so these two live here (and
`nanotui.config` re-exports them).
"""

from __future__ import annotations

# From least to most autonomous: "raising the mode" means moving right.
MODE_ORDER: tuple[str, ...] = ("plan", "ask", "auto-edit", "full-auto")


class UserFacingError(Exception):
    """Something the user can fix; the message is one sentence saying what and how.

    Every layer raises its own kind; the command line prints any of them as that sentence
    (exit code 1), with no traceback.
    """


class ConfigError(UserFacingError):
    """A configuration layer is invalid."""
