"""Bounds on one streamed reply, checked as it arrives: a server may ignore max_tokens.

A model server is asked for at most `max_tokens`, but one that ignores it (a bug, a proxy, a
hostile endpoint) would otherwise stream for ever, and a client that only trusts the usage it
is sent at the end would neither stop nor count the cost. So the clients count what arrives
and cut the stream, saying why in one sentence:

- past the output limit: estimated from the characters of text, tool-call arguments and
  reasoning (CHARS_PER_TOKEN a token, with ESTIMATE_MARGIN for how rough that is), or the
  provider's own output count when it sends one mid-stream;
- past what the budgets can pay for (the request's OutputAllowance, which the engine works
  out from the budgets and the price);
- past the request's deadline (provider.request_deadline_s), however slowly data trickles;
- past a bound on raw bytes, which catches padding no character count sees (empty events,
  endless comments, a line that never ends).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from nanotui.protocol.basics import plural
from nanotui.protocol.model_io import (
    CHARS_PER_TOKEN,
    ChatRequest,
    ErrorKind,
    OutputAllowance,
    ProviderError,
    Usage,
)

if TYPE_CHECKING:
    from nanotui.config import ProviderConfig

ESTIMATE_MARGIN = 2.0
"""The estimate cuts a reply at this multiple of max_tokens: chars/4 is off both ways."""
RAW_BYTES_PER_TOKEN = 512
"""Wire bytes allowed per token of the cut-off point: a one-token OpenAI chunk is ~200 bytes."""
MIN_RAW_BYTES = 1 << 20


@dataclass
class StreamProgress:
    """What one reply has streamed so far: what the limits count and what errors name."""

    text_chars: int = 0
    call_names: list[str] = field(default_factory=list)
    """Tool calls begun, in order (a name may be "" until it arrives)."""
    call_chars: int = 0
    reasoning_chars: int = 0
    raw_bytes: int = 0
    reported_input_tokens: int = 0
    reported_output_tokens: int = 0
    """The provider's own output count so far (0 when it has sent none yet)."""

    @property
    def output_chars(self) -> int:
        return self.text_chars + self.call_chars + self.reasoning_chars

    @property
    def estimated_output_tokens(self) -> int:
        return math.ceil(self.output_chars / CHARS_PER_TOKEN)

    @property
    def output_tokens(self) -> int:
        """The provider's count when it is the larger, else the estimate from characters."""
        return max(self.reported_output_tokens, self.estimated_output_tokens)

    @property
    def anything_arrived(self) -> bool:
        return bool(self.output_chars or self.call_names)

    def what_arrived(self) -> str:
        """`412 characters of text and part of a write_file tool call (1,030 characters of
        arguments)`."""
        parts: list[str] = []
        if self.text_chars:
            parts.append(f"{plural(self.text_chars, 'character')} of text")
        if self.call_names:
            names = [name or "unnamed" for name in self.call_names[:3]]
            if len(self.call_names) > 3:
                names.append(plural(len(self.call_names) - 3, "other"))
            arguments = f"({plural(self.call_chars, 'character')} of arguments)"
            if len(self.call_names) == 1:
                parts.append(f"part of a {names[0]} tool call {arguments}")
            else:
                parts.append(f"parts of {', '.join(names)} tool calls {arguments}")
        if self.reasoning_chars:
            parts.append(f"{plural(self.reasoning_chars, 'character')} of reasoning")
        return " and ".join(parts) if parts else "no text or tool call"

    def usage(self) -> Usage:
        """What a cut-off reply used, as far as it is known (input 0 when not reported)."""
        return Usage(input_tokens=self.reported_input_tokens, output_tokens=self.output_tokens)


def reply_tokens(request: ChatRequest, config: ProviderConfig) -> int:
    """The reply length a request asks for: its own, within the provider's max_output_tokens."""
    return min(request.max_tokens, config.max_output_tokens)


class StreamGuard:
    """Counts one reply as it streams and raises a ProviderError when it must be cut off."""

    @classmethod
    def for_request(cls, host: str, request: ChatRequest, config: ProviderConfig) -> StreamGuard:
        """The guard for one request to `host`, with the limits the request and config set."""
        return cls(
            host,
            max_tokens=reply_tokens(request, config),
            allowance=request.output_allowance,
            deadline_s=config.request_deadline_s,
        )

    def __init__(
        self,
        host: str,
        *,
        max_tokens: int,
        allowance: OutputAllowance | None,
        deadline_s: float,
    ) -> None:
        self.host = host
        self.max_tokens = max_tokens
        self.allowance = allowance
        self.deadline_s = deadline_s
        self.progress = StreamProgress()
        self._deadline = asyncio.get_running_loop().time() + deadline_s
        cut_tokens = ESTIMATE_MARGIN * max_tokens
        if allowance is not None:
            cut_tokens = min(cut_tokens, allowance.tokens)
        self._max_chars = cut_tokens * CHARS_PER_TOKEN
        self._max_raw_bytes = max(MIN_RAW_BYTES, int(cut_tokens) * RAW_BYTES_PER_TOKEN)

    # ---- counting, as the client parses events ------------------------------------------

    def text(self, chars: int) -> None:
        self.progress.text_chars += chars
        self._check_output()

    def call_started(self, name: str) -> None:
        self.progress.call_names.append(name)

    def call_named(self, name: str) -> None:
        """The name of the newest call, when it came after its start."""
        if self.progress.call_names and not self.progress.call_names[-1]:
            self.progress.call_names[-1] = name

    def call_arguments(self, chars: int) -> None:
        self.progress.call_chars += chars
        self._check_output()

    def reasoning(self, chars: int) -> None:
        self.progress.reasoning_chars += chars
        self._check_output()

    def reported(self, input_tokens: int, output_tokens: int, *, finished: bool) -> None:
        """The provider's own counts (they win when larger). Counts that come with or after
        the end of a finished reply are only recorded: it is complete, there is nothing to cut."""
        if input_tokens:
            self.progress.reported_input_tokens = input_tokens
        if output_tokens:
            self.progress.reported_output_tokens = output_tokens
            if not finished:
                self._check_output()

    # ---- the transport -------------------------------------------------------------------

    def remaining_s(self) -> float:
        return self._deadline - asyncio.get_running_loop().time()

    async def send(self, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        """Send the request; the deadline covers a server that never finishes its headers."""
        try:
            async with asyncio.timeout_at(self._deadline):
                return await client.send(request, stream=True)
        except TimeoutError:
            raise self.deadline_passed() from None

    async def guarded_text(self, response: httpx.Response) -> AsyncIterator[str]:
        """The response's text as it arrives, cut at the deadline or the raw-byte bound."""
        pieces = response.aiter_text()
        try:
            while True:
                try:
                    # No yield inside the timeout: it only ever cancels this one read.
                    async with asyncio.timeout_at(self._deadline):
                        piece = await anext(pieces)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise self.deadline_passed() from None
                self.progress.raw_bytes += len(piece)
                if self.progress.raw_bytes > self._max_raw_bytes:
                    raise self._cut(
                        "output_limit",
                        f"the model server at {self.host} sent "
                        f"{plural(self.progress.raw_bytes, 'byte')} holding "
                        f"{self._output_so_far()}, far more than a reply of "
                        f"{plural(self.max_tokens, 'token')} (provider.max_output_tokens) needs",
                    )
                yield piece
        finally:
            await pieces.aclose()

    # ---- the cuts ------------------------------------------------------------------------

    def _check_output(self) -> None:
        progress = self.progress
        allowance = self.allowance
        if allowance is not None and progress.output_tokens > allowance.tokens:
            raise self._cut(
                "budget",
                f"more output would pass {allowance.budget}, at about "
                f"{plural(progress.output_tokens, 'token')} so far",
                f"raise {allowance.setting} to allow more" if allowance.setting else "",
            )
        if (
            progress.output_chars > self._max_chars
            or progress.reported_output_tokens > self.max_tokens
        ):
            raise self._cut(
                "output_limit",
                f"the model server at {self.host} went on past the limit of "
                f"{plural(self.max_tokens, 'token')} (provider.max_output_tokens), at about "
                f"{plural(progress.output_tokens, 'token')} so far",
            )

    def deadline_passed(self) -> ProviderError:
        return self._cut(
            "deadline",
            f"the request to {self.host} ran for its whole {self.deadline_s:g} s "
            "(provider.request_deadline_s) with "
            + (self._output_so_far() if self.progress.anything_arrived else "no reply yet"),
            "raise provider.request_deadline_s if the model is really that slow",
        )

    def _output_so_far(self) -> str:
        return self.progress.what_arrived()

    def _cut(self, kind: ErrorKind, why: str, advice: str = "") -> ProviderError:
        notes = []
        if self.progress.text_chars:
            notes.append("the text that had streamed was kept")
        if self.progress.call_names:
            calls = (
                "its tool call was" if len(self.progress.call_names) == 1 else "its tool calls were"
            )
            notes.append(f"{calls} not run")
        tail = f" ({' and '.join(notes)})" if notes else ""
        tail += f"; {advice}" if advice else ""
        return ProviderError(
            f"The reply was cut off because {why}{tail}.",
            kind=kind,
            usage=self.progress.usage(),
        )
