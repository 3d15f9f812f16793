"""First-run help: find a model to talk to, and save the choice in the user's config.

Nothing here imports textual: the full-screen setup screen uses it, and so can the command
line. Detection only reads: it asks local servers which models they serve, and looks at which
of the usual key variables are set (never at the keys themselves). Writing touches only the
`[provider]` table of the user's `config.toml` and stores the key's variable name, never a key.
"""

from __future__ import annotations

import asyncio
import os
import tomllib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from nanotui import paths
from nanotui.config_loading import LoadedConfig
from nanotui.protocol.atomic_write import write_atomically
from nanotui.protocol.basics import UserFacingError

OLLAMA_URL = "http://localhost:11434"
LM_STUDIO_URL = "http://localhost:1234"

# The connection and the choice of model, which a new choice replaces as a whole (a stale
# api_key_env would send one service's key to another); other [provider] settings stay.
CHOICE_KEYS = ("kind", "base_url", "model", "api_key_env")


class SetupError(Exception):
    """The choice cannot be saved; the message is one sentence for the user."""


@dataclass(frozen=True)
class ProviderChoice:
    """What the user picked: the `[provider]` settings to save (or the demo, saved nowhere)."""

    kind: str
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"

    def table(self) -> dict[str, str]:
        """The `[provider]` keys this choice sets (unset ones left out)."""
        values = {key: getattr(self, key) for key in CHOICE_KEYS}
        return {key: value for key, value in values.items() if value is not None}


DEMO_CHOICE = ProviderChoice(kind="demo")


@dataclass(frozen=True)
class DetectedServer:
    """A local OpenAI-compatible server that answered, and the models it serves."""

    name: str
    base_url: str
    """The OpenAI-compatible endpoint (ending in /v1), as `[provider] base_url` takes it."""
    models: tuple[str, ...]

    def choice(self, model: str) -> ProviderChoice:
        return ProviderChoice(kind="openai-compatible", base_url=self.base_url, model=model)


@dataclass(frozen=True)
class DetectedKey:
    """A usual key variable that is set, and the service it is for (the key is not kept)."""

    variable: str
    service: str
    kind: str
    base_url: str
    default_model: str

    def choice(self) -> ProviderChoice:
        return ProviderChoice(
            kind=self.kind,
            base_url=self.base_url,
            model=self.default_model,
            api_key_env=self.variable,
        )


# The variable, the service it unlocks, and a sensible model to start with (the README's).
KNOWN_KEYS: tuple[DetectedKey, ...] = (
    DetectedKey(
        "ANTHROPIC_API_KEY",
        "Anthropic",
        "anthropic",
        "https://api.anthropic.com",
        "claude-sonnet-4-5",
    ),
    DetectedKey(
        "OPENAI_API_KEY", "OpenAI", "openai-compatible", "https://api.openai.com/v1", "gpt-4.1"
    ),
    DetectedKey(
        "OPENROUTER_API_KEY",
        "OpenRouter",
        "openai-compatible",
        "https://openrouter.ai/api/v1",
        "anthropic/claude-sonnet-4",
    ),
)


def detect_api_keys(environ: Mapping[str, str] | None = None) -> list[DetectedKey]:
    """The usual key variables that are set (non-empty), in a fixed order."""
    environ = os.environ if environ is None else environ
    return [key for key in KNOWN_KEYS if environ.get(key.variable, "").strip()]


# ---- what the first run must ask -----------------------------------------------------


def needs_setup(loaded: LoadedConfig) -> bool:
    """No layer chose a provider (a demo chosen by flag or config counts as a choice)."""
    return not loaded.provider_configured and loaded.settings.provider.kind != "demo"


def needs_trust_question(loaded: LoadedConfig, workspace: Path, trusted: bool) -> bool:
    """Ask in the first session in a folder, and again whenever its config's wishes were cut.

    The offline demo works on a fresh copy of the sample project, which is never trusted
    (whichever model is then pointed at it): nothing to ask there.
    """
    from nanotui.engine.startup import is_demo_copy, was_asked

    if trusted or loaded.settings.provider.kind == "demo" or is_demo_copy(workspace):
        return False
    if loaded.notices and paths.project_config_file(workspace).is_file():
        return True
    return not was_asked(workspace)


def needs_first_run(loaded: LoadedConfig, workspace: Path, trusted: bool) -> bool:
    return needs_setup(loaded) or needs_trust_question(loaded, workspace, trusted)


# ---- local servers -----------------------------------------------------------------------


def detect_local_servers(
    timeout_s: float = 0.8,
    *,
    ollama_url: str = OLLAMA_URL,
    lm_studio_url: str = LM_STUDIO_URL,
) -> list[DetectedServer]:
    """Ask Ollama and LM Studio, at once, which models they serve; silent ones are left out.

    For callers without an event loop (the command line); the app awaits
    `detect_local_servers_async` instead.
    """
    return asyncio.run(
        detect_local_servers_async(timeout_s, ollama_url=ollama_url, lm_studio_url=lm_studio_url)
    )


async def detect_local_servers_async(
    timeout_s: float = 0.8,
    *,
    ollama_url: str = OLLAMA_URL,
    lm_studio_url: str = LM_STUDIO_URL,
) -> list[DetectedServer]:
    """Like `detect_local_servers`, on the caller's event loop; takes at most about timeout_s."""
    # trust_env=False: an HTTP(S)_PROXY meant for the internet must not swallow localhost.
    async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
        found = await asyncio.gather(
            _bounded(_probe_ollama(client, ollama_url), timeout_s),
            _bounded(_probe_openai_compatible(client, "LM Studio", lm_studio_url), timeout_s),
        )
    return [server for server in found if server is not None]


async def _bounded(
    probe: Awaitable[DetectedServer | None], timeout_s: float
) -> DetectedServer | None:
    """A probe's answer, or None if it fails or takes longer than timeout_s in all."""
    # httpx's timeout applies per read; a server trickling bytes could outlast it.
    try:
        return await asyncio.wait_for(probe, timeout_s)
    except (TimeoutError, httpx.HTTPError, ValueError, TypeError, KeyError, AttributeError):
        return None


async def _probe_ollama(client: httpx.AsyncClient, root: str) -> DetectedServer | None:
    root = root.rstrip("/")
    response = await client.get(f"{root}/api/tags")
    if response.status_code == 200:
        return DetectedServer("Ollama", f"{root}/v1", _ollama_names(response.json()))
    # Something else on Ollama's port, or an Ollama behind a proxy exposing only /v1.
    return await _probe_openai_compatible(client, "Ollama", root)


async def _probe_openai_compatible(
    client: httpx.AsyncClient, name: str, root: str
) -> DetectedServer | None:
    root = root.rstrip("/")
    response = await client.get(f"{root}/v1/models")
    if response.status_code != 200:
        return None
    names = _openai_names(response.json())
    return None if names is None else DetectedServer(name, f"{root}/v1", names)


def _openai_names(data: Any) -> tuple[str, ...] | None:
    """The model ids of an OpenAI-style model list, or None if `data` is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        return None
    return tuple(str(m["id"]) for m in data["data"])


def _ollama_names(data: Any) -> tuple[str, ...]:
    """The model names of Ollama's /api/tags answer."""
    return tuple(str(m.get("name") or m["model"]) for m in data.get("models") or [])


# ---- a server the user names -------------------------------------------------------------


async def list_models_at(
    url: str, *, api_key: str | None = None, timeout_s: float = 3.0
) -> DetectedServer:
    """The models the server at `url` lists, for the user to pick from; SetupError if none.

    `url` is what the user typed: an OpenAI-compatible base URL (…/v1) or the server's root.
    Its model list is read at /models under a /v1 URL, else at /v1/models then /models, then
    at Ollama's /api/tags. The answer's `base_url` is the one to save (a root that answered
    at /v1/models gains its /v1). `api_key` is sent as a bearer token: some servers list
    their models only to a client with a key.
    """
    url = url.rstrip("/")
    host = display_host(url)
    try:  # each request has timeout_s; the whole search at most twice that
        return await asyncio.wait_for(_list_models(url, api_key, timeout_s), 2 * timeout_s)
    except (KeyError, TypeError, AttributeError):  # a list whose entries are not models
        sentence = f"{host} did not list its models; type the model name."
    except (TimeoutError, httpx.TimeoutException):
        sentence = f"{host} did not answer in time; check the URL, or type the model name."
    except (httpx.HTTPError, httpx.InvalidURL):
        sentence = f"Could not reach {host}; check the URL, or type the model name."
    raise SetupError(sentence)


async def _list_models(url: str, api_key: str | None, timeout_s: float) -> DetectedServer:
    host = display_host(url)
    on_v1 = url.endswith("/v1")
    # Listing address -> the base URL to save when it answers.
    listings = {f"{url}/models": url} if on_v1 else {f"{url}/v1/models": f"{url}/v1"}
    if not on_v1:
        listings[f"{url}/models"] = url
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=timeout_s, headers=headers) as client:
        for listing, base_url in listings.items():
            response = await client.get(listing)
            statuses.append(response.status_code)
            names = _openai_names(_json_or_none(response)) if response.is_success else None
            if names is not None:
                return DetectedServer(host, base_url, names)
        root = url.removesuffix("/v1")
        response = await client.get(f"{root}/api/tags")
        statuses.append(response.status_code)
        data = _json_or_none(response) if response.is_success else None
        if isinstance(data, dict) and isinstance(data.get("models"), list):
            return DetectedServer("Ollama", f"{root}/v1", _ollama_names(data))
    if 401 in statuses or 403 in statuses:
        raise SetupError(
            f"{host} lists its models only to a client with an API key; set NANOTUI_API_KEY "
            "(or the service's own variable) and start again, or type the model name."
        )
    raise SetupError(f"{host} did not list its models; type the model name.")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def display_host(url: str) -> str:
    """`localhost:8080` for display, or the URL itself if it does not parse."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return url
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


# ---- the user's config file --------------------------------------------------------------


def write_user_provider_config(choice: ProviderChoice, path: Path | None = None) -> Path:
    """Save `choice` as `[provider]` in the user's config.toml and return the file's path.

    Every other table, and the comments in and around them, stay as they were; the [provider]
    table gets the choice plus the settings in it the choice does not set (timeouts, tool
    calling). The file is replaced atomically and readable by the owner only.
    """
    if choice.is_demo:
        raise SetupError("The offline demo is not saved; start it with nanotui --demo.")
    path = path or paths.user_config_file()
    try:
        old_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old_text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(
            f"Cannot read {path} ({_reason(exc)}); fix or move it, then retry."
        ) from exc
    try:
        old = tomllib.loads(old_text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path} is not valid TOML ({exc}); fix it, then retry.") from exc

    kept = old.get("provider", {})
    if not isinstance(kept, dict):
        raise SetupError(f"{path} has a `provider` that is not a table; remove that line.")
    provider = {k: v for k, v in kept.items() if k not in CHOICE_KEYS} | choice.table()
    cannot_update = SetupError(
        f"Cannot update [provider] in {path} without disturbing the rest of it; "
        "set kind, base_url and model there by hand."
    )
    try:
        document = tomlkit.parse(old_text)
        _set_provider(document, choice.table())
        new_text = tomlkit.dumps(document)
        new = tomllib.loads(new_text)
    except (TOMLKitError, tomllib.TOMLDecodeError):
        raise cannot_update from None
    # Prove the edit changed exactly what it meant to.
    if new != {**old, "provider": provider}:
        raise cannot_update
    try:
        paths.ensure_private_dir(path.parent)
        write_atomically(path, new_text, mode=0o600)
    except OSError as exc:
        raise SetupError(f"Cannot write {path} ({_reason(exc)}); check its folder.") from exc
    return path


def _set_provider(document: tomlkit.TOMLDocument, choice: dict[str, str]) -> None:
    """Put `choice` in the document's [provider], dropping the choice keys it does not set."""
    old = document.get("provider")
    if isinstance(old, Table):
        # Rebuilt with the choice first (in the README's order), then the user's own lines,
        # comments included, as they were.
        table = tomlkit.table()
        for key, value in choice.items():
            table.add(key, value)
        for key, item in old.value.body:
            if key is None:
                table.add(item)  # a comment or blank line
            elif key.key not in CHOICE_KEYS:
                table.add(key, item)
        document["provider"] = table
        return
    if old is None:
        document["provider"] = choice
        return
    for key in CHOICE_KEYS:  # an inline table: edited where it stands
        if key in old and key not in choice:
            del old[key]
    old.update(choice)


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


async def check_and_save(choice: ProviderChoice) -> str | None:
    """Build the provider as the app will (same key rules), then save; None, or why not."""
    from nanotui.config import ProviderConfig
    from nanotui.engine.startup import check_model

    try:
        provider = check_model(ProviderConfig(**choice.table()))
    except UserFacingError as exc:
        return str(exc).rstrip(".") + "."
    except ValueError:  # pydantic's ValidationError
        return "That choice is not a valid provider setting; check the URL and model."
    await provider.aclose()
    try:
        write_user_provider_config(choice)
    except SetupError as exc:
        return str(exc)
    return None
