"""The settings: every section of the README's TOML reference, as a pydantic model.

Each field carries its default and, as a docstring, what it means; `Settings` holds them all,
as merged from every layer by `nanotui.config_loading`. The provider's defaults that depend
on its kind (the endpoint, the key to send) are here too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    max_mode: ApprovalMode = "full-auto"
    """The loosest mode a session may switch to (`/mode`, shift+tab); an organisation's
    managed settings lower it to their own `mode`."""


class PolicyConfig(Section):
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=lambda: ["git push *", "curl *", "wget *"])
    protected_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_PROTECTED_PATHS))
    default: Literal["ask", "deny"] = "ask"
    """What a command no rule allows gets: "ask" the person, or "deny" (allowlist-only)."""
    read_only_builtin: bool = True
    """Whether the built-in list of read-only commands (ls, cat, git log, ...) allows them."""


class SandboxConfig(Section):
    @field_validator("network", mode="before")
    @classmethod
    def _network_as_words(cls, value: Any) -> Any:
        """`network = true` (and "true", from the environment) as it always meant: full."""
        if isinstance(value, bool):
            return "full" if value else "none"
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return "full" if value.lower() == "true" else "none"
        return value

    backend: Literal["auto", "bwrap", "landlock", "plain"] = "auto"
    """auto: bwrap where it starts, else landlock, else plain (with a loud warning)."""
    require: bool = False
    """Refuse to run commands rather than fall back to the plain backend."""
    network: Literal["none", "allowlist", "full"] = "none"
    """none: no network; allowlist: only `allowed_domains`, through nanotui's proxy (needs the
    bwrap backend; elsewhere none); full: all of it. true and false mean full and none."""
    allowed_domains: list[str] = Field(default_factory=list)
    """Names reached with network = "allowlist", e.g. ["pypi.org", "*.pythonhosted.org"]."""
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
    month_usd: float | None = Field(default=None, ge=0)
    """This calendar month's spending, every session counted; None: no monthly limit."""
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


class ServerConfig(Section):
    """`nanotui serve`: read from the server's own config only; no client can change it."""

    database_url: str | None = None
    """SQLAlchemy URL of the service's database; None: SQLite under the state folder."""
    replica_url: str | None = None
    """This replica's URL as clients reach it (several on one database; requests for its
    sessions that reach another are sent here); None: http://<host>:<port>."""
    requests_per_minute: int = Field(default=1200, ge=0)
    """API requests per minute for the whole service; 0: no limit."""
    user_requests_per_minute: int = Field(default=240, ge=0)
    """API requests per minute for a user without an --rpm of their own; 0: no limit."""
    tokens_per_minute: int = Field(default=0, ge=0)
    """Model tokens per minute for all users together; 0: no limit (see --tpm for one)."""
    max_sessions_per_user: int = Field(default=8, ge=1)
    """Sessions one user may hold open at once."""
    models: list[str] = Field(default_factory=list)
    """Models of the provider a session may ask for, besides `[provider] model`."""
    team_day_usd: float | None = Field(default=None, ge=0)
    """What all users together may spend in a day; None: no team budget."""


class RemoteConfig(Section):
    """The token for a team service (`nanotui --server URL`). Read from the user's own
    config file only: a project's config can never send the user's token anywhere."""

    token: str | None = None


class ManagedConfig(Section):
    """What only an organisation's managed file (`/etc/nanotui/managed.toml`) may say: the
    providers and endpoints its engineers may use. Empty lists allow any."""

    providers: list[Literal["openai-compatible", "anthropic"]] = Field(default_factory=list)
    """Provider kinds allowed (the offline demo sends nothing anywhere and is always allowed)."""
    base_urls: list[str] = Field(default_factory=list)
    """Endpoints allowed, as URL prefixes, e.g. "https://llm.example.com/v1"."""
    ask_unlisted_domains: bool = True
    """Whether the app may let a command reach a name [sandbox] allowed_domains lacks when
    asked (once, this session, always for this project); off by itself when this file sets
    allowed_domains, so that no answer reaches past the organisation's list."""


class TelemetryConfig(Section):
    """OpenTelemetry export (`pip install 'nanotui[otel]'`). Read from the user's and the
    organisation's files only: a project's config can never turn it on, send it elsewhere,
    or ask for content."""

    enabled: bool = False
    """Export traces and metrics over OTLP; the OTEL_EXPORTER_OTLP_* variables turn it on too."""
    endpoint: str | None = None
    """The collector, e.g. "http://localhost:4318"; None: OTEL_EXPORTER_OTLP_ENDPOINT, else
    the OTLP default for the protocol."""
    protocol: Literal["http/protobuf", "grpc"] | None = None
    """None: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf (grpc needs its exporter)."""
    include_content: bool = False
    """Export prompts, replies, tool arguments and output too, redacted as the log is."""


HookEvent = Literal["session_start", "user_prompt", "pre_tool", "post_tool", "stop"]


class HookConfig(Section):
    """One `[[hooks]]` entry: a command run in the sandbox when `event` happens (README, Hooks)."""

    event: HookEvent
    """When it runs: session_start, user_prompt, pre_tool, post_tool or stop."""
    command: str = Field(min_length=1)
    """The shell line to run (bash, in the workspace, inside the sandbox); it reads the event
    as JSON on stdin."""
    matcher: str = "*"
    """Which tools a pre_tool or post_tool hook runs for: a glob on the tool name, such as
    "run_command" or "*_file"; the other events ignore it."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Seconds before the hook is killed; a hook that times out has failed."""
    on_failure: Literal["block", "allow"] = "block"
    """What a hook that fails (crashes, times out, answers nonsense) means: "block" (the
    default: what it guards does not happen) or "allow" (it is logged and ignored)."""


class McpServerConfig(Section):
    """One `[mcp.servers.NAME]`: a stdio command started in the sandbox, or a streamable-HTTP
    URL (README, MCP servers)."""

    command: str | None = None
    """The program that serves MCP on its stdin and stdout, started in the command sandbox."""
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    """Variables added to the sandbox's scrubbed environment for this server."""
    network: bool = False
    """Whether the server may reach the network, and then only as [sandbox] network allows."""
    url: str | None = None
    """A streamable-HTTP MCP endpoint, instead of a command."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Seconds one tool call may take (and the server to start)."""
    read: list[str] = Field(default_factory=list)
    """Folders outside the home folders that a stdio server must read, such as a virtual
    environment under /tmp, which the bwrap sandbox's private /tmp hides; shown read-only.
    What lies in a home folder is shown through [sandbox] home_allow, for every command."""

    @field_validator("read")
    @classmethod
    def _read_outside_homes(cls, read: list[str]) -> list[str]:
        """Absolute, and never a home folder's: those hold credential stores that only
        home_allow knows how to keep hidden."""
        for entry in read:
            path = Path(entry)
            if not path.is_absolute():
                raise ValueError(f"read entries are absolute paths; {entry!r} is not")
            homes = [Path("/home"), Path("/root"), Path.home()]
            if any(path == home or home in path.parents for home in homes):
                raise ValueError(
                    f"{entry} is in a home folder; show it to every sandboxed program with "
                    "[sandbox] home_allow instead"
                )
        return read

    @model_validator(mode="after")
    def _command_or_url(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a stdio server) or url (streamable HTTP)")
        return self


class McpConfig(Section):
    servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    """`[mcp.servers.NAME]` tables: the MCP servers whose tools the model may call."""

    @field_validator("servers")
    @classmethod
    def _names_fit_tool_names(
        cls, servers: dict[str, McpServerConfig]
    ) -> dict[str, McpServerConfig]:
        """A server's name is part of each of its tools' names, which providers restrict."""
        for name in servers:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
                raise ValueError(
                    f"the server name {name!r} may hold only letters, digits, _ and - (32 at most)"
                )
        return servers

    untrusted: list[str] = Field(default_factory=list)
    """Servers an untrusted folder's config names: listed, never started (nanotui fills it
    in; naming a server here only keeps it from starting)."""


class PriceConfig(Section):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)


class Settings(BaseModel):
    """All of nanotui's settings, merged from every layer."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    checkpoints: CheckpointsConfig = Field(default_factory=CheckpointsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    remote: RemoteConfig = Field(default_factory=RemoteConfig)
    managed: ManagedConfig = Field(default_factory=ManagedConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    mcp: McpConfig = Field(default_factory=McpConfig)
    hooks: list[HookConfig] = Field(default_factory=list)
    """`[[hooks]]`: commands that see each event and may block it; every layer's add up."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Key remapping for the full-screen app: binding id -> keys, e.g.
    "nanotui.interrupt" = "ctrl+c" (`nanotui` lists the ids on its help screen, F1)."""

    @model_validator(mode="before")
    @classmethod
    def _section_names_in_any_case(cls, data: Any) -> Any:
        """`[Budget]` is `[budget]`: section names have always been read whatever their case.

        Of two spellings of one section in a layer the first is kept; a name that is no
        section is left as written, for the error to quote it.
        """
        if not isinstance(data, dict):
            return data
        sections = {name.lower(): name for name in cls.model_fields}
        named: dict[Any, Any] = {}
        for key, value in data.items():
            name = sections.get(key.lower(), key) if isinstance(key, str) else key
            named.setdefault(name, value)
        return named


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
