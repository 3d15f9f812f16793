"""Turn HTTP and transport failures into ProviderErrors the user can act on.

Every error here is one sentence: what failed, then what to do. The clients share the
plumbing that opens an SSE stream so that a status error, a refused connection, a silent
server and a stream that breaks off all read the same whatever the API.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource, ServerSentEvent

from nanotui.config import ProviderConfig
from nanotui.protocol.model_io import ErrorKind, ProviderError

if TYPE_CHECKING:
    from nanotui.providers.stream_guard import StreamGuard, StreamProgress

# Phrases servers use when the prompt does not fit (OpenAI, vLLM, llama.cpp, Anthropic, ...).
CONTEXT_TOO_LONG = re.compile(
    r"context_length_exceeded|maximum context length|context length|context window"
    r"|prompt is too long|too many tokens|exceeds the available context size"
    r"|request_too_large|reduce the length",
    re.IGNORECASE,
)
# Phrases for "this model or server cannot do native tool calls" (Ollama, vLLM without a
# tool parser, llama.cpp without --jinja, OpenRouter routing, ...).
TOOLS_UNSUPPORTED = re.compile(
    r"does not support tools|tools? (?:is|are) not supported|tool use is not supported"
    r"|tool calling is not supported|support tool use|enable-auto-tool-choice"
    r"|tools param requires|requires --jinja",
    re.IGNORECASE,
)
QUOTA_EXHAUSTED = re.compile(
    r"insufficient_quota|exceeded your current quota|credit balance is too low"
    r"|insufficient credits|billing",
    re.IGNORECASE,
)
MAX_QUOTED = 160
MAX_ERROR_BODY = 64 * 1024
"""An error reply is read this far: enough for any message, not a hostile body's gigabytes."""


@dataclass(frozen=True)
class RequestInfo:
    """What an error message needs to know about the request that failed."""

    base_url: str
    url: str
    model: str
    key_env: str
    """The environment variable the user should set to give a key."""
    key_sent: bool
    connect_timeout_s: float
    read_timeout_s: float

    @property
    def host(self) -> str:
        return endpoint_host(self.base_url)

    @property
    def shown_base_url(self) -> str:
        return display_url(self.base_url)

    @property
    def shown_url(self) -> str:
        return display_url(self.url)


def endpoint_host(base_url: str) -> str:
    """`localhost:11434` for `http://localhost:11434/v1`: what the UI shows as the endpoint."""
    parts = urlsplit(base_url)
    if not parts.hostname:
        return base_url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port}" if parts.port else host


def display_url(url: str) -> str:
    """The URL without credentials or query, safe to show and to log."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    return f"{parts.scheme}://{endpoint_host(url)}{parts.path}"


def key_env_name(config: ProviderConfig) -> str:
    """The variable a user sets to give this provider a key (mirrors config.resolve_api_key)."""
    if config.api_key_env:
        return config.api_key_env
    base = (config.base_url or "").lower()
    if config.kind == "anthropic":
        return "ANTHROPIC_API_KEY"
    if "openrouter.ai" in base:
        return "OPENROUTER_API_KEY"
    if "api.openai.com" in base:
        return "OPENAI_API_KEY"
    return "NANOTUI_API_KEY"


def build_timeout(config: ProviderConfig) -> httpx.Timeout:
    """Connect timeout, plus an idle timeout between reads of a streaming reply."""
    return httpx.Timeout(
        connect=config.connect_timeout_s,
        read=config.read_timeout_s,
        write=config.connect_timeout_s,
        pool=config.connect_timeout_s,
    )


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def server_message(body: str) -> tuple[str, str]:
    """The server's own (message, code) from an error body in any of the common shapes."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return _brief(body), ""
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return _brief(str(data)), ""
    error = data.get("error", data)
    if isinstance(error, str):
        return _brief(error), ""
    if not isinstance(error, dict):
        return _brief(body), ""
    message = error.get("message") or error.get("detail") or data.get("message") or ""
    code = error.get("code") or error.get("type") or ""
    if not isinstance(message, str):
        message = json.dumps(message)
    return _brief(message), str(code)


def _brief(text: str) -> str:
    text = " ".join(text.split()).rstrip(".")
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


def error_from_status(
    status: int, body: str, headers: Mapping[str, str], info: RequestInfo
) -> ProviderError:
    """The ProviderError for an HTTP error status, classified by status and server message."""
    message, code = server_message(body)
    said = f": {message}" if message else ""
    retry_after = parse_retry_after(headers)

    def error(text: str, kind: ErrorKind) -> ProviderError:
        return ProviderError(text, kind=kind, status=status, retry_after=retry_after)

    probe = f"{message} {code}"
    if status in (400, 404, 422) and TOOLS_UNSUPPORTED.search(probe):
        return error(
            f'Model "{info.model}" at {info.host} cannot call tools natively '
            f"(HTTP {status}{said}); "
            'set provider.tool_calling = "text" or pick a model with tool support.',
            "tools_unsupported",
        )
    if status in (400, 413, 422) and CONTEXT_TOO_LONG.search(probe):
        return error(
            f'The conversation is too long for model "{info.model}" (HTTP {status}{said}); '
            "start a new session or compact this one.",
            "context_length",
        )
    if status == 402 or (status in (400, 403, 429) and QUOTA_EXHAUSTED.search(probe)):
        return error(
            f"The account behind {info.key_env} has no credit or quota left at {info.host} "
            f"(HTTP {status}{said}); add credit or use another key.",
            "quota",
        )
    if status in (401, 403):
        if not info.key_sent:
            text = (
                f"The model server at {info.host} needs an API key (HTTP {status}{said}); "
                f"set {info.key_env} to your key."
            )
        else:
            text = (
                f"The model server at {info.host} rejected the API key (HTTP {status}{said}); "
                f"check that {info.key_env} holds a valid key with access to "
                f'model "{info.model}".'
            )
        return error(text, "auth")
    if status == 404:
        return error(
            f'Model "{info.model}" or the endpoint {info.shown_url} was not found '
            f"(HTTP 404{said}); "
            "check the model name (for Ollama, `ollama pull` it) and the base URL "
            "(OpenAI-compatible ones usually end in /v1).",
            "not_found",
        )
    if status == 408:
        return error(
            f"The model server at {info.host} timed out the request (HTTP 408); try again.",
            "timeout",
        )
    if status == 429:
        return error(
            f"The model server at {info.host} is rate limiting requests (HTTP 429{said}); "
            "wait a moment or lower rate_limit.requests_per_minute.",
            "rate_limit",
        )
    if status >= 500:
        return error(
            f"The model server at {info.host} failed (HTTP {status}{said}); try again in a moment.",
            "server",
        )
    return error(
        f"The model server at {info.host} refused the request (HTTP {status}{said}); "
        "check the model name and provider settings.",
        "bad_request",
    )


def error_from_transport(
    exc: httpx.HTTPError | OSError,
    info: RequestInfo,
    partial_text: str = "",
    progress: StreamProgress | None = None,
) -> ProviderError:
    """The ProviderError for a connection that failed, went silent or broke off."""
    if partial_text:
        if isinstance(exc, httpx.ReadTimeout):
            return interrupted(
                info, f"silent for {info.read_timeout_s:g} s", partial_text, progress
            )
        return interrupted(info, "the connection broke", partial_text, progress)
    if progress is not None and progress.anything_arrived:
        # Nothing was shown, so a retry is safe; but the reply had begun, so say what came,
        # and carry what it used: the server generated it, so it is paid for.
        arrived = progress.what_arrived()
        if isinstance(exc, httpx.ReadTimeout):
            return ProviderError(
                f"The model server at {info.host} went silent for {info.read_timeout_s:g} s "
                f"after {arrived} had arrived, none of it shown or run; try again or raise "
                "provider.read_timeout_s.",
                kind="timeout",
                usage=progress.usage(),
            )
        return ProviderError(
            f"The connection to the model server at {info.host} broke after {arrived} had "
            f"arrived, none of it shown or run ({type(exc).__name__}); try again.",
            kind="connection",
            usage=progress.usage(),
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderError(
            f"Timed out after {info.connect_timeout_s:g} s connecting to the model server at "
            f"{info.shown_base_url}; is it running and reachable?",
            kind="timeout",
        )
    if isinstance(exc, httpx.ReadTimeout):
        return ProviderError(
            f"The model server at {info.host} sent nothing for {info.read_timeout_s:g} s; "
            "it may be overloaded or loading the model, so try again or raise "
            "provider.read_timeout_s.",
            kind="timeout",
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(
            f"Timed out sending the request to the model server at {info.host}; try again.",
            kind="timeout",
        )
    if isinstance(exc, httpx.ConnectError):
        return ProviderError(
            f"Cannot reach the model server at {info.shown_base_url}; is it running?",
            kind="connection",
        )
    return ProviderError(
        f"The connection to the model server at {info.host} broke before the reply began "
        f"({type(exc).__name__}); try again.",
        kind="connection",
    )


def error_from_stream(
    error: Any, info: RequestInfo, partial_text: str, *, status: int | None = None
) -> ProviderError:
    """The ProviderError for an error the server reported inside an open stream."""
    body = json.dumps({"error": error})
    message, code = server_message(body)
    if partial_text:
        return interrupted(info, f"the server said: {message}", partial_text)
    if status is None:
        raw = error.get("code") if isinstance(error, dict) else None
        status = raw if isinstance(raw, int) and 400 <= raw < 600 else 500
        if code == "insufficient_quota" or code == "rate_limit_exceeded":
            status = 429
    return error_from_status(status, body, {}, info)


def interrupted(
    info: RequestInfo, why: str, partial_text: str, progress: StreamProgress | None = None
) -> ProviderError:
    """A reply that broke off after some of its text was shown; the text is kept."""
    dropped = ""
    if progress is not None and progress.call_names:
        dropped = " (its unfinished tool call was not run)"
    return ProviderError(
        f"The reply from {info.host} broke off mid-way ({why}); the partial reply was kept"
        f"{dropped}, ask again to continue.",
        kind="interrupted",
        partial_text=partial_text,
        usage=progress.usage() if progress is not None else None,
    )


def ended_early(
    info: RequestInfo, partial_text: str, progress: StreamProgress | None = None
) -> ProviderError:
    """The stream closed cleanly but before the reply said it was complete."""
    if partial_text:
        return interrupted(info, "the stream ended early", partial_text, progress)
    if progress is not None and progress.anything_arrived:
        return ProviderError(
            f"The model server at {info.host} closed the stream after "
            f"{progress.what_arrived()} had arrived, before the reply was complete; "
            "none of it was shown or run, try again.",
            kind="connection",
            usage=progress.usage(),
        )
    return ProviderError(
        f"The model server at {info.host} closed the stream before the reply began; try again.",
        kind="connection",
    )


def bad_response(info: RequestInfo, what: str, partial_text: str = "") -> ProviderError:
    """The server spoke, but not the protocol we asked for."""
    if partial_text:
        return interrupted(info, what, partial_text)
    return ProviderError(
        f"The model server at {info.host} sent {what}; check that the base URL points at "
        "the right kind of API.",
        kind="bad_response",
    )


@asynccontextmanager
async def open_event_stream(
    client: httpx.AsyncClient,
    info: RequestInfo,
    *,
    headers: dict[str, str],
    body: dict[str, Any],
    timeout: httpx.Timeout,
    guard: StreamGuard,
) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
    """POST `body` and yield the reply's SSE events; status errors raise ProviderError.

    Transport errors while iterating are left as httpx errors: only the caller knows how much
    text has streamed, which decides between "interrupted" and a retryable error. The guard's
    deadline and raw-byte bound hold from the first byte sent (they raise ProviderError).
    """
    headers = {**headers, "Accept": "text/event-stream", "Cache-Control": "no-store"}
    request = client.build_request("POST", info.url, headers=headers, json=body, timeout=timeout)
    try:
        response = await guard.send(client, request)
    except httpx.HTTPError as exc:
        raise error_from_transport(exc, info) from exc
    events: Any = None
    try:
        content_type = response.headers.get("content-type", "")
        if response.status_code >= 400 or "text/event-stream" not in content_type:
            try:
                raw = await _read_error_body(guard.guarded_text(response))
            except httpx.HTTPError as exc:
                raise error_from_transport(exc, info) from exc
            if response.status_code >= 400:
                raise error_from_status(response.status_code, raw, response.headers, info)
            raise bad_response(
                info, f"{content_type or 'an untyped reply'} instead of an event stream"
            )
        events = EventSource(_GuardedResponse(response, guard)).aiter_sse()  # type: ignore[arg-type]
        yield events
    finally:
        if events is not None:
            await events.aclose()
        # Closing an unfinished streaming response drops the connection, which is how the
        # server learns that we stopped listening (cancellation, errors).
        await response.aclose()


async def _read_error_body(pieces: AsyncIterator[str]) -> str:
    """The start of an error reply; the rest is never read (the connection is dropped)."""
    body = ""
    async for piece in pieces:
        body += piece
        if len(body) >= MAX_ERROR_BODY:
            break
    await pieces.aclose()  # type: ignore[attr-defined]
    return body[:MAX_ERROR_BODY]


class _GuardedResponse:
    """The response as httpx-sse reads it (headers, text), with the guard on every read."""

    def __init__(self, response: httpx.Response, guard: StreamGuard) -> None:
        self.headers = response.headers
        self._response = response
        self._guard = guard

    def aiter_text(self) -> AsyncIterator[str]:
        return self._guard.guarded_text(self._response)
