"""What the command line needs before any heavy import: the modes, the error classes, plurals.

`nanotui.config` pulls in pydantic, which takes a quarter of a second to import; the parser
and the full-screen app's first frame come before it, so these two live here.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cache

# From least to most autonomous: "raising the mode" means moving right.
MODE_ORDER: tuple[str, ...] = ("plan", "ask", "auto-edit", "full-auto")

MODE_MEANINGS: dict[str, str] = {
    "plan": "read-only",
    "ask": "approve changes and commands",
    "auto-edit": "changes apply, commands ask",
    "full-auto": "what policy allows runs (sandboxed)",
}
"""What each mode lets happen without asking, in a few words (`--help`, an editor's menu)."""


class UserFacingError(Exception):
    """Something the user can fix; the message is one sentence saying what and how.

    Every layer raises its own kind; the command line prints any of them as that sentence
    (exit code 1), with no traceback.
    """


class ConfigError(UserFacingError):
    """A configuration layer is invalid."""


def plural(count: int, noun: str, many: str | None = None) -> str:
    """The count and its noun in agreement: `1 file`, `2 files`, `1,204 lines`, `0 entries`.

    `many` is the plural when adding an "s" is wrong (`plural(n, "entry", "entries")`).
    """
    word = noun if count == 1 else (many or noun + "s")
    return f"{count:,} {word}"


def new_session_id() -> str:
    """Sortable by time, unique enough for one user: 20261128-010623-3f9a."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


# Characters that would move the cursor, hide text or break a line on screen: text from a
# model, a command or an MCP server must show an escape sequence as what it is, never act on
# the terminal. C0 controls and DEL become their Unicode pictures (␛ for ESC), C1 controls
# and the line and paragraph separators the replacement character.
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_CONTROL_PICTURES[0x7F] = "\u2421"
_CONTROL_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})
_CONTROL_PICTURES.update({0x2028: "\ufffd", 0x2029: "\ufffd"})


def visible_controls(text: str, keep: str = "\t\n") -> str:
    """`text` with its control characters shown as symbols, but for those in `keep`."""
    return text.translate(_pictures_but(keep))


@cache
def _pictures_but(keep: str) -> dict[int, str]:
    return {code: picture for code, picture in _CONTROL_PICTURES.items() if chr(code) not in keep}


def clipped(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters with "..." where it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
