"""Inside a sandbox with `network = "allowlist"`: the way out, through nanotui's proxy.

Run as `python3 forwarder.py CONTROL_FD PORT COMMAND...`. It listens on 127.0.0.1:PORT (the
sandbox's own loopback, the only address a command there can reach), starts the command
with HTTP_PROXY and HTTPS_PROXY pointing there, and hands each connection it accepts to the
proxy on the host: a fresh socketpair per connection, one end sent over the inherited
control descriptor (SCM_RIGHTS). So it needs no socket of a family the sandbox's filter
refuses (a Unix socket could reach the host's services). It exits with the command's status.

Standard library only: it runs in the sandbox's own interpreter, once per command.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

CHUNK = 64 * 1024


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[0]))
    port = int(argv[1])
    command = argv[2:]
    listener = socket.create_server(("127.0.0.1", port))
    threading.Thread(target=_accept, args=(listener, control), daemon=True).start()
    proxy = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[name] = proxy
    env["NO_PROXY"] = env["no_proxy"] = ""
    env.pop("ALL_PROXY", None)
    env.pop("all_proxy", None)
    status = subprocess.call(command, env=env)
    return 128 - status if status < 0 else status


def _accept(listener: socket.socket, control: socket.socket) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:  # out of descriptors, a connection reset before accept: go on
            time.sleep(0.05)
            continue
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(control, [b"c"], [theirs.fileno()])
        except OSError:
            connection.close()
            ours.close()
            continue
        finally:
            theirs.close()
        for source, target in ((connection, ours), (ours, connection)):
            threading.Thread(target=_pipe, args=(source, target), daemon=True).start()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """One direction; the other direction's thread ends too when this one fails."""
    try:
        while chunk := source.recv(CHUNK):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
