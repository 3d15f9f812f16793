"""Secret hygiene: what a command's environment may carry, and what a secret looks like.

Commands get an environment built from an allow-list of harmless variables, minus anything
whose name suggests a secret or a cloud credential, plus what the user passes on purpose
(`[sandbox] pass_env`, or the caller's own additions). The checks at the end judge a single
value (a placeholder? a name? random enough to be a key?) for `redaction.py`.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping

# Harmless variables a command may expect; anything else is dropped.
PASS_NAMES = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "TERM", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ"}
)
PASS_PREFIXES = ("LC_", "PYTHON")
# Substrings that mark a variable as secret whatever else it is called.
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
# Cloud and registry credentials that carry no such marker in their names.
CREDENTIAL_PREFIXES = (
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "GCLOUD_",
    "CLOUDSDK_",
    "DOCKER_",
    "KUBECONFIG",
    "NPM_CONFIG_",
    "PIP_INDEX",
    "TWINE_",
    "GH_",
    "GITHUB_",
    "GITLAB_",
)


def looks_secret(name: str) -> bool:
    """Whether a variable's name says it holds (or points at) a credential."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS) or upper.startswith(
        CREDENTIAL_PREFIXES
    )


def scrubbed_environment(
    source: Mapping[str, str] | None = None, passed: Iterable[str] = ()
) -> dict[str, str]:
    """The variables a command may see: a short allow-list minus anything secret-looking,
    plus the names in `passed` (given on purpose), when they are set."""
    source = os.environ if source is None else source
    # The allow-list first: it is cheaper, and leaves few names to judge (every command asks).
    kept = {
        name: value
        for name, value in source.items()
        if (name.upper() in PASS_NAMES or name.upper().startswith(PASS_PREFIXES))
        and not looks_secret(name)
    }
    for name in passed:
        if name in source:
            kept[name] = source[name]
    return kept


# Values shorter than this are too likely to occur by chance (`KEYMAP=us`) to hunt for.
MIN_SECRET_VALUE_CHARS = 8


def secret_environment_values(source: Mapping[str, str] | None = None) -> list[str]:
    """Values of variables whose names mark a credential (API keys, tokens, passwords).

    They are redacted wherever they turn up in text bound for the model or the log, whatever
    their shape: a provider's API key need not look like any known key format.
    """
    source = os.environ if source is None else source
    return [
        value
        for name, value in source.items()
        if any(marker in name.upper() for marker in SECRET_MARKERS) and _could_be_secret(value)
    ]


def _could_be_secret(value: str) -> bool:
    """Not a path, a flag or a module name (`XAUTHORITY=/home/...`, `..._BACKEND=a.b.C`)."""
    if len(value) < MIN_SECRET_VALUE_CHARS or any(c.isspace() for c in value):
        return False
    if is_path(value) or value.startswith("~") or value.lower() in {"true", "false"}:
        return False
    dotted_name = all(part.isidentifier() for part in value.split(".")) and "." in value
    return not dotted_name


# ---- what a value looks like (for redaction) -------------------------------------------------

_PLACEHOLDER = re.compile(
    r"""^(?:
        \[REDACTED:[a-z_]+\]            # already redacted (the log redacts a second time)
      | \$.*                           # a shell reference or expansion: $TOKEN, ${TOKEN}
      | \{\{.*\}\} | \{[A-Za-z_.]*\}    # a template: {{ secret }}, {password}
      | <[^>]*> | %s | %\([a-z_]+\)s    # <your-key>, printf slots
      | \*+ | x+ | X+ | \.\.\.+ | …     # masks and ellipses
      | (?:none|null|nil|true|false|changeme|example|sample|dummy|placeholder|redacted|hidden)
      | (?:password|passwd|pass|pwd|pw|secret|token|your[-_a-z]*)  # the field's own name
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
"""`OPENROUTER_API_KEY`: a variable's name given as a value, not a secret."""
CODE_PUNCTUATION = re.compile(r"[()\[\]{}<>,;`]")
"""Calls, indexing, argument lists: a value holding these is code (`bool(api_key),`)."""


def shannon_entropy(value: str) -> float:
    """Bits per character: random keys score 4.5 and up, words and identifiers 2.5 to 3.5."""
    if not value:
        return 0.0
    counts = Counter(value)
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def is_placeholder(value: str) -> bool:
    """An empty value, a reference to another variable, a mask or a stand-in."""
    return not value.strip() or bool(_PLACEHOLDER.match(value.strip()))


def looks_like_password(value: str) -> bool:
    """A value given to a password field: anything but a placeholder, a name or a path."""
    return (
        len(value) >= 3
        and not is_placeholder(value)
        and not CONSTANT_NAME.match(value)
        and not is_path(value)
    )


def looks_like_key(value: str) -> bool:
    """A value given to a token or key field: long, mixed letters and digits, not a name.

    Generated keys are often identifier-shaped (`aB3dE5...`); names in code
    (`OPENROUTER_API_KEY`, `settings.api_token`) are told apart by their separators and
    their lower entropy.
    """
    if len(value) < 12 or is_placeholder(value) or CONSTANT_NAME.match(value) or is_path(value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    dotted_name = _IDENTIFIER.match(value) and ("_" in value or "." in value)
    return shannon_entropy(value) >= (4.0 if dotted_name else 3.0)


def is_path(value: str) -> bool:
    """A file path, which names a secret rather than holding one (`TOKEN_FILE=/run/...`)."""
    return value.startswith(("/", "~/", "./", "../"))


def looks_random(value: str) -> bool:
    """A long value with the entropy of a generated key, whatever its name."""
    return (
        len(value) >= 20
        and not is_placeholder(value)
        and " " not in value
        and not is_path(value)
        and any(c.isdigit() for c in value)
        and shannon_entropy(value) >= 4.0
    )


def looks_like_openai_key(value: str) -> bool:
    """`sk-` keys mix digits and capitals; `sk-some-long-kebab-name` in code does not."""
    return any(c.isdigit() for c in value) and any(c.isupper() for c in value)


def looks_like_bare_password(value: str) -> bool:
    """An unquoted value after `password:` or `password =`: not code, not a type, not a word.

    `password = get_password()` and `password: str` are code; `password: hunter2` is YAML.
    """
    return (
        looks_like_password(value)
        and not CODE_PUNCTUATION.search(value)
        and (any(c.isdigit() for c in value) or not _IDENTIFIER.match(value))
        and not re.fullmatch(r"[A-Za-z_.|]+", value)
    )
