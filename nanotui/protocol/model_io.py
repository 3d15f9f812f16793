"""What goes to a model and what comes back, in provider-neutral form.

Conversation messages here are the neutral form; each client translates them to its wire
format. Usage is normalised so that cached tokens are never counted twice: `input_tokens` is
the *total* prompt size, cached reads and cache writes included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

CHARS_PER_TOKEN = 4
"""A deliberately rough estimate, used only until a provider's real usage arrives."""


class ToolCall(BaseModel):
    """A call the model asked for. `arguments` is the raw JSON text, parsed later by the tool."""

    id: str
    name: str
    arguments: str = "{}"


class Message(BaseModel):
    """One conversation message in provider-neutral form."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    """For role "tool": which call this is the result of."""
    tool_name: str | None = None
    is_error: bool = False


class ToolSpec(BaseModel):
    """A tool as the model sees it: a name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


class OutputAllowance(BaseModel):
    """The most output one request may stream before a budget would be passed.

    The engine works it out from the budgets and the price; the client cuts the stream when
    the output so far (by the provider's count, else estimated from its characters) passes it.
    """

    tokens: int
    budget: str
    """The budget that would be passed, as a cut-off message names it."""
    setting: str = ""
    """The setting that raises it, e.g. "budget.session_usd"."""


class ChatRequest(BaseModel):
    system: str = ""
    messages: list[Message] = Field(default_factory=list)
    tools: list[ToolSpec] = Field(default_factory=list)
    max_tokens: int = 8192
    temperature: float | None = None
    output_allowance: OutputAllowance | None = None
    """None: no budget bounds this request's output (an unpriced model, or no budget kept)."""


class Usage(BaseModel):
    """Token counts for one request, the same meaning for every provider.

    input_tokens is the whole prompt, *including* cached_input_tokens and cache_write_tokens
    (OpenAI already reports it so; Anthropic reports the three apart and the client adds them).
    output_tokens includes reasoning_tokens.
    """

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields}
        )


# ---- what a stream yields -------------------------------------------------------------


@dataclass(frozen=True)
class TextPiece:
    """A fragment of the reply text, in order."""

    text: str


@dataclass(frozen=True)
class ToolCallPiece:
    """A complete tool call, emitted once all of its argument fragments have arrived."""

    call: ToolCall


@dataclass(frozen=True)
class UsagePiece:
    usage: Usage


@dataclass(frozen=True)
class StreamDone:
    """The reply is complete. stop_reason is normalised: "end", "tool_calls", "max_tokens"."""

    stop_reason: str


StreamItem = TextPiece | ToolCallPiece | UsagePiece | StreamDone


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
