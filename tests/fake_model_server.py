"""A real HTTP model server on 127.0.0.1 that plays scripted replies, for tests.

It speaks both the OpenAI chat completions and the Anthropic messages streaming formats over
real sockets (HTTP/1.1, chunked, one flush per SSE event) and records every request.

    server = FakeModelServer(); server.start(); ...; server.stop()   # also a context manager
    server.openai_base_url      # "http://127.0.0.1:PORT/v1"   (POST .../v1/chat/completions)
    server.anthropic_base_url   # "http://127.0.0.1:PORT"      (POST .../v1/messages)
    server.requests             # list[RecordedRequest(path, headers, body)]; headers lower-cased
    server.enqueue(*replies)    # each POST takes the next reply, whatever its path; a POST with
                                # none left gets 500 {"error": {"message": "no scripted reply"}}

Reply builders (module-level functions returning a Reply):

    openai_reply(text="", tool_calls=[("read_file", {"path": "a.py"}), ...],
                 usage=dict(prompt=100, completion=20, cached=0, reasoning=0),
                 chunk_size=4, arg_chunk_size=3)
        text in chunk_size-character chunks, then each call's arguments JSON in
        arg_chunk_size-character fragments (ids call_1, call_2, ...; a (name, args, id) triple
        sets the id; args given as a str are sent verbatim), finish_reason, a usage chunk with
        empty choices (include_usage=False leaves it out), then `data: [DONE]`.
    openai_raw_tool_call_reply("read_file", '{"path": ')   # malformed arguments text
    anthropic_reply(text="", tool_calls=[...], usage=dict(input=100, output=20, cache_read=0,
                    cache_write=0), chunk_size=4, arg_chunk_size=3)   # ids toolu_1, toolu_2, ...
    error_reply(status, json_body or text, headers={})      # e.g. 429 with Retry-After: 0
    cut_reply(base_reply, after_events=n)     # n SSE events, then the connection drops abruptly
    stalled_reply(base_reply, after_events=n, stall_s=...)  # n events, silence, then the rest
    sse_reply(*events, named=False)           # hand-written events: dicts are sent as JSON data,
                                              # strings verbatim ("[DONE]"); named=True adds
                                              # `event: <type>` lines (Anthropic style)
    endless_reply("openai"|"anthropic", piece="lorem ", tool=None, interval_s=0.0)
        a reply that never finishes: text pieces (or, with tool="write_file", argument
        fragments of one tool call) for ever, one every interval_s (0: as fast as the socket
        takes them); bounded all the same: the server stops after max_bytes or max_s.
        `RecordedRequest.bytes_sent` says how much went out.

GET `/v1/models` lists `server.models`; set `server.required_key` to make it demand a key.
Set `server.responder` to a function of the RecordedRequest to answer every POST from it
rather than from the queue (many sessions at once, each needing its own next reply).

`RecordedRequest.client_gone` is a threading.Event set when the client hung up before its
reply was fully sent (cancellation tests wait on it).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ToolCallSpec = tuple[str, Any] | tuple[str, Any, str]


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    client_gone: threading.Event = field(default_factory=threading.Event, compare=False)
    bytes_sent: int = 0
    """Bytes of SSE events written for this request (an endless reply's tests bound it)."""


@dataclass(frozen=True)
class Reply:
    """A scripted answer: an SSE stream (events) or a plain body with a status."""

    status: int = 200
    events: tuple[bytes, ...] = ()
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    cut_after: int | None = None
    stall_after: int | None = None
    stall_s: float = 0.0
    repeat: bytes = b""
    """An event sent after `events` again and again (endless_reply), within the bounds below."""
    repeat_interval_s: float = 0.0
    repeat_max_bytes: int = 20_000_000
    repeat_max_s: float = 60.0
    in_one_write: bool = False
    """Every event in one write, as a fast model's burst reaches the client in one read."""

    @property
    def is_stream(self) -> bool:
        return self.status < 400 and not self.body


def _event(data: Any, name: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {text}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))]


def _call_parts(tool_calls: Iterable[ToolCallSpec], prefix: str) -> list[tuple[str, str, str]]:
    parts = []
    for number, spec in enumerate(tool_calls, start=1):
        name, args = spec[0], spec[1]
        call_id = spec[2] if len(spec) > 2 else f"{prefix}{number}"  # type: ignore[misc]
        parts.append((call_id, name, args if isinstance(args, str) else json.dumps(args)))
    return parts


def openai_reply(
    text: str = "",
    tool_calls: Iterable[ToolCallSpec] = (),
    usage: Mapping[str, int] | None = None,
    chunk_size: int = 4,
    arg_chunk_size: int = 3,
    *,
    include_usage: bool = True,
    finish_reason: str | None = None,
    model: str = "fake-model",
) -> Reply:
    """A streamed chat completion in OpenAI's format."""
    counts = {"prompt": 100, "completion": 20, "cached": 0, "reasoning": 0, **(usage or {})}
    calls = _call_parts(tool_calls, "call_")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _event(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in _chunks(text, chunk_size)]
    for index, (call_id, name, args) in enumerate(calls):
        first = {"index": index, "id": call_id, "type": "function"}
        events.append(
            chunk({"tool_calls": [{**first, "function": {"name": name, "arguments": ""}}]})
        )
        for fragment in _chunks(args, arg_chunk_size):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
            )
    events.append(chunk({}, finish_reason or ("tool_calls" if calls else "stop")))
    if include_usage:
        events.append(
            _event(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": {
                        "prompt_tokens": counts["prompt"],
                        "completion_tokens": counts["completion"],
                        "total_tokens": counts["prompt"] + counts["completion"],
                        "prompt_tokens_details": {"cached_tokens": counts["cached"]},
                        "completion_tokens_details": {"reasoning_tokens": counts["reasoning"]},
                    },
                }
            )
        )
    events.append(_event("[DONE]"))
    return Reply(events=tuple(events))


def openai_raw_tool_call_reply(name: str, raw_arguments: str, **kwargs: Any) -> Reply:
    """An OpenAI reply with one tool call whose arguments text is sent exactly as given."""
    return openai_reply(tool_calls=[(name, raw_arguments)], **kwargs)


def anthropic_reply(
    text: str = "",
    tool_calls: Iterable[ToolCallSpec] = (),
    usage: Mapping[str, int] | None = None,
    chunk_size: int = 4,
    arg_chunk_size: int = 3,
    *,
    stop_reason: str | None = None,
    model: str = "fake-model",
) -> Reply:
    """A streamed message in Anthropic's format."""
    counts = {"input": 100, "output": 20, "cache_read": 0, "cache_write": 0, **(usage or {})}
    calls = _call_parts(tool_calls, "toolu_")
    events = [
        _event(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": counts["input"],
                        "cache_creation_input_tokens": counts["cache_write"],
                        "cache_read_input_tokens": counts["cache_read"],
                        "output_tokens": 1,
                    },
                },
            },
            "message_start",
        ),
        _event({"type": "ping"}, "ping"),
    ]
    index = 0
    if text:
        events.append(
            _event(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
        )
        for piece in _chunks(text, chunk_size):
            delta = {"type": "text_delta", "text": piece}
            events.append(
                _event(
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                    "content_block_delta",
                )
            )
        events.append(_event({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        index = 1
    for offset, (call_id, name, args) in enumerate(calls):
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        at = index + offset
        events.append(
            _event(
                {"type": "content_block_start", "index": at, "content_block": block},
                "content_block_start",
            )
        )
        for fragment in _chunks(args, arg_chunk_size):
            delta = {"type": "input_json_delta", "partial_json": fragment}
            events.append(
                _event(
                    {"type": "content_block_delta", "index": at, "delta": delta},
                    "content_block_delta",
                )
            )
        events.append(_event({"type": "content_block_stop", "index": at}, "content_block_stop"))
    reason = stop_reason or ("tool_use" if calls else "end_turn")
    events.append(
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": counts["output"]},
            },
            "message_delta",
        )
    )
    events.append(_event({"type": "message_stop"}, "message_stop"))
    return Reply(events=tuple(events))


def sse_reply(*events: dict[str, Any] | str, named: bool = False) -> Reply:
    """A stream of hand-written events (dicts as JSON, strings verbatim)."""
    encoded = []
    for data in events:
        name = data.get("type") if named and isinstance(data, dict) else None
        encoded.append(_event(data, name))
    return Reply(events=tuple(encoded))


def error_reply(
    status: int, body: dict[str, Any] | str, headers: Mapping[str, str] | None = None
) -> Reply:
    """A non-streamed error answer: a JSON body (dict) or plain text."""
    is_json = isinstance(body, dict)
    raw = json.dumps(body) if is_json else str(body)
    content_type = "application/json" if is_json else "text/plain; charset=utf-8"
    all_headers = {"Content-Type": content_type, **(headers or {})}
    return Reply(status=status, body=raw.encode() or b" ", headers=tuple(all_headers.items()))


def cut_reply(base: Reply, after_events: int) -> Reply:
    """`base`, but the connection drops abruptly after `after_events` events."""
    return replace(base, cut_after=after_events)


def burst_reply(base: Reply) -> Reply:
    """`base`, all its events written at once."""
    return replace(base, in_one_write=True)


def stalled_reply(base: Reply, after_events: int, stall_s: float = 5.0) -> Reply:
    """`base`, but the server goes silent for `stall_s` after `after_events` events."""
    return replace(base, stall_after=after_events, stall_s=stall_s)


def endless_reply(
    api: str = "openai",
    *,
    piece: str = "lorem ipsum ",
    tool: str | None = None,
    interval_s: float = 0.0,
    max_bytes: int = 20_000_000,
    max_s: float = 60.0,
) -> Reply:
    """A reply that never says it is done: `piece` again and again, as text or (with `tool`)
    as argument fragments of one tool call, until the client hangs up or a bound is hit."""
    if api == "openai":

        def chunk(delta: dict[str, Any]) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            return _event(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "model": "fake-model",
                    "choices": [choice],
                }
            )

        head = [chunk({"role": "assistant", "content": ""})]
        if tool:
            function = {"name": tool, "arguments": ""}
            head.append(chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": function}]}))
            repeat = chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        else:
            repeat = chunk({"content": piece})
    else:
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "fake-model",
            "usage": {"input_tokens": 100, "output_tokens": 1},
        }
        block: dict[str, Any] = {"type": "text", "text": ""}
        delta: dict[str, Any] = {"type": "text_delta", "text": piece}
        if tool:
            block = {"type": "tool_use", "id": "toolu_1", "name": tool, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": piece}
        head = [
            _event({"type": "message_start", "message": message}, "message_start"),
            _event(
                {"type": "content_block_start", "index": 0, "content_block": block},
                "content_block_start",
            ),
        ]
        repeat = _event(
            {"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta"
        )
    return Reply(
        events=tuple(head),
        repeat=repeat,
        repeat_interval_s=interval_s,
        repeat_max_bytes=max_bytes,
        repeat_max_s=max_s,
    )


NO_REPLY = error_reply(500, {"error": {"message": "no scripted reply", "type": "server_error"}})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # idle keep-alive connections end on their own

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        """The model list (`/v1/models`), as `nanotui doctor` probes it."""
        owner = self.server.owner
        wanted = owner.required_key
        if wanted and self.headers.get("Authorization") != f"Bearer {wanted}":
            status, payload = 401, {"error": {"message": "Incorrect API key provided"}}
        elif self.path.rstrip("/").endswith("/models"):
            status, payload = 200, {"data": [{"id": name} for name in owner.models]}
        else:
            status, payload = 404, {"error": {"message": f"no route {self.path}"}}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        record = RecordedRequest(
            path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body
        )
        reply = self.server.owner._take(record)
        try:
            if reply.is_stream:
                self._stream(reply, record)
            else:
                self._plain(reply)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            record.client_gone.set()
            self.close_connection = True

    def _plain(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)
        self.wfile.flush()

    def _stream(self, reply: Reply, record: RecordedRequest) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        if reply.in_one_write:
            burst = b"".join(reply.events)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(burst), burst))
            record.bytes_sent += len(burst)
            reply = replace(reply, events=())
        for number, event in enumerate(reply.events):
            if number == reply.cut_after:
                self._drop()
                return
            if number == reply.stall_after and self._client_left_within(reply.stall_s):
                record.client_gone.set()
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            record.bytes_sent += len(event)
        if reply.repeat:
            self._repeat(reply, record)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _repeat(self, reply: Reply, record: RecordedRequest) -> None:
        """An endless reply's body: the repeated event until a bound, the client or a stop."""
        # Without an interval, many events go out per write so the stream is really fast.
        batch = reply.repeat * (1 if reply.repeat_interval_s else 64)
        frame = b"%x\r\n%s\r\n" % (len(batch), batch)
        started = time.monotonic()
        stopping = self.server.owner._stopping
        while (
            record.bytes_sent < reply.repeat_max_bytes
            and time.monotonic() - started < reply.repeat_max_s
            and not stopping.is_set()
        ):
            self.wfile.write(frame)
            self.wfile.flush()
            record.bytes_sent += len(batch)
            if reply.repeat_interval_s:
                stopping.wait(reply.repeat_interval_s)

    def _client_left_within(self, seconds: float) -> bool:
        """Wait in silence; True as soon as the client hangs up (or the server stops)."""
        stopping = self.server.owner._stopping
        waited = 0.0
        while waited < seconds and not stopping.is_set():
            step = min(0.05, seconds - waited)
            readable, _, _ = select.select([self.connection], [], [], step)
            waited += step
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
        return stopping.is_set()

    def _drop(self) -> None:
        """Hang up mid-body, without the final chunk, as a crashed server would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeModelServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up on idle keep-alive connections is normal, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class FakeModelServer:
    """A scripted model server on an ephemeral loopback port, run in a background thread."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.models: list[str] = ["test-model"]
        """What GET /v1/models lists."""
        self.required_key: str | None = None
        self.responder: Callable[[RecordedRequest], Reply] | None = None
        """When set, every POST is answered by calling it (concurrent sessions, benchmarks)
        instead of from the queue."""
        """When set, GET /v1/models answers 401 unless this bearer key is sent."""
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeModelServer:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return self._server.server_address[1]

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def enqueue(self, *replies: Reply) -> None:
        """Script the next replies, one per incoming POST, in order."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending_replies(self) -> int:
        """How many scripted replies have not been taken yet."""
        with self._lock:
            return len(self._replies)

    def _take(self, record: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(record)
            if self.responder is not None:
                return self.responder(record)
            return self._replies.popleft() if self._replies else NO_REPLY
