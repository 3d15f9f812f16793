"""What every model client offers the engine: the client protocol and the one error it raises.

The request and stream vocabulary (`ChatRequest`, `Message`, `Usage`, the stream pieces) is
shared with every layer and lives in `nanotui.protocol.model_io`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, runtime_checkable

from nanotui.protocol.model_io import ChatRequest, StreamItem, Usage

# ---- errors ---------------------------------------------------------------------------

ErrorKind = Literal[
    "auth",
    "not_found",
    "rate_limit",
    "quota",
    "server",
    "context_length",
    "bad_request",
    "tools_unsupported",
    "connection",
    "timeout",
    "interrupted",
    "bad_response",
    "output_limit",
    "budget",
    "deadline",
]
CUT_OFF_KINDS = frozenset({"output_limit", "budget", "deadline"})
"""Errors for a reply nanotui cut off itself: what had streamed is kept, nothing is retried."""


class ProviderError(Exception):
    """A model request failed; `str(error)` is one sentence saying what and what to do."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        status: int | None = None,
        retry_after: float | None = None,
        partial_text: str = "",
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.partial_text = partial_text
        """Text that had already streamed when the reply broke off (kind "interrupted")."""
        self.usage = usage
        """For a reply cut off (CUT_OFF_KINDS) or broken off after output had streamed: what
        it used, the provider's counts where it sent them, else estimates; input_tokens 0 when
        unknown. The output was paid for, even when the request is retried."""

    @property
    def retryable(self) -> bool:
        return self.kind in {"rate_limit", "server", "connection", "timeout"}


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
