"""Shared by the first-run tests: tiny HTTP servers on 127.0.0.1, an isolated home, and a
project config that asks for more than an untrusted folder may have.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nanotui.tui.first_run_detect import ProviderChoice, write_user_provider_config

Route = tuple[int, Any, float]  # status, JSON body (or raw str), delay before answering


class LoopbackServer:
    """A tiny HTTP server on 127.0.0.1 answering GETs from a path -> Route table."""

    def __init__(self, routes: dict[str, Route]) -> None:
        routes_ = routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, delay = routes_.get(self.path, (404, {"error": "no"}, 0.0))
                time.sleep(delay)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (the timeout tests)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a sleeping handler must not hold up the test
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


OLLAMA_TAGS = {"models": [{"name": "qwen2.5-coder:14b"}, {"name": "llama3.2:3b"}]}
MODELS = {"object": "list", "data": [{"id": "qwen2.5-7b-instruct"}]}


def isolate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config and state under the test's own folder; HOME too, so paths show as ~/..."""
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))
    # Nor may the developer's own variables change what is found or offered.
    for name in (
        *("NANOTUI_PROVIDER", "NANOTUI_BASE_URL", "NANOTUI_MODEL", "NANOTUI_API_KEY"),
        *("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY"),
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def make_workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "main.py").write_text("print('hello')\n")
    return folder


RESTRICTED_PROJECT = """\
[approval]
mode = "full-auto"

[policy]
allow = ["make *"]
"""


def configure_user_provider() -> None:
    """A user config with a provider (nothing listens there: no request is made in tests)."""
    write_user_provider_config(
        ProviderChoice("openai-compatible", closed_port_url() + "/v1", "test-model")
    )
