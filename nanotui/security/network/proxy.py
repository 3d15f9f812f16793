"""The host side of the network allowlist: a small HTTP proxy that opens only listed names.

A command in a sandbox with `network = "allowlist"` has a network namespace of its own with
nothing but loopback; the forwarder there (`forwarder.py`) hands each connection it accepts
to this process as a socket, over a control descriptor. Each connection gets one request
head: `CONNECT name:443` (HTTPS, tunnelled untouched) or an absolute `http://name/...`
request on port 80. The name must be on the allowlist and is resolved here, never inside,
so a command cannot choose where a listed name points. Anything else (an address, an
unlisted name, another port, another method or protocol) is answered 403 with the reason.
Every decision, allowed or refused, is reported to `on_connection` (the session log).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from nanotui.security.network.allowlist import DomainAllowlist, is_address, is_name, normal_host

HEAD_LIMIT = 16 * 1024
"""The longest request head read (a proxy request's is a few hundred bytes)."""
HEAD_TIMEOUT_S = 10.0
CHUNK = 64 * 1024
PORTS = {"CONNECT": 443, "http": 80}
"""The only port each form may name: HTTPS through CONNECT, plain HTTP on 80."""


@dataclass(frozen=True)
class ConnectionDecision:
    host: str
    port: int
    method: str
    allowed: bool
    reason: str


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Opener = Callable[[str, int], Awaitable[Streams]]


async def open_by_name(host: str, port: int) -> Streams:
    """The upstream connection, the name resolved by this process."""
    return await asyncio.open_connection(host, port)


class Refused(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class AllowlistProxy:
    """Serves connections handed over by forwarders; `close()` ends them all."""

    def __init__(
        self,
        allowlist: DomainAllowlist,
        on_connection: Callable[[ConnectionDecision], None] | None = None,
        open_upstream: Opener = open_by_name,
        ask: Callable[[str, int], Awaitable[bool]] | None = None,
    ) -> None:
        self.ask = ask
        """Asked about a name the allowlist does not hold (the app asks the person; with
        none, or headless, such a name is refused)."""
        self.allowlist = allowlist
        self.on_connection = on_connection or (lambda decision: None)
        """Told every decision (the agent logs each one)."""
        self.open_upstream = open_upstream
        self._tasks: set[asyncio.Task[None]] = set()
        self._controls: list[socket.socket] = []

    def control_channel(self) -> socket.socket:
        """A new control descriptor for one sandboxed command (inherit the returned end;
        this proxy serves the other until the command closes it)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        self._controls.append(ours)
        loop = asyncio.get_running_loop()
        loop.add_reader(ours.fileno(), self._receive, ours)
        return theirs

    def _receive(self, control: socket.socket) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(control, 16, 8)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        for fd in fds:
            self._spawn(self.serve(socket.socket(fileno=fd)))
        if not data:  # the command has ended: its forwarder closed the descriptor
            self._drop(control)

    def _drop(self, control: socket.socket) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(control.fileno())
        with contextlib.suppress(ValueError):
            self._controls.remove(control)
        control.close()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for control in list(self._controls):
            self._drop(control)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def serve(self, connection: socket.socket) -> None:
        """One connection from a sandboxed command: one request, then its bytes both ways."""
        connection.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=connection, limit=HEAD_LIMIT)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except TimeoutError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        request_line, *headers = head.decode("latin-1").split("\r\n")
        method, host, port, forwarded = _parse(request_line, headers)
        reason = "listed"
        try:
            if self._unlisted_name(method, host, port):
                if not (self.ask and await self.ask(host, port)):
                    self._check(method, host, port)  # refused, with the reason
                reason = "allowed by the user"
            else:
                self._check(method, host, port)
            upstream_reader, upstream = await self._open(host, port)
        except Refused as refusal:
            self.on_connection(ConnectionDecision(host, port, method, False, str(refusal)))
            body = f"nanotui: {refusal}\n".encode()
            writer.write(
                f"HTTP/1.1 {refusal.status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return
        self.on_connection(ConnectionDecision(host, port, method, True, reason))
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            upstream.write(forwarded)
        try:
            await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
        finally:
            upstream.close()

    def _unlisted_name(self, method: str, host: str, port: int) -> bool:
        """A well-formed request for a name the allowlist lacks, on the right port: the one
        refusal a person may lift."""
        wanted = PORTS["CONNECT" if method == "CONNECT" else "http"]
        return is_name(host) and port == wanted and not self.allowlist.allows(host)

    def _check(self, method: str, host: str, port: int) -> None:
        if not host:
            raise Refused("400 Bad Request", "only CONNECT name:443 or http://name/ requests")
        if is_address(host):
            raise Refused("403 Forbidden", f"{host} is an address; only listed names are reached")
        if not self.allowlist.allows(host):
            raise Refused(
                "403 Forbidden", f"{host} is not in [sandbox] allowed_domains; add it to reach it"
            )
        wanted = PORTS["CONNECT" if method == "CONNECT" else "http"]
        if port != wanted:
            raise Refused("403 Forbidden", f"port {port} is closed; {host} is reached on {wanted}")

    async def _open(self, host: str, port: int) -> Streams:
        try:
            return await asyncio.wait_for(self.open_upstream(host, port), HEAD_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise Refused("502 Bad Gateway", f"{host}:{port} did not answer ({exc})") from None


def _parse(request_line: str, headers: list[str]) -> tuple[str, str, int, bytes]:
    """(method, host, port, the head to send upstream) of a proxy request; host "" when it
    is neither form."""
    parts = request_line.split(" ")
    if len(parts) != 3:
        return "?", "", 0, b""
    method, target, version = parts
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        return method, normal_host(host.strip("[]")), _port(port), b""
    url = urlsplit(target)
    if url.scheme != "http" or not url.hostname:
        return method, "", 0, b""
    try:
        port = url.port or 80
    except ValueError:
        port = 0
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    # One request per connection: the next one could name another host.
    kept = [h for h in headers if h and not h.lower().startswith(("proxy-", "connection:"))]
    head = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""])
    return method, normal_host(url.hostname), port, head.encode("latin-1")


def _port(text: str) -> int:
    return int(text) if text.isdigit() and len(text) <= 5 else 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
