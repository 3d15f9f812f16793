"""Secret redaction: what the model and the session log must never see.

`Redactor.redact(text)` replaces credentials with `[REDACTED:kind]` and keeps the text around
them (a key's name, a URL's host, a PEM block's BEGIN/END lines) so the model still
understands the file it read. Every pattern is precompiled and starts with a literal (`ghp_`,
`= "`, `://`) the regex engine can skip ahead to, so a megabyte of source takes about a tenth
of a second; patterns that would also match ordinary code (`password = get_password()`,
`api_key_env = "OPENAI_API_KEY"`) carry a check on the value itself (see `environment.py`).

`session_redactor(known_secrets)` builds a session's one redactor: the patterns plus the
literal values known to be secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nanotui.security.secrets.environment import (
    CODE_PUNCTUATION,
    CONSTANT_NAME,
    is_path,
    is_placeholder,
    looks_like_bare_password,
    looks_like_key,
    looks_like_openai_key,
    looks_like_password,
    looks_random,
    secret_environment_values,
)

MARK = "[REDACTED:{}]"
MIN_KNOWN_SECRET_CHARS = 8
"""A known secret (an API key from the environment) shorter than this is not searched for."""


@dataclass(frozen=True)
class Redacted:
    """Text with its secrets replaced, and the kinds that were found (for the log)."""

    text: str
    kinds: list[str] = field(default_factory=list)


_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")


def _any(value: str) -> bool:
    return True


# ---- the patterns -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretPattern:
    """One kind of secret: a regex whose group `secret` is replaced, and a check on it.

    Regexes start with a literal (`ghp_`, `AKIA`, `://`) so the engine can skip ahead fast; a
    leading word-boundary test would make it try every position, so `word_start` checks the
    character before the match instead. `hints` are lower-case words the text must hold (any)
    for a case-insensitive pattern to be tried at all.
    """

    kind: str
    regex: re.Pattern[str]
    check: Callable[[str], bool] = _any
    word_start: bool = False
    hints: tuple[str, ...] = ()
    starts_line: bool = False
    """Only indentation, a list dash and the rest of the key name may come before it."""


def _pattern(
    kind: str,
    regex: str,
    check: Callable[[str], bool] = _any,
    *,
    word_start: bool = False,
    hints: tuple[str, ...] = (),
    starts_line: bool = False,
) -> SecretPattern:
    return SecretPattern(kind, re.compile(regex), check, word_start, hints, starts_line)


# What tools print in front of a file's line: `path:` and `path:12:` (grep), `path-12-`
# (grep context), `+`/`-`/space (a diff), `     3\t` (cat -n). A secret in such a line is
# still a secret: the prefix may come before a key name that must start its line.
TOOL_PREFIX = r"(?:[^\s:=]+:(?:\d+:)?|[^\s:=]+-\d+-|[+ -](?![+-])|[ \t]*\d+\t)?"
_LINE_PREFIX = re.compile(TOOL_PREFIX + r"[ \t]*(?:-[ \t]+)?[A-Za-z0-9_.-]*")

# Order matters: specific token shapes first, so a GitHub token inside `TOKEN=...` is reported
# as a github_token, and the generic rules after them only see what is left.
PATTERNS: tuple[SecretPattern, ...] = (
    _pattern("anthropic_key", r"(?P<secret>sk-ant-[A-Za-z0-9_-]{20,})", word_start=True),
    _pattern(
        "openai_key",
        r"(?P<secret>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})",
        looks_like_openai_key,
        word_start=True,
    ),
    _pattern(
        "github_token", r"(?P<secret>gh[pousr]_[A-Za-z0-9]{36,255})(?![A-Za-z0-9])", word_start=True
    ),
    _pattern(
        "github_token",
        r"(?P<secret>github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])",
        word_start=True,
    ),
    _pattern("gitlab_token", r"(?P<secret>glpat-[A-Za-z0-9_-]{20,})", word_start=True),
    _pattern("slack_token", r"(?P<secret>xox[abprs]-[A-Za-z0-9-]{10,})", word_start=True),
    _pattern(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?P<secret>(?:services|workflows|triggers)/[A-Za-z0-9/_+-]+)",
        hints=("hooks.slack.com",),
    ),
    _pattern(
        "stripe_key",
        r"(?P<secret>[rs]k_(?:live|test)_[A-Za-z0-9]{16,})(?![A-Za-z0-9])",
        word_start=True,
        hints=("k_live_", "k_test_"),
    ),
    _pattern(
        "aws_access_key_id",
        r"(?P<secret>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])",
        word_start=True,
    ),
    _pattern(
        "aws_secret_access_key",
        r"[aAsS](?i:ws_?secret_?(?:access_?)?key|ecret_?access_?key)[\"']?\s*[:=]\s*[\"']?"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
        hints=("secret",),
    ),
    _pattern(
        "google_api_key", r"(?P<secret>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])", word_start=True
    ),
    _pattern(
        "gcp_access_token",
        r"(?P<secret>ya29\.[0-9A-Za-z_-]{20,})",
        word_start=True,
        hints=("ya29.",),
    ),
    # An Entra ID (Azure AD) client secret: three characters, a digit, `Q~`, then 31-34.
    _pattern(
        "azure_client_secret",
        r"(?P<secret>[A-Za-z0-9_.~-]{3}\dQ~[A-Za-z0-9_.~-]{31,34})(?![A-Za-z0-9_.~-])",
        word_start=True,
        hints=("q~",),
    ),
    # A password on a command line: `--password <pw>`, `--password=<pw>`, `mysql -p<pw>`.
    _pattern(
        "password",
        r"--pass(?:word|wd)?(?:=|[ \t]+)(?P<secret>[^\s\"'`-][^\s\"'`]*)",
        lambda v: not is_placeholder(v),
        hints=("--pass",),
    ),
    _pattern(
        "password",
        r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?[ \t]-p(?P<secret>[^\s\"'`]{3,})",
        lambda v: not is_placeholder(v),
        hints=("mysql", "mariadb"),
    ),
    _pattern(
        "gcp_private_key_id",
        r"private_key_id[\"']\s*:\s*[\"'](?P<secret>[a-f0-9]{40})[\"']",
        hints=("private_key_id",),
    ),
    _pattern(
        "azure_storage_key",
        r"(?:AccountKey|SharedAccessKey)=(?P<secret>[A-Za-z0-9+/]{20,}={0,2})",
        hints=("accountkey=", "sharedaccesskey="),
    ),
    _pattern(
        "jwt",
        r"(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
        word_start=True,
    ),
    _pattern(
        "bearer_token",
        r"[aA](?i:uthorization)[\"']?\s*[:=]\s*[\"']?(?i:bearer|token|basic)\s+"
        r"(?P<secret>[A-Za-z0-9._~+/=-]{16,})",
        looks_like_key,
        hints=("authorization",),
    ),
    # A URL or DSN with a password in it: postgres://user:pass@host.
    _pattern(
        "password",
        r"://[^\s:/@\"'`]+:(?P<secret>[^\s@/\"'`]+)@(?=[A-Za-z0-9.\[-])",
        lambda v: not is_placeholder(v),
        hints=("://",),
    ),
    # YAML and INI without quotes: `password: hunter2`, `db_password = hunter2`.
    _pattern(
        "password",
        r"(?m)[pP](?i:ass(?:word|wd|phrase)|wd)[A-Za-z0-9_.-]*[ \t]*[:=][ \t]*"
        r"(?P<secret>[^\s\"'#{\[(][^\s#]*)[ \t]*$",
        looks_like_bare_password,
        hints=("pass", "pwd"),
        starts_line=True,
    ),
)

# Quoted assignments in code, JSON, YAML and TOML: `name = "value"`, `"name": "value"`. The
# value is found first (a fast scan for `= "`), then the name just before it is judged.
_QUOTED_VALUE = re.compile(r"""[:=][ \t]*(?P<q>["'])(?P<secret>[^"'\n\\]{1,200})(?P=q)""")
_NAME_BEFORE = re.compile(
    r"""(?i)(?:(?P<password>password|passwd|passphrase|pwd)|(?P<key>secret|token|api[_-]?key
    |apikey|access[_-]?key|private[_-]?key|auth[_-]?key|credentials?))[A-Za-z0-9_.-]*
    ["']?[ \t]*:?\Z""",
    re.VERBOSE,
)
NAME_LOOKBACK_CHARS = 64


# `.env` lines: NAME=value with nothing but a comment after. The name decides how sure we are.
# The value is found first (a scan for `=`), then the name from the start of its line.
_ENV_VALUE = re.compile(
    r"""=(?:(?P<q>["'])(?P<quoted>[^"'\n]*)(?P=q)|(?P<bare>[^\s"'#]+))[ \t]*(?:\#[^\n]*)?$""",
    re.MULTILINE,
)
_ENV_LINE_NAME = re.compile(
    TOOL_PREFIX + r"[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
)
# Shell-style assignments inside a line: a PGPASSWORD set before `psql`, an exported TOKEN
# followed by `&&`.
# Only upper-case names that say "secret" count: code mid-line (`password=user.password`) is
# lower-case and judged by the patterns above instead.
_INLINE_ASSIGNMENT = re.compile(
    r"""(?<![A-Za-z0-9_$])(?P<name>[A-Z][A-Z0-9_]*)=(?:(?P<q>["'])(?P<quoted>[^"'\n]*)(?P=q)"""
    r"""|(?P<bare>[^\s"'#;&|`$()\[\]]+))(?=[\s;&|)]|\Z)"""
)
_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PWD|CREDENTIAL|AUTH|PRIVATE|SIGNATURE|SALT",
    re.IGNORECASE,
)
_PASSWORD_IN_NAME = re.compile("PASSWORD|PASSWD|PASSPHRASE|PWD", re.IGNORECASE)
_HEX = re.compile("[0-9a-fA-F]+")
# Names that point at a secret or describe it rather than hold it: KEY_FILE, TOKEN_URL, ...
_NOT_SECRET_NAME = re.compile(
    r"(?:FILE|PATH|DIR|URL|HOST|PORT|ENV|NAME|ID|TYPE|MODE|SOCK|COMMAND|CMD)$", re.IGNORECASE
)

_PEM_BEGIN = re.compile(r"-----BEGIN (?P<label>[A-Z0-9 ]*)PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY_LINE = re.compile(
    r"(?:[ \t]*\d*\t)?[ \t]*(?:[A-Za-z0-9+/=]{8,}|[A-Za-z-]+: .*|)[ \t]*\r?$"
)


class Redactor:
    """Finds and replaces secrets; optionally also literal values known to be secret."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        values = sorted(
            {v for v in known_secrets if v and len(v) >= MIN_KNOWN_SECRET_CHARS},
            key=len,
            reverse=True,
        )
        self._known = re.compile("|".join(map(re.escape, values))) if values else None

    def redact(self, text: str) -> Redacted:
        """The text with every secret replaced by `[REDACTED:kind]`."""
        if not text:
            return Redacted(text)
        found: list[str] = []
        if self._known is not None:
            text = _substitute_all(self._known, text, "environment_secret", found)
        text = _redact_private_keys(text, found)
        # Lower-cased once, for the cheap "is this word here at all" tests before slow regexes.
        lowered = text.lower()
        for pattern in PATTERNS:
            text = _substitute(pattern, text, lowered, found)
        text = _redact_quoted_assignments(text, found)
        text = _redact_env_lines(text, found)
        text = _redact_inline_assignments(text, found)
        return Redacted(text, list(dict.fromkeys(found)))

    def redact_nested(self, value: Any) -> tuple[Any, list[str]]:
        """Every string value inside dicts and lists redacted; the kinds found."""
        found: list[str] = []

        def walk(item: Any) -> Any:
            if isinstance(item, str):
                if (inner := _json_object(item)) is not None:
                    # A tool call's arguments are JSON text: inside it a line break is the two
                    # characters \n, so a line-anchored secret (a .env line) would slip by.
                    return json.dumps(walk(inner), ensure_ascii=False)
                result = self.redact(item)
                found.extend(result.kinds)
                return result.text
            if isinstance(item, dict):
                return {key: walk(inner) for key, inner in item.items()}
            if isinstance(item, list | tuple):
                return [walk(inner) for inner in item]
            return item

        return walk(value), list(dict.fromkeys(found))


def _json_object(text: str) -> dict[str, Any] | None:
    """The object `text` encodes, when it is a JSON object's text; else None."""
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _substitute_all(regex: re.Pattern[str], text: str, kind: str, found: list[str]) -> str:
    new, count = regex.subn(MARK.format(kind), text)
    if count:
        found.append(kind)
    return new


def _marked(match: re.Match[str], group: str, kind: str) -> str:
    """The whole match with only `group` (the secret) replaced: the key name stays."""
    start, end = match.span(group)
    whole, offset = match.group(0), match.start()
    return whole[: start - offset] + MARK.format(kind) + whole[end - offset :]


def _substitute(pattern: SecretPattern, text: str, lowered: str, found: list[str]) -> str:
    if pattern.hints and not any(hint in lowered for hint in pattern.hints):
        return text

    def replace(match: re.Match[str]) -> str:
        secret = match.group("secret")
        inside_a_word = match.start() > 0 and _WORD_CHAR.match(text, match.start() - 1)
        if (pattern.word_start and inside_a_word) or not pattern.check(secret):
            return match.group(0)
        if pattern.starts_line and not _LINE_PREFIX.fullmatch(
            text, _line_start(text, match.start()), match.start()
        ):
            return match.group(0)
        found.append(pattern.kind)
        return _marked(match, "secret", pattern.kind)

    return pattern.regex.sub(replace, text)


def _redact_quoted_assignments(text: str, found: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        named = _NAME_BEFORE.search(
            text, max(0, match.start() - NAME_LOOKBACK_CHARS), match.start()
        )
        if named is None:
            return match.group(0)
        value = match.group("secret")
        if named.group("password") is not None:
            # A label such as "Enter your password" is prose, not a password.
            kind, is_secret = "password", looks_like_password(value) and " " not in value
        else:
            kind, is_secret = "secret", looks_like_key(value)
        if not is_secret:
            return match.group(0)
        found.append(kind)
        return _marked(match, "secret", kind)

    return _QUOTED_VALUE.sub(replace, text)


def _redact_private_keys(text: str, found: list[str]) -> str:
    """Replace the body of every PEM private key block, keeping its BEGIN and END lines.

    A block cut short (a ranged read, capped output) has no END: its base64 lines are
    replaced up to the first line that is not base64.
    """
    if "PRIVATE KEY" not in text:
        return text
    pieces: list[str] = []
    position = 0
    while begin := _PEM_BEGIN.search(text, position):
        pieces.append(text[position : begin.end()])
        end = _PEM_END.search(text, begin.end())
        if end is not None:
            body_end, resume = end.start(), end.start()
        else:
            body_end = resume = _end_of_base64_lines(text, begin.end())
        separator = "\n" if "\n" in text[begin.end() : body_end] else " "
        if "\\n" in text[begin.end() : body_end]:
            separator = "\\n"  # a key inside a JSON string (a service-account file)
        pieces.append(separator + MARK.format("private_key") + separator)
        found.append("private_key")
        position = resume
    pieces.append(text[position:])
    return "".join(pieces)


def _end_of_base64_lines(text: str, start: int) -> int:
    newline = text.find("\n", start)
    if newline == -1:
        return len(text)
    position = newline + 1
    while position < len(text):
        line_end = text.find("\n", position)
        line_end = len(text) if line_end == -1 else line_end
        if not _PEM_BODY_LINE.fullmatch(text, position, line_end):
            return position
        position = line_end + 1
    return len(text)


def _redact_env_lines(text: str, found: list[str]) -> str:
    if "=" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        named = _ENV_LINE_NAME.fullmatch(text, _line_start(text, match.start()), match.start())
        if named is None:
            return match.group(0)
        group = "quoted" if match.group("quoted") is not None else "bare"
        value = match.group(group)
        # `key_sent=bool(api_key),` is a keyword argument in code, not a line of a .env file.
        if group == "bare" and CODE_PUNCTUATION.search(value):
            return match.group(0)
        kind = _env_value_kind(named.group("name"), value)
        if kind is None:
            return match.group(0)
        found.append(kind)
        return _marked(match, group, kind)

    return _ENV_VALUE.sub(replace, text)


def _redact_inline_assignments(text: str, found: list[str]) -> str:
    """`NAME=value` anywhere in a line, when the name says it holds a secret (the `.env` scan
    above takes only assignments that end their line)."""
    if "=" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if not _SECRET_NAME.search(name):
            return match.group(0)
        group = "quoted" if match.group("quoted") is not None else "bare"
        if group == "bare" and CODE_PUNCTUATION.search(match.group(group)):
            return match.group(0)
        kind = _env_value_kind(name, match.group(group))
        if kind is None:
            return match.group(0)
        found.append(kind)
        return _marked(match, group, kind)

    return _INLINE_ASSIGNMENT.sub(replace, text)


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _env_value_kind(name: str, value: str) -> str | None:
    """What a `.env` value is by its name and shape: a password, a secret, or nothing."""
    if is_placeholder(value) or is_path(value) or _NOT_SECRET_NAME.search(name):
        return None
    if _SECRET_NAME.search(name) and not CONSTANT_NAME.match(value):
        if _PASSWORD_IN_NAME.search(name):
            return "password" if len(value) >= 3 else None
        return "env_secret" if len(value) >= 8 else None
    # A bare hex string under a plain name is a hash or an id (GIT_SHA, BUILD_DIGEST).
    if _HEX.fullmatch(value):
        return None
    return "high_entropy" if looks_random(value) else None


def session_redactor(known_secrets: Iterable[str] = ()) -> Redactor:
    """The one redactor of a session, for what the model reads and what the log keeps alike.

    It hunts for the values of credential-named environment variables and for
    `known_secrets`: the provider's API key, which may sit in a variable whose name says
    nothing of secrets. One instance serves both paths, so neither can miss what the other
    scrubs.
    """
    return Redactor([*secret_environment_values(), *known_secrets])
