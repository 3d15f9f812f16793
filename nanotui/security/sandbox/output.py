"""The output cap: keep the head and the tail of what a command prints, mark the cut.

One cap covers stdout and stderr together. The head comes from a budget of half the cap,
first come first served; after that each stream keeps a rolling tail, and when the command
ends the room left is shared between the tails (a short one gives its room to the other).
The end of a log is where the error usually is, so it must not be what is dropped.
"""

from __future__ import annotations

MARKER_ROOM = 64
"""Bytes of the cap kept free for the "[... N bytes cut ...]" marker of each stream."""


class HeadTail:
    """One stream's bytes: a head from a budget shared by both streams, plus a rolling tail."""

    def __init__(self, shared: Budget) -> None:
        self.shared = shared
        self.head = bytearray()
        self.tail = bytearray()
        self.after_head = 0
        """Bytes that came after the head; only the last ones are kept in `tail`."""

    def add(self, chunk: bytes) -> None:
        take = min(len(chunk), self.shared.head_left)
        if take:
            self.head += chunk[:take]
            self.shared.head_left -= take
        rest = chunk[take:]
        if rest:
            self.after_head += len(rest)
            self.tail += rest
            # Trim lazily so that appending stays cheap.
            if len(self.tail) > 2 * self.shared.limit:
                del self.tail[: -self.shared.limit]


class Budget:
    """The cap, and how much of the head budget is left."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.head_left = self.limit // 2


def finish(streams: list[HeadTail], limit: int) -> tuple[list[bytes], bool]:
    """Join each stream's head and tail, cutting the middle when the total passes `limit`."""
    total = sum(len(s.head) + s.after_head for s in streams)
    if total <= limit:
        # Nothing was trimmed yet: the tail holds everything after the head.
        return [bytes(s.head + s.tail) for s in streams], False
    room = max(0, limit - sum(len(s.head) for s in streams) - MARKER_ROOM * len(streams))
    # Share the room for tails fairly; a short tail leaves the rest to the other stream.
    wants = [s.after_head for s in streams]
    grants = [0] * len(streams)
    order = sorted(range(len(streams)), key=lambda i: wants[i])
    for position, i in enumerate(order):
        share = room // (len(order) - position)
        grants[i] = min(wants[i], share, len(streams[i].tail))
        room -= grants[i]
    out = []
    for stream, grant in zip(streams, grants, strict=True):
        cut = stream.after_head - grant
        tail = bytes(stream.tail[len(stream.tail) - grant :]) if grant else b""
        if cut:
            out.append(bytes(stream.head) + f"\n[... {cut} bytes cut ...]\n".encode() + tail)
        else:
            out.append(bytes(stream.head) + tail)
    return out, True
