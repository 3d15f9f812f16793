"""Configuration: user file, then project file, then environment, then flags.

Every section of the TOML reference in the README is a pydantic model here. Loading checks
each layer on its own first, so that an invalid value is reported in one sentence naming the
file (or variable), the key and what is expected.

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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nanotui import paths
from nanotui.protocol.basics import MODE_ORDER, ConfigError

ApprovalMode = Literal["plan", "ask", "auto-edit", "full-auto"]

DEFAULT_PROTECTED_PATHS = [
    ".env*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    ".ssh/**",
    ".aws/**",
    ".netrc",
    ".npmrc",
    ".pypirc",
    "credentials.json",
    ".git/hooks/**",
    ".git/config",
    ".nanotui/**",
]
DEFAULT_HOME_ALLOW = [
    # Python
    ".local/bin",
    ".local/lib",
    ".local/share/uv",
    ".cache/pip",
    ".cache/uv",
    ".pyenv",
    # Node
    ".nvm",
    ".npm",
    ".volta",
    # Rust (not .cargo/credentials*)
    ".cargo/bin",
    ".cargo/registry",
    ".cargo/git",
    ".rustup",
    # Go
    "go/bin",
    "go/pkg",
    # git's own settings (not ~/.git-credentials nor ~/.config/git/credentials)
    ".gitconfig",
    ".config/git/config",
    ".config/git/ignore",
    ".config/git/attributes",
]
"""What of the home folder a sandboxed command sees (read-only): toolchains and caches."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ProviderConfig(Section):
    kind: Literal["openai-compatible", "anthropic", "demo"] = "openai-compatible"
    """Which API the model speaks: any OpenAI-compatible server, Anthropic, or the offline demo."""
    base_url: str | None = None
    """Endpoint; defaults to Ollama on localhost for openai-compatible, api.anthropic.com else."""
    model: str | None = None
    """Model name as the endpoint knows it."""
    api_key_env: str | None = None
    """Name of the environment variable that holds the key (the key itself never goes here)."""
    tool_calling: Literal["auto", "native", "text"] = "auto"
    """native: the API's tool calls; text: tools described in the prompt; auto: native, then text
    if the server says the model cannot call tools."""
    max_output_tokens: int = Field(default=8192, gt=0)
    """Upper bound on the reply length of one request."""
    temperature: float | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=180.0, gt=0)
    """Longest silence tolerated while a reply streams (local models can think for a while)."""
    request_deadline_s: float = Field(default=600.0, gt=0)
    """Longest one request may take in all, streaming included, however slowly data trickles."""


class ApprovalConfig(Section):
    mode: ApprovalMode = "ask"
    """plan: read-only; ask: writes and commands ask; auto-edit: workspace writes run;
    full-auto: all that policy allows runs, still sandboxed."""


class PolicyConfig(Section):
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=lambda: ["git push *", "curl *", "wget *"])
    protected_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_PROTECTED_PATHS))


class SandboxConfig(Section):
    backend: Literal["auto", "bwrap", "landlock", "plain"] = "auto"
    """auto: bwrap where it starts, else landlock, else plain (with a loud warning)."""
    require: bool = False
    """Refuse to run commands rather than fall back to the plain backend."""
    network: bool = False
    timeout_s: float = Field(default=120.0, gt=0)
    max_output_bytes: int = Field(default=1_048_576, gt=0)
    memory_mb: int = Field(default=2048, gt=0)
    """Memory for the whole command (a memory cgroup), or per process where none can be made."""
    tmp_mb: int = Field(default=512, gt=0)
    """Size of the command's private /tmp (bwrap); its pages count as the command's memory."""
    max_workspace_growth_mb: int = Field(default=2048, gt=0)
    """How much a command may add to disk (the workspace's, its temp folder's) before it is
    stopped."""
    max_processes: int = Field(default=256, gt=0)
    max_file_mb: int = Field(default=1024, gt=0)
    """Largest file a command may write."""
    cpu_time_s: int = Field(default=600, gt=0)
    """CPU seconds a command may use (its wall-clock limit is timeout_s)."""
    pass_env: list[str] = Field(default_factory=list)
    """Variables passed to commands on purpose, even ones that look secret."""
    home_allow: list[str] = Field(default_factory=lambda: list(DEFAULT_HOME_ALLOW))
    """Folders and files of the home folder (relative to it) commands may read; the rest of
    home is hidden from them (bwrap) or unreadable (landlock)."""
    readable_credentials: list[str] = Field(default_factory=list)
    """Credential files of the workspace (see policy.protected_paths) commands may read on
    purpose, as patterns such as ".env.test"; the others are hidden from them (bwrap)."""


class BudgetConfig(Section):
    session_usd: float = Field(default=5.0, ge=0)
    day_usd: float = Field(default=50.0, ge=0)
    warn_at_percent: float = Field(default=80, gt=0, le=100)
    max_tokens_per_request: int = Field(default=100_000, gt=0)


class RateLimitConfig(Section):
    requests_per_minute: int = Field(default=60, ge=0)
    """0: no limit."""
    tokens_per_minute: int = Field(default=0, ge=0)
    """0: no limit."""
    max_retries: int = Field(default=4, ge=0)
    max_retry_wait_s: float = Field(default=60.0, ge=0)


class SessionsConfig(Section):
    retention_days: int = Field(default=30, ge=0)
    """Session logs older than this are deleted when a session starts; 0 keeps them all."""


class CheckpointsConfig(Section):
    enabled: bool = True
    """Snapshot the workspace before each turn that may change files and each approved batch."""
    max_file_mb: float = Field(default=5, gt=0)
    """Larger files are left out of checkpoints (and listed as left out)."""
    include: list[str] = Field(default_factory=list)
    """Ignored files to snapshot anyway (glob patterns relative to the workspace)."""
    keep_last: int = Field(default=50, ge=0)
    """Checkpoints kept per session; 0 keeps them all."""
    max_age_days: float = Field(default=30, ge=0)
    """Checkpoints older than this are deleted; 0 keeps them however old."""
    rollback_on_failure: bool = False
    """Restore the checkpoint taken before a batch when it fails half-way or is aborted."""

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def engine_options(self) -> dict[str, Any]:
        """These settings as the keyword arguments of `vcs.checkpoints.Checkpoints`."""
        return {
            "max_file_bytes": self.max_file_bytes,
            "include": self.include,
            "keep_last": self.keep_last,
            "max_age_days": self.max_age_days,
        }


class PriceConfig(Section):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)


class Settings(BaseSettings):
    """All of nanotui's settings, merged from every layer."""

    model_config = SettingsConfigDict(extra="forbid", use_attribute_docstrings=True)

    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    checkpoints: CheckpointsConfig = Field(default_factory=CheckpointsConfig)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    keys: dict[str, str] = Field(default_factory=dict)
    """Key remapping for the full-screen app: binding id -> keys, e.g.
    "nanotui.interrupt" = "ctrl+c" (`nanotui` lists the ids on its help screen, F1)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Layers are merged by `load_settings` so each can be checked and restricted on its
        # own; the model itself only takes the merged result.
        return (init_settings,)


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
    for section in ("provider", "prices", "rate_limit", "keys", "sessions"):
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


def resolve_api_key(provider: ProviderConfig, environ: dict[str, str] | None = None) -> str | None:
    """The key to send, from NANOTUI_API_KEY, the configured variable, or the usual one.

    A well-known key is only sent to its own service, never to an arbitrary endpoint.
    """
    environ = os.environ if environ is None else environ
    if environ.get("NANOTUI_API_KEY"):
        return environ["NANOTUI_API_KEY"]
    if provider.api_key_env:
        return environ.get(provider.api_key_env) or None
    base = (provider.base_url or "").lower()
    if provider.kind == "anthropic":
        return environ.get("ANTHROPIC_API_KEY") or None
    if "openrouter.ai" in base:
        return environ.get("OPENROUTER_API_KEY") or None
    if "api.openai.com" in base:
        return environ.get("OPENAI_API_KEY") or None
    return None


def default_base_url(kind: str) -> str:
    if kind == "anthropic":
        return "https://api.anthropic.com"
    return "http://localhost:11434/v1"
