"""Loading the settings: user file, then project file, then environment, then flags.

Loading checks each layer on its own first, so that an invalid value is reported in one
sentence naming the file (or variable), the key and what is expected; then the layers are
merged, later ones winning, and `Settings` takes the result.

A project's own `.nanotui/config.toml` is written by whoever wrote the repository, so until
the user trusts the folder it may only tighten what the user chose: it cannot add allow rules,
raise the approval mode, open the network, pick the plain sandbox, raise budgets or point the
provider (and the user's API key) at another endpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nanotui import paths
from nanotui.config import PolicyConfig, Settings
from nanotui.protocol.basics import MODE_ORDER, ConfigError


@dataclass
class LoadedConfig:
    settings: Settings
    files_read: list[Path] = field(default_factory=list)
    provider_configured: bool = False
    """True when some layer chose a provider (the first-run setup is skipped then)."""
    notices: list[str] = field(default_factory=list)
    """Things the user should know, such as project settings ignored in an untrusted folder."""
    sources: dict[str, str] = field(default_factory=dict)
    """Where each setting that is not a default came from: "section.key" -> layer, e.g.
    "approval.mode" -> "the command line" (lists that add up name every layer)."""


# Variables with short names, per the command-line contract.
ENV_SHORTCUTS = {
    "NANOTUI_PROVIDER": ("provider", "kind"),
    "NANOTUI_BASE_URL": ("provider", "base_url"),
    "NANOTUI_MODEL": ("provider", "model"),
}
_ADDITIVE_POLICY_KEYS = (("ask",), ("deny",), ("protected_paths",))
LIST_KEYS_THAT_ADD_UP = {("policy", key) for (key,) in _ADDITIVE_POLICY_KEYS}


def load_settings(
    workspace: Path | None = None,
    flags: dict[str, dict[str, Any]] | None = None,
    *,
    trusted: bool = False,
    environ: dict[str, str] | None = None,
) -> LoadedConfig:
    """Read every layer, check each, restrict the project layer unless trusted, merge."""
    environ = dict(os.environ if environ is None else environ)
    loaded = LoadedConfig(settings=Settings())
    # Seeded with the defaults so that a later layer's deny or protected list adds to them.
    defaults = PolicyConfig()
    merged: dict[str, Any] = {
        "policy": {key: list(getattr(defaults, key)) for (key,) in _ADDITIVE_POLICY_KEYS}
    }

    user_file = paths.user_config_file()
    user_layer = _read_toml(user_file)
    if user_layer is not None:
        _check_layer(user_layer, str(user_file))
        loaded.files_read.append(user_file)
        _merge(merged, user_layer, additive=False)  # the user may replace the defaults
        _note_sources(loaded.sources, user_layer, str(user_file), additive=False)

    if workspace is not None:
        project_file = paths.project_config_file(workspace)
        project_layer = _read_toml(project_file)
        if project_layer is not None:
            _check_layer(project_layer, str(project_file))
            loaded.files_read.append(project_file)
            if not trusted:
                project_layer = _restrict_untrusted(project_layer, merged, loaded.notices)
            _merge(merged, project_layer)
            _note_sources(loaded.sources, project_layer, str(project_file))

    env_layer = _env_layer(environ)
    if env_layer:
        _check_layer(env_layer, "the environment (NANOTUI_* variables)")
        _merge(merged, env_layer)
        _note_sources(loaded.sources, env_layer, "the environment")

    if flags:
        flag_layer = {
            k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in flags.items()
        }
        flag_layer = {k: v for k, v in flag_layer.items() if v}
        _check_layer(flag_layer, "the command line")
        _merge(merged, flag_layer)
        _note_sources(loaded.sources, flag_layer, "the command line")

    loaded.provider_configured = any(v is not None for v in merged.get("provider", {}).values())
    loaded.settings = Settings(**merged)
    return loaded


def load_user_layer() -> dict[str, Any]:
    """The user's own config file alone, checked (empty when there is none)."""
    user_file = paths.user_config_file()
    layer = _read_toml(user_file) or {}
    _check_layer(layer, str(user_file))
    return layer


def _read_toml(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or remove that line.") from exc


def _check_layer(layer: dict[str, Any], where: str) -> None:
    try:
        Settings(**layer)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        expected = _describe_error(first)
        raise ConfigError(f"In {where}, `{key}` is invalid: {expected}.") from exc


def _describe_error(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "no such setting (check the spelling against the README's configuration section)"
    if error["type"] == "literal_error":
        return f"expected {error['ctx']['expected']}, got {error.get('input')!r}"
    return f"{error['msg'].rstrip('.').lower()}, got {error.get('input')!r}"


def _note_sources(
    sources: dict[str, str], layer: dict[str, Any], label: str, *, additive: bool = True
) -> None:
    """Record `label` as where each setting of `layer` came from (as `_merge` merges it)."""
    for section, values in layer.items():
        for key in values if isinstance(values, dict) else [None]:
            name = section if key is None else f"{section}.{key}"
            adds_up = additive and (section, key) in LIST_KEYS_THAT_ADD_UP
            before = sources.get(name, "defaults" if adds_up else None)
            sources[name] = f"{before} + {label}" if adds_up and before else label


def _merge(into: dict[str, Any], layer: dict[str, Any], *, additive: bool = True) -> None:
    """Later layers win, except that ask, deny and protected lists add up (unless replacing)."""
    for section, values in layer.items():
        if not isinstance(values, dict):
            into[section] = values
            continue
        target = into.setdefault(section, {})
        for key, value in values.items():
            if additive and (section, key) in LIST_KEYS_THAT_ADD_UP and key in target:
                target[key] = list(dict.fromkeys([*target[key], *value]))
            elif isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **value}
            else:
                target[key] = value


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, (section, key) in ENV_SHORTCUTS.items():
        if environ.get(name):
            layer.setdefault(section, {})[key] = environ[name]
    # NANOTUI_SECTION__KEY=value, e.g. NANOTUI_BUDGET__SESSION_USD=1.5
    for name, raw in environ.items():
        if not name.startswith("NANOTUI_") or "__" not in name:
            continue
        section, _, key = name.removeprefix("NANOTUI_").lower().partition("__")
        value: Any = raw
        if raw.startswith("["):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(raw)
        layer.setdefault(section, {})[key] = value
    return layer


def _restrict_untrusted(
    layer: dict[str, Any], below: dict[str, Any], notices: list[str]
) -> dict[str, Any]:
    """Keep only the project settings that make things stricter.

    Values are compared as validated (typed) settings, so `network = "true"` or
    `timeout_s = "9999"` are judged for what they mean, not for how they were spelt.
    """
    typed = Settings(**layer)
    current = Settings(**below)
    kept: dict[str, Any] = {}
    ignored: list[str] = []
    # Sections an untrusted folder may not touch at all: where the code and key are sent,
    # what things cost, and how fast money may be spent.
    # (and [keys]: a project must not be able to move the approval keys under the user).
    # [sessions] too: a project must not be able to shorten how long the audit trail is kept.
    # [server] is read from the server's own config only.
    for section in ("provider", "prices", "rate_limit", "keys", "sessions", "server"):
        if section in layer:
            ignored.append(section)

    def keep(section: str, key: str, tighter: bool) -> None:
        if key not in layer.get(section, {}):
            return
        if tighter:
            value = getattr(getattr(typed, section), key)
            kept.setdefault(section, {})[key] = value
        else:
            ignored.append(f"{section}.{key}")

    policy = layer.get("policy", {})
    if "allow" in policy:
        ignored.append("policy.allow")
    for key in ("ask", "deny", "protected_paths"):
        keep("policy", key, True)  # these lists only add up
    keep(
        "approval",
        "mode",
        MODE_ORDER.index(typed.approval.mode) <= MODE_ORDER.index(current.approval.mode),
    )
    keep("sandbox", "network", typed.sandbox.network is False or current.sandbox.network)
    keep("sandbox", "backend", typed.sandbox.backend != "plain")
    keep("sandbox", "require", typed.sandbox.require or not current.sandbox.require)
    keep("sandbox", "pass_env", not typed.sandbox.pass_env)  # a project may not ask for keys
    # Nor show commands more of the home folder or more credential files than the user does.
    for key in ("home_allow", "readable_credentials"):
        keep("sandbox", key, set(getattr(typed.sandbox, key)) <= set(getattr(current.sandbox, key)))
    for key in (
        *("timeout_s", "max_output_bytes", "memory_mb", "max_processes"),
        *("max_file_mb", "cpu_time_s", "tmp_mb", "max_workspace_growth_mb"),
    ):
        keep("sandbox", key, getattr(typed.sandbox, key) <= getattr(current.sandbox, key))
    for key in ("session_usd", "day_usd", "max_tokens_per_request", "warn_at_percent"):
        keep("budget", key, getattr(typed.budget, key) <= getattr(current.budget, key))
    month, month_below = typed.budget.month_usd, current.budget.month_usd
    keep("budget", "month_usd", month is not None and (month_below is None or month <= month_below))
    # Checkpoints are the user's way back: a project may add to them, never take them away.
    checkpoints, below_checkpoints = typed.checkpoints, current.checkpoints
    keep("checkpoints", "enabled", checkpoints.enabled or not below_checkpoints.enabled)
    keep("checkpoints", "include", True)
    keep("checkpoints", "max_file_mb", checkpoints.max_file_mb >= below_checkpoints.max_file_mb)
    # Rolling back rewrites files on its own; only the user turns that on.
    rollback = checkpoints.rollback_on_failure
    keep(
        "checkpoints", "rollback_on_failure", not rollback or below_checkpoints.rollback_on_failure
    )
    for key in ("keep_last", "max_age_days"):
        value, before = getattr(checkpoints, key), getattr(below_checkpoints, key)
        keep("checkpoints", key, value == 0 or (before != 0 and value >= before))
    if ignored:
        notices.append(
            "This folder is not trusted, so its .nanotui/config.toml may only tighten settings; "
            f"ignored: {', '.join(ignored)} (trust the folder to apply them)."
        )
    return kept
