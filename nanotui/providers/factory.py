"""Builds the model client the configuration asks for."""

from __future__ import annotations

import contextlib
import importlib

import httpx

from nanotui.config import ProviderConfig, default_base_url, resolve_api_key
from nanotui.protocol.basics import UserFacingError
from nanotui.providers.base import Provider


class ProviderSetupError(UserFacingError):
    """The provider cannot be built; the message says what to set."""


NO_MODEL = (
    "No model is configured; pass --model NAME, set NANOTUI_MODEL, or set [provider] model "
    "in config.toml (nanotui --demo runs without a model)"
)


FIRST_REQUEST_IMPORTS = (
    "anyio._backends._asyncio",
    "httpcore._backends.anyio",
    "httpcore._backends.auto",
    "httpcore._async.http11",
)
"""What httpx imports on its first request (anyio's asyncio backend, HTTP/1.1)."""


def warm_up_requests() -> None:
    """Import now what the first request would, off the event loop: 15 to 20 ms that would
    otherwise hold the screen up as the first reply starts. A module a later httpx no longer
    uses is skipped."""
    for module in FIRST_REQUEST_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def _only_served_model(config: ProviderConfig, api_key: str | None) -> str:
    """With no model named, a local server that serves exactly one is unambiguous."""
    if config.kind != "openai-compatible" or not config.base_url:
        raise ProviderSetupError(NO_MODEL + ".")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(config.base_url.rstrip("/") + "/models", headers=headers, timeout=2)
        names = [str(m["id"]) for m in response.json().get("data", [])]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        raise ProviderSetupError(NO_MODEL + ".") from None
    if len(names) == 1:
        return names[0]
    if names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise ProviderSetupError(f"{NO_MODEL}; {config.base_url} serves: {shown}.")
    raise ProviderSetupError(NO_MODEL + ".")


def build_provider(config: ProviderConfig) -> Provider:
    if config.kind == "demo":
        from nanotui.providers.demo import DemoProvider

        return DemoProvider()
    config = config.model_copy(
        update={"base_url": config.base_url or default_base_url(config.kind)}
    )
    api_key = resolve_api_key(config)
    if config.kind == "anthropic" and not api_key:  # first: naming a model would not help
        raise ProviderSetupError(
            "No Anthropic API key found; set ANTHROPIC_API_KEY (or NANOTUI_API_KEY)."
        )
    if not config.model:
        config = config.model_copy(update={"model": _only_served_model(config, api_key)})
    if config.kind == "anthropic":
        from nanotui.providers.anthropic import AnthropicProvider

        assert api_key is not None
        return AnthropicProvider(config, api_key)

    from nanotui.providers.openai_compat import OpenAICompatProvider
    from nanotui.providers.text_tools import AutoToolCallingProvider, TextToolCallingProvider

    base = (config.base_url or "").lower()
    if api_key is None and ("openrouter.ai" in base or "api.openai.com" in base):
        variable = "OPENROUTER_API_KEY" if "openrouter.ai" in base else "OPENAI_API_KEY"
        raise ProviderSetupError(f"No API key found for {config.base_url}; set {variable}.")
    provider: Provider = OpenAICompatProvider(config, api_key)
    if config.tool_calling == "text":
        return TextToolCallingProvider(provider)
    if config.tool_calling == "auto":
        return AutoToolCallingProvider(provider)
    return provider
