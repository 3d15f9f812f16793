"""Stand-ins for named hosts on loopback, for the network allowlist's tests: a site that
answers as a package index would, and says which name it was asked for."""

from __future__ import annotations

import hashlib
import io
import zipfile
from http.server import BaseHTTPRequestHandler

WHEEL = "tinypkg-1.0-py3-none-any.whl"


def tiny_wheel() -> bytes:
    """The smallest wheel pip accepts: METADATA, WHEEL and RECORD."""
    files = {
        "tinypkg/__init__.py": b"",
        "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},,\n" for name in files) + "tinypkg-1.0.dist-info/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in {**files, "tinypkg-1.0.dist-info/RECORD": record.encode()}.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Site(BaseHTTPRequestHandler):
    """Answers as a package index would: /simple/tinypkg/ links the wheel."""

    wheel = tiny_wheel()

    def do_GET(self) -> None:
        digest = hashlib.sha256(self.wheel).hexdigest()
        if self.path.rstrip("/") == "/simple/tinypkg":
            body = f'<a href="/files/{WHEEL}#sha256={digest}">{WHEEL}</a>'.encode()
        elif self.path == f"/files/{WHEEL}":
            body = self.wheel
        else:
            body = f"hello from {self.headers['Host']}{self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return
