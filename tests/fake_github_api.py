"""A stand-in for GitHub's REST API on 127.0.0.1 that records every request, for tests.

with FakeGitHub() as github:
    github.url                    # "http://127.0.0.1:PORT" (append "/api/v3" for GHE)
    github.enqueue(404, {"message": "Not Found"})   # each request takes the next answer;
                                  # with none left: 200 and a review with an html_url
    github.requests               # list[RecordedCall(method, path, headers, body)],
                                  # headers lower-cased
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REVIEW_PAGE = "https://github.example/o/r/pull/7#pullrequestreview-1"


@dataclass
class RecordedCall:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        call = RecordedCall(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        status, answer = self.server.owner._take(call)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_PATCH = do_POST  # recorded too, so a wrong method shows in a test


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeGitHub


class FakeGitHub:
    """Scripted answers on an ephemeral loopback port, served from a background thread."""

    def __init__(self) -> None:
        self.requests: list[RecordedCall] = []
        self._answers: deque[tuple[int, Any]] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def enqueue(self, status: int, answer: Any) -> None:
        with self._lock:
            self._answers.append((status, answer))

    def _take(self, call: RecordedCall) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(call)
            if self._answers:
                return self._answers.popleft()
            return 200, {"id": 1, "state": "COMMENTED", "html_url": REVIEW_PAGE}
