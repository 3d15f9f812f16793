"""An organisation's managed settings: a floor that no layer below can loosen.

The managed file (`paths.managed_config_file()`, `/etc/nanotui/managed.toml`) is read first
and merged like any layer; then, once every layer (user, project, environment, command
line) has had its say, `enforce_managed` looks at each setting the managed file sets. A
final value at least as strict as the managed one stands (a user may always tighten); one
that is looser goes back to the managed value, with a notice naming the setting and the
layer that asked for more. Lists of rules that restrict (deny, ask, protected paths) keep
every managed entry; lists that grant (allow rules, what a sandbox may see) keep only
managed entries. A setting with no order (the model, how long sessions are kept) is fixed.

The managed `approval.mode` is also the loosest mode a session may switch to later
(`approval.max_mode`), and `[managed] providers` and `base_urls` say which model services
may be used at all: a choice outside them stops the start with one sentence. A managed
network setting brings two more: a managed `allowed_domains` is the whole list (nobody is
asked to reach past it: `[managed] ask_unlisted_domains` goes off), and a managed
`network` of "none" or "allowlist" is held by a sandbox or not at all (no plain backend,
`require` on), never by commands running with the network open.
"""

from __future__ import annotations

from typing import Any

from nanotui.config import Settings, default_base_url
from nanotui.config_strictness import tightened
from nanotui.protocol.basics import ConfigError
from nanotui.protocol.setting_origins import managed_layer


def enforce_managed(
    settings: Settings,
    managed: dict[str, Any],
    where: str,
    sources: dict[str, str],
    notices: list[str],
) -> Settings:
    """`settings` with every managed setting at least as strict as `managed` says; what
    was put back is told in `notices`, and `sources` names the managed file for it."""
    floor = Settings(**managed)
    changed: dict[str, dict[str, Any]] = {}
    for written, values in managed.items():
        section = written.lower()
        if section == "managed" or not isinstance(values, dict):
            continue  # [managed] is checked below; [[hooks]] only add up (config_loading)
        for key in values:
            wanted = getattr(getattr(floor, section), key)
            final = getattr(getattr(settings, section), key)
            kept = tightened(section, key, final, wanted)
            if kept == final:
                continue
            changed.setdefault(section, {})[key] = kept
            name = f"{section}.{key}"
            notices.append(
                f"{name} is managed by your organisation ({where}); "
                f"{sources.get(name, 'a lower layer')} asked for {_shown(final)}, "
                f"so it stays {_shown(kept)}."
            )
            sources[name] = managed_layer(where)
    if "mode" in managed.get("approval", {}) and "max_mode" not in managed["approval"]:
        # The managed mode is a ceiling for the session's /mode too, not only the start.
        ceiling = tightened("approval", "max_mode", settings.approval.max_mode, floor.approval.mode)
        changed.setdefault("approval", {})["max_mode"] = ceiling
        sources["approval.max_mode"] = managed_layer(where)
    _hold_the_network(settings, managed, floor, changed, where, sources, notices)
    enforced = settings.model_copy(
        update={
            section: getattr(settings, section).model_copy(update=values)
            for section, values in changed.items()
        }
    )
    check_allowed_provider(enforced, where)
    return enforced


def managed_sets(managed: dict[str, Any], section: str, key: str) -> bool:
    """Whether the managed file writes `section.key` (section names in any case)."""
    return any(
        written.lower() == section and isinstance(values, dict) and key in values
        for written, values in managed.items()
    )


def _hold_the_network(
    settings: Settings,
    managed: dict[str, Any],
    floor: Settings,
    changed: dict[str, dict[str, Any]],
    where: str,
    sources: dict[str, str],
    notices: list[str],
) -> None:
    """What a managed network setting brings with it. A managed `allowed_domains` is the
    whole list: nobody may be asked to reach past it. A managed `network` of "none" or
    "allowlist" needs a sandbox to hold commands to it: the plain backend, which holds
    nothing, is not used, and with no sandbox commands are refused rather than run open."""
    layer = managed_layer(where)
    if managed_sets(managed, "sandbox", "allowed_domains"):
        changed.setdefault("managed", {})["ask_unlisted_domains"] = False
        sources["managed.ask_unlisted_domains"] = layer
    if not managed_sets(managed, "sandbox", "network") or floor.sandbox.network == "full":
        return
    sandbox = changed.setdefault("sandbox", {})
    if sandbox.get("backend", settings.sandbox.backend) == "plain":
        sandbox["backend"] = "auto"
        notices.append(
            f"sandbox.network is managed by your organisation ({where}) and the plain backend "
            f"cannot hold commands to it ({sources.get('sandbox.backend', 'a lower layer')} "
            'chose it), so the backend is "auto": bwrap or Landlock, or no commands at all.'
        )
        sources["sandbox.backend"] = layer
    if not sandbox.get("require", settings.sandbox.require):
        sandbox["require"] = True
        sources["sandbox.require"] = layer
    if not changed["sandbox"]:
        del changed["sandbox"]


def check_allowed_provider(settings: Settings, where: str) -> None:
    """Stop with one sentence when the provider or its endpoint is not among those the
    managed settings allow."""
    allowed = settings.managed
    provider = settings.provider
    if provider.kind == "demo":
        return  # offline: nothing is sent anywhere
    if allowed.providers and provider.kind not in allowed.providers:
        raise ConfigError(
            f"Your organisation allows only the providers {', '.join(allowed.providers)} "
            f"({where}); choose one of them with --provider or [provider] kind."
        )
    endpoint = (provider.base_url or default_base_url(provider.kind)).rstrip("/")
    if allowed.base_urls and not any(
        endpoint == prefix.rstrip("/") or endpoint.startswith(prefix.rstrip("/") + "/")
        for prefix in allowed.base_urls
    ):
        raise ConfigError(
            f"Your organisation allows only the endpoints {', '.join(allowed.base_urls)} "
            f"({where}), not {endpoint}; set --base-url or [provider] base_url to one of them."
        )


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)
