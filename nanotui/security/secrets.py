"""Secret hygiene: what a command's environment may carry.

Commands get an environment built from an allow-list of harmless variables, minus anything
whose name suggests a secret or a cloud credential, plus what the user passes on purpose
(`[sandbox] pass_env`, or the caller's own additions).
"""

from __future__ import annotations

import os
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
    kept = {
        name: value
        for name, value in source.items()
        if not looks_secret(name)
        and (name.upper() in PASS_NAMES or name.upper().startswith(PASS_PREFIXES))
    }
    for name in passed:
        if name in source:
            kept[name] = source[name]
    return kept
