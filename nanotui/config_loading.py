"""Loading the settings: managed file, user file, project file, environment, then flags.

Loading checks each layer on its own first, so that an invalid value is reported in one
sentence naming the file (or variable), the key and what is expected; then the layers are
merged, later ones winning, and `Settings` takes the result.

A project's own `.nanotui/config.toml` is written by whoever wrote the repository, so until
the user trusts the folder it may only tighten what the user chose: it cannot add allow rules,
raise the approval mode, open the network, pick the plain sandbox, raise budgets, point the
provider (and the user's API key) at another endpoint, run hooks, or start MCP servers.
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
from nanotui.config_managed import enforce_managed
from nanotui.config_remembered_hosts import add_remembered_hosts
from nanotui.config_strictness import at_least_as_strict
from nanotui.protocol.basics import ConfigError, plural
from nanotui.protocol.setting_origins import SettingOrigins, managed_layer


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
    conflicts: list[str] = field(default_factory=list)
    """Settings a layer tried to loosen under the managed file, which kept its own (these
    are among `notices` too)."""
    rule_sources: dict[str, dict[str, str]] = field(default_factory=dict)
    """Where each policy rule came from: "policy.deny" -> {"curl *": "defaults", ...} (the
    first layer that named it), for `nanotui policy explain`; and each network name of
    "sandbox.allowed_domains" (a name remembered for the project says so)."""


# Variables with short names, per the command-line contract.
ENV_SHORTCUTS = {
    "NANOTUI_PROVIDER": ("provider", "kind"),
    "NANOTUI_BASE_URL": ("provider", "base_url"),
    "NANOTUI_MODEL": ("provider", "model"),
}
_ADDITIVE_POLICY_KEYS = (("ask",), ("deny",), ("protected_paths",))
LIST_KEYS_THAT_ADD_UP = {("policy", key) for (key,) in _ADDITIVE_POLICY_KEYS}
LISTS_THAT_ADD_UP = ("hooks",)
"""Top-level lists every layer adds to and none replaces: a hook of the managed file (or the
user's) stays whatever a layer above says. A hook can only block or hand its call back to
the policy, never approve, so a layer adding one never loosens anything."""


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
    loaded.rule_sources = {
        f"policy.{key}": dict.fromkeys(rules, "defaults")
        for key, rules in PolicyConfig().model_dump().items()
        if isinstance(rules, list)
    }
    # Seeded with the defaults so that a later layer's deny or protected list adds to them.
    defaults = PolicyConfig()
    merged: dict[str, Any] = {
        "policy": {key: list(getattr(defaults, key)) for (key,) in _ADDITIVE_POLICY_KEYS}
    }

    managed_file = paths.managed_config_file()
    managed_settings = _read_toml(managed_file)
    if managed_settings is not None:
        _check_layer(managed_settings, str(managed_file), managed=True)
        loaded.files_read.append(managed_file)
        _merge(merged, managed_settings)
        _note_sources(loaded, managed_settings, managed_layer(managed_file))

    user_file = paths.user_config_file()
    user_layer = _read_toml(user_file)
    if user_layer is not None:
        _check_layer(user_layer, str(user_file))
        loaded.files_read.append(user_file)
        _merge(merged, user_layer, additive=False)  # the user may replace the defaults
        _note_sources(loaded, user_layer, str(user_file), additive=False)

    if workspace is not None:
        project_file = paths.project_config_file(workspace)
        project_layer = _read_toml(project_file)
        if project_layer is not None:
            _check_layer(project_layer, str(project_file))
            loaded.files_read.append(project_file)
            if not trusted:
                project_layer = _restrict_untrusted(project_layer, merged, loaded.notices)
            _merge(merged, project_layer)
            _note_sources(loaded, project_layer, str(project_file))

    env_layer = _env_layer(environ)
    if env_layer:
        _check_layer(env_layer, "the environment (NANOTUI_* variables)")
        _merge(merged, env_layer)
        _note_sources(loaded, env_layer, "the environment")

    if flags:
        flag_layer = {
            k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in flags.items()
        }
        flag_layer = {k: v for k, v in flag_layer.items() if v}
        _check_layer(flag_layer, "the command line")
        _merge(merged, flag_layer)
        _note_sources(loaded, flag_layer, "the command line")

    loaded.provider_configured = any(v is not None for v in merged.get("provider", {}).values())
    loaded.settings = Settings(**merged)
    if managed_settings is not None:
        loaded.settings = enforce_managed(
            loaded.settings, managed_settings, str(managed_file), loaded.sources, loaded.conflicts
        )
        loaded.notices.extend(loaded.conflicts)
    loaded.settings = _mode_within_ceiling(loaded.settings, loaded.sources, loaded.notices)
    if workspace is not None:
        loaded.settings = add_remembered_hosts(
            loaded.settings,
            workspace,
            managed_settings,
            loaded.sources,
            loaded.rule_sources.setdefault("sandbox.allowed_domains", {}),
            loaded.notices,
        )
    return loaded


def _mode_within_ceiling(
    settings: Settings, sources: dict[str, str], notices: list[str]
) -> Settings:
    """The approval mode lowered to `approval.max_mode` when some layer asked for more."""
    approval = settings.approval
    if at_least_as_strict("approval", "mode", approval.mode, approval.max_mode):
        return settings
    notices.append(
        f"approval.mode {approval.mode} ({sources.get('approval.mode', 'defaults')}) is looser "
        f"than approval.max_mode {approval.max_mode} ({sources.get('approval.max_mode')}); "
        f"starting in {approval.max_mode} mode."
    )
    sources["approval.mode"] = sources.get("approval.max_mode", "defaults")
    return settings.model_copy(
        update={"approval": approval.model_copy(update={"mode": approval.max_mode})}
    )


def setting_origins(loaded: LoadedConfig) -> SettingOrigins:
    """Each setting some layer set, with its value and layer, and each policy rule's layer."""
    values = {
        name: (setting_value(loaded.settings, name), layer)
        for name, layer in sorted(loaded.sources.items())
    }
    return SettingOrigins(values=values, rules=loaded.rule_sources)


def setting_value(settings: Settings, name: str) -> str:
    """A setting's merged value as JSON text, e.g. `setting_value(s, "budget.day_usd")`."""
    value: Any = settings
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    elif isinstance(value, list):  # [[hooks]]: a list of tables
        value = [v.model_dump() if hasattr(v, "model_dump") else v for v in value]
    return json.dumps(value, default=str)


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


def _check_layer(layer: dict[str, Any], where: str, *, managed: bool = False) -> None:
    """Stop with one sentence at the first invalid setting of `layer`; `[managed]` is
    only for the organisation's managed file (`managed`)."""
    if not managed and any(str(name).lower() == "managed" for name in layer):
        raise ConfigError(
            f"In {where}, `[managed]` is not allowed: it belongs in the organisation's "
            f"managed file ({paths.managed_config_file()}); remove it."
        )
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
    loaded: LoadedConfig, layer: dict[str, Any], label: str, *, additive: bool = True
) -> None:
    """Record `label` as where each setting of `layer` came from (as `_merge` merges it),
    and where each policy rule it names came from (if no layer before named it)."""
    sources = loaded.sources
    for section, values in layer.items():
        for key in values if isinstance(values, dict) else [None]:
            name = section if key is None else f"{section}.{key}"
            if section == "policy" and isinstance(values.get(key), list):
                rules = loaded.rule_sources.setdefault(name, {})
                for rule in values[key]:
                    rules.setdefault(rule, label)
            from_defaults = additive and (section, key) in LIST_KEYS_THAT_ADD_UP
            adds_up = from_defaults or (key is None and section.lower() in LISTS_THAT_ADD_UP)
            before = sources.get(name, "defaults" if from_defaults else None)
            sources[name] = f"{before} + {label}" if adds_up and before else label


def _merge(into: dict[str, Any], layer: dict[str, Any], *, additive: bool = True) -> None:
    """Later layers win, except that ask, deny and protected lists add up (unless replacing)."""
    for section, values in layer.items():
        if section.lower() in LISTS_THAT_ADD_UP and isinstance(values, list):
            name = section.lower()
            into[name] = [*into.get(name, []), *values]
            continue
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


UNTOUCHABLE_BY_UNTRUSTED = (
    *("provider", "prices", "rate_limit", "keys", "sessions", "server", "telemetry", "hooks"),
    "mcp",
)
"""Sections an untrusted folder may not touch at all: where the code and key are sent, what
things cost, how fast money may be spent, the approval keys (moved under the user), how
long the audit trail is kept, where telemetry goes and whether it carries content; [server]
is read from the server's own config only; hooks are commands the repository's author
wrote, run on every prompt and tool call; so are MCP servers (`_untrusted_servers`)."""


def _untrusted_may_set(section: str, key: str, value: Any, below: Any) -> bool:
    if (section, key) == ("sandbox", "pass_env"):
        return not value  # a project may not ask for the user's keys, not even theirs
    if (section, key) in LIST_KEYS_THAT_ADD_UP:
        return True  # deny, ask and protected lists add to what is there
    if (section, key) == ("checkpoints", "include"):
        return True  # more in the checkpoints only makes the way back safer
    return bool(at_least_as_strict(section, key, value, below))


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
    for written, values in layer.items():
        section = written.lower()
        if section == "hooks" and isinstance(values, list):
            notices.append(
                f"This folder is not trusted, so its {plural(len(values), 'hook')} "
                "(.nanotui/config.toml [[hooks]]) will not run; trust the folder to run them."
            )
            continue
        if section == "mcp" and isinstance(values, dict):
            kept["mcp"] = _untrusted_servers(values, below, notices)
            continue
        if section in UNTOUCHABLE_BY_UNTRUSTED or not isinstance(values, dict):
            ignored.append(written)
            continue
        for key in values:
            value = getattr(getattr(typed, section), key)
            if _untrusted_may_set(section, key, value, getattr(getattr(current, section), key)):
                kept.setdefault(section, {})[key] = value
            else:
                ignored.append(f"{written}.{key}")
    if ignored:
        notices.append(
            "This folder is not trusted, so its .nanotui/config.toml may only tighten settings; "
            f"ignored: {', '.join(ignored)} (trust the folder to apply them)."
        )
    return kept


def _untrusted_servers(
    values: dict[str, Any], below: dict[str, Any], notices: list[str]
) -> dict[str, Any]:
    """An untrusted folder's `[mcp.servers.*]`: named (for `/mcp` and `nanotui mcp list`),
    never started; a name the user's own config defines stays the user's server."""
    servers = values.get("servers")
    theirs = [str(name) for name in servers] if isinstance(servers, dict) else []
    ours = below.get("mcp", {}).get("servers", {})
    names = [name for name in theirs if name not in ours]
    if names:
        notices.append(
            f"This folder is not trusted, so its {plural(len(names), 'MCP server')} "
            f"({', '.join(names)}) will not start; trust the folder to start them."
        )
    return {"untrusted": [*below.get("mcp", {}).get("untrusted", []), *names]}
