"""Where a session's settings came from, as the app's `/policy` shows them.

Plain values, filled by whoever read the settings (`nanotui.config_loading` names a layer for
each setting that is not a default, and for each policy rule); the screens only show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MANAGED_PREFIX = "managed"


def managed_layer(where: object) -> str:
    """How the layer of an organisation's managed file is named: "managed (/etc/...)"."""
    return f"{MANAGED_PREFIX} ({where})"


@dataclass(frozen=True)
class SettingOrigins:
    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    """"approval.mode" -> ("\\"ask\\"", "managed (/etc/nanotui/managed.toml)"), for every
    setting some layer set."""
    rules: dict[str, dict[str, str]] = field(default_factory=dict)
    """"policy.deny" -> {"curl *": "defaults", ...}: the layer that first named each rule;
    "sandbox.allowed_domains" -> {"pypi.org": "~/.config/nanotui/config.toml", ...}."""

    @property
    def managed(self) -> bool:
        """True when an organisation's managed file decides some of the settings."""
        layers = [layer for _, layer in self.values.values()]
        layers += [layer for rules in self.rules.values() for layer in rules.values()]
        return any(layer.startswith(MANAGED_PREFIX) for layer in layers)
