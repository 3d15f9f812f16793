"""Builds the model client the configuration asks for."""

from __future__ import annotations

from nanotui.config import ProviderConfig, default_base_url, resolve_api_key
from nanotui.providers.base import Provider


class ProviderSetupError(Exception):
    """The provider cannot be built; the message says what to set."""


def build_provider(config: ProviderConfig) -> Provider:
    if config.kind == "demo":
        from nanotui.providers.demo import DemoProvider

        return DemoProvider()
    if not config.model:
        raise ProviderSetupError(
            "No model is configured; pass --model NAME, set NANOTUI_MODEL, or set "
            "[provider] model in config.toml (nanotui --demo runs without a model)."
        )
    config = config.model_copy(
        update={"base_url": config.base_url or default_base_url(config.kind)}
    )
    api_key = resolve_api_key(config)
    if config.kind == "anthropic":
        from nanotui.providers.anthropic import AnthropicProvider

        if not api_key:
            raise ProviderSetupError(
                "No Anthropic API key found; set ANTHROPIC_API_KEY (or NANOTUI_API_KEY)."
            )
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
