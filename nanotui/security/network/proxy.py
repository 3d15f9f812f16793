"""The host side of the network allowlist: a small HTTP proxy that opens only listed names.

A command in a sandbox with `network = "allowlist"` has a network namespace of its own with
nothing but loopback; the forwarder there (`forwarder.py`) hands each connection it accepts
to this process as a socket, over a control descriptor. Each connection gets one request
head: `CONNECT name:443` (HTTPS, tunnelled untouched) or an absolute `http://name/...`
request on port 80 (sent on with its own Host, as one request). The name must be on the
allowlist and is resolved here, never inside, to a public address only, so a command cannot
choose where a listed name points nor reach this machine or its network through one.
Anything else (an address, an unlisted name, another port, another method or protocol, a
second request on one connection) is refused with the reason.
Every decision, allowed or refused, is reported to `on_connection` (the session log).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from nanotui.security.network.allowlist import DomainAllowlist, is_address, is_name, normal_host

HEAD_LIMIT = 16 * 1024
"""The longest request head read (a proxy request's is a few hundred bytes)."""
HEAD_TIMEOUT_S = 10.0
CHUNK = 64 * 1024


@dataclass(frozen=True)
class ConnectionDecision:
    host: str
    port: int
    method: str
    allowed: bool
    reason: str


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Opener = Callable[[str, int], Awaitable[Streams]]


class Refused(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Unlisted(Refused):
    """A well-formed request for a name the allowlist lacks: the one refusal a person may
    lift (`AllowlistProxy.ask`)."""


async def open_by_name(host: str, port: int) -> Streams:
    """The upstream connection, the name resolved here, and only to a public address: a
    listed name (or one a person allowed) that points at this machine, the local network or
    a cloud's metadata service reaches none of them."""
    loop = asyncio.get_running_loop()
    found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    public = [info[4][0] for info in found if ipaddress.ip_address(info[4][0]).is_global]
    if not public:
        shown = ", ".join(sorted({info[4][0] for info in found}))
        raise Refused("403 Forbidden", f"{host} resolves to {shown}, which is not public")
    return await asyncio.open_connection(public[0], port)


@dataclass(frozen=True)
class Request:
    """What a proxy request asks for; `host` is "" when it is neither form."""

    method: str
    host: str
    port: int
    head: bytes = b""
    """For plain HTTP: the head sent upstream (origin form, its own Host, one request)."""
    body_length: int = 0


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
        self.unlisted_advice = "add it to reach it"
        """What a refusal of an unlisted name says to do."""
        self._served: dict[socket.socket, set[asyncio.Task[None]]] = {}
        """Each command's control descriptor, and the connections served for it."""

    def control_channel(self) -> socket.socket:
        """A new control descriptor for one sandboxed command (inherit the returned end;
        this proxy serves the other until the command closes it)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        self._served[ours] = set()
        asyncio.get_running_loop().add_reader(ours.fileno(), self._receive, ours)
        return theirs

    def _receive(self, control: socket.socket) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(control, 16, 8)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        for fd in fds:
            try:
                connection = socket.socket(fileno=fd)
            except OSError:  # not a socket: nothing to serve
                os.close(fd)
                continue
            task = asyncio.ensure_future(self.serve(connection))
            self._served[control].add(task)
            task.add_done_callback(self._served[control].discard)
        if not data:  # the command has ended: its forwarder closed the descriptor
            self._drop(control)

    def _drop(self, control: socket.socket) -> None:
        """The command is over: so are its connections, and any question asked for it."""
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(control.fileno())
        for task in self._served.pop(control, set()):
            task.cancel()
        control.close()

    async def close(self) -> None:
        tasks = [task for served in self._served.values() for task in served]
        for control in list(self._served):
            self._drop(control)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def serve(self, connection: socket.socket) -> None:
        """One connection from a sandboxed command: one request, then its bytes."""
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
        request = parse_request(head.decode("latin-1"))
        host, port, method = request.host, request.port, request.method
        reason = "listed"
        try:
            refusal = self._refusal(request)
            if isinstance(refusal, Unlisted) and self.ask and await self.ask(host, port):
                refusal, reason = None, "allowed by the user"
            if refusal is not None:
                raise refusal
            upstream_reader, upstream = await self._open(host, port)
        except Refused as refused:
            self.on_connection(ConnectionDecision(host, port, method, False, str(refused)))
            body = f"nanotui: {refused}\n".encode()
            writer.write(
                f"HTTP/1.1 {refused.status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return
        self.on_connection(ConnectionDecision(host, port, method, True, reason))
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
            else:
                # The request's own body, then nothing more of the client's: a second request
                # on this connection could name another site behind the same address.
                body = await reader.readexactly(request.body_length)
                upstream.write(request.head + body)
                await _pipe(upstream_reader, writer)
        finally:
            upstream.close()

    def _refusal(self, request: Request) -> Refused | None:
        host, port = request.host, request.port
        wanted = 443 if request.method == "CONNECT" else 80
        if not host:
            return Refused(
                "400 Bad Request", "only CONNECT name:443 or http://name/ requests, one at a time"
            )
        if is_address(host):
            return Refused("403 Forbidden", f"{host} is an address; only listed names are reached")
        if not is_name(host):
            return Refused("400 Bad Request", f"{host!r} is not a host name")
        if port != wanted:
            return Refused("403 Forbidden", f"port {port} is closed; {host} is reached on {wanted}")
        if not self.allowlist.allows(host):
            return Unlisted(
                "403 Forbidden",
                f"{host} is not in [sandbox] allowed_domains; {self.unlisted_advice}",
            )
        return None

    async def _open(self, host: str, port: int) -> Streams:
        try:
            return await asyncio.wait_for(self.open_upstream(host, port), HEAD_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise Refused("502 Bad Gateway", f"{host}:{port} did not answer ({exc})") from None


def parse_request(head: str) -> Request:
    """The request a proxy head makes; host "" when it is neither form (or has a body of
    unknown length)."""
    request_line, *headers = head.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return Request("?", "", 0)
    method, target, version = parts
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        return Request(method, normal_host(host.strip("[]")), _port(port))
    try:
        url = urlsplit(target)
        hostname, port = url.hostname, url.port or 80
    except ValueError:  # `http://[pypi.org]/`, a port that is no number
        return Request(method, "", 0)
    if url.scheme != "http" or not hostname:
        return Request(method, "", 0)
    fields = {
        name.strip().lower(): value.strip()
        for name, _, value in (h.partition(":") for h in headers if h)
    }
    if "transfer-encoding" in fields or not fields.get("content-length", "0").isdigit():
        return Request(method, "", 0)
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    # The site is the one checked, whatever Host the client wrote; one request, then close.
    kept = [h for h in headers if h and not _dropped(h.partition(":")[0].strip().lower())]
    lines = [f"{method} {path} {version}", f"Host: {hostname}", *kept, "Connection: close"]
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return Request(
        method, normal_host(hostname), port, head_bytes, int(fields.get("content-length", "0"))
    )


def _dropped(name: str) -> bool:
    """Header fields not sent on: the proxy's own, and those that would keep the connection
    for a next request or name another site."""
    return name.startswith("proxy-") or name in ("connection", "host", "keep-alive")


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
