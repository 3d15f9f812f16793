"""What every model client offers the engine: the client protocol and the one error it raises.

The request and stream vocabulary (`ChatRequest`, `Message`, `Usage`, the stream pieces) is
shared with every layer and lives in `nanotui.protocol.model_io`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from nanotui.protocol.model_io import ChatRequest, StreamItem


def provider_layers(provider: Provider) -> list[Provider]:
    """The provider and every provider it wraps (text tool calling wraps the real client)."""
    layers = [provider]
    while hasattr(layers[-1], "inner"):
        layers.append(layers[-1].inner)  # type: ignore[attr-defined]
    return layers


@runtime_checkable
class Provider(Protocol):
    """A model client. `stream` yields StreamItems and raises ProviderError."""

    kind: str
    model: str
    label: str
    """What the UI shows, e.g. "qwen2.5-coder:14b @ localhost:11434" or "offline demo"."""
    is_demo: bool

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]: ...

    async def aclose(self) -> None: ...
