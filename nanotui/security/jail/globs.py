"""Glob patterns over posix relative paths, the one dialect used for protected paths and searches.

`*` matches within one path component, `?` one character of a component, `[...]` a character
class (`[!...]` negated), and `**` any number of components: `**/x` matches `x` at any depth
(the top level included) and `dir/**` matches `dir` itself and everything below it.
"""

from __future__ import annotations

import re
from functools import lru_cache


def glob_to_regex(pattern: str) -> str:
    """Translate a glob into an anchored regular expression over a posix path."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            at_start = i == 0 or pattern[i - 1] == "/"
            after = i + 2
            if at_start and pattern.startswith("/", after):
                out.append("(?:.*/)?")
                i = after + 1
                continue
            if at_start and after == n and i > 0:
                # "dir/**": also match "dir" itself, so that a protected directory is covered.
                out.pop()  # the "/" already emitted
                out.append("(?:/.*)?")
                i = after
                continue
            out.append(".*")
            i = after
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    return "(?s:" + "".join(out) + r")\Z"


@lru_cache(maxsize=512)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(glob_to_regex(pattern), re.IGNORECASE if ignore_case else 0)


def glob_match(pattern: str, path: str, *, ignore_case: bool = False) -> bool:
    """True when the whole posix `path` matches `pattern`."""
    return _compiled(pattern, ignore_case).match(path) is not None


def path_matches(pattern: str, rel: str, *, ignore_case: bool = False) -> bool:
    """Match like a find-style filter: a pattern without `/` matches the file name at any depth.

    A pattern with `/` is matched against the whole relative path (`**/` for any depth).
    """
    if "/" not in pattern:
        return glob_match(pattern, rel.rsplit("/", 1)[-1], ignore_case=ignore_case)
    return glob_match(pattern.lstrip("/"), rel, ignore_case=ignore_case)
