"""Which host names a sandboxed command may reach (`[sandbox] allowed_domains`).

A pattern is a name (`pypi.org`, that name only) or `*.` and a name (`*.pythonhosted.org`:
any name under it, not the name itself). Names are compared without case and without a
final dot. An address written as digits (`10.0.0.1`, `[::1]`, `0x7f000001`) is never a
listed name: the proxy resolves names itself, so a command cannot pick where a name points.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
"""A host name as DNS spells it: labels of letters, digits and inner hyphens."""


def normal_host(host: str) -> str:
    return host.strip().lower().removesuffix(".")


def is_address(host: str) -> bool:
    """True for a host written as an address rather than a name (any spelling inet_aton
    takes counts: `127.1`, `0x7f.1` and a bare number are addresses too)."""
    text = host.strip("[]")
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    # inet_aton's old forms: up to four parts, each decimal, octal or hex.
    parts = text.split(".")
    return 0 < len(parts) <= 4 and all(re.fullmatch(r"0x[0-9a-f]*|[0-9]+", p) for p in parts)


def is_name(host: str) -> bool:
    """A host name as DNS spells it, not an address."""
    name = normal_host(host)
    return not is_address(name) and bool(_NAME.match(name))


class DomainAllowlist:
    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = [normal_host(p) for p in patterns if p.strip()]

    def allows(self, host: str) -> bool:
        name = normal_host(host)
        if not is_name(name):
            return False
        for pattern in self.patterns:
            if pattern.startswith("*."):
                if name.endswith(pattern[1:]):
                    return True
            elif name == pattern:
                return True
        return False
