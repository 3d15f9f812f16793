"""Requests per minute, per user and for the whole service: a sliding window of one minute.

A refused request learns how long to wait (`Retry-After`), computed from when the oldest
request in the window leaves it, so a client that waits that long gets through. One replica
keeps its windows in memory (`RequestWindows`); replicas sharing a database keep them in it
(`SharedWindows`), so a user's minute is one minute whichever replica they reach.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from sqlalchemy import Engine, delete, insert, select

from nanotui.server.store import lock, request_events

WINDOW_S = 60.0


def _wait(window: Sequence[float], limit: int, now: float) -> float | None:
    """Seconds until one more fits a window of these times (oldest first, all within the
    minute) under `limit`; None when it fits now."""
    if len(window) < limit:
        return None
    return window[len(window) - limit] + WINDOW_S - now


class RequestWindows:
    """One window per key ("*" for the whole service, a user's name for theirs)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}
        # The token check runs on worker threads: one window must not be changed by two.
        self._lock = threading.Lock()

    def wait_needed(self, limits: list[tuple[str, int]], *, count: bool = True) -> int:
        """0 and (with `count`) the request counted in every window, or the whole seconds to
        wait before one more is allowed (nothing counted). A limit of 0 is none."""
        with self._lock:
            now = self._clock()
            waits = []
            for key, limit in limits:
                if limit <= 0:
                    continue
                window = self._windows.setdefault(key, deque())
                while window and window[0] <= now - WINDOW_S:
                    window.popleft()
                if (wait := _wait(window, limit, now)) is not None:
                    waits.append(wait)
            if waits:
                return max(1, math.ceil(max(waits)))
            for key, limit in limits:
                if limit > 0 and count:
                    self._windows[key].append(now)
            return 0

    def count(self, key: str) -> None:
        """Count one event in `key`'s window without asking whether it was allowed."""
        with self._lock:
            self._windows.setdefault(key, deque()).append(self._clock())


class SharedWindows:
    """The same windows in the service's database, for replicas that share one: wall-clock
    time (replicas share no monotonic clock), and each check with its count one transaction
    under a lock on every key it reads."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    def wait_needed(self, limits: list[tuple[str, int]], *, count: bool = True) -> int:
        """As `RequestWindows.wait_needed`."""
        checked = sorted({(key, limit) for key, limit in limits if limit > 0})
        if not checked:
            return 0
        keys = [key for key, _ in checked]
        with self.engine.begin() as db:
            for key in keys:  # in one order everywhere, so two checks never wait on each other
                lock(db, f"window:{key}")
            now = self._clock()
            # The first statement writes, which is SQLite's lock (see `store.lock`).
            db.execute(
                delete(request_events).where(
                    request_events.c.key.in_(keys), request_events.c.at <= now - WINDOW_S
                )
            )
            waits = []
            for key, limit in checked:
                window = db.execute(
                    select(request_events.c.at)
                    .where(request_events.c.key == key)
                    .order_by(request_events.c.at)
                ).scalars()
                if (wait := _wait(list(window), limit, now)) is not None:
                    waits.append(wait)
            if waits:
                return max(1, math.ceil(max(waits)))
            if count:
                db.execute(insert(request_events), [{"key": key, "at": now} for key in keys])
            return 0

    def count(self, key: str) -> None:
        """As `RequestWindows.count`."""
        with self.engine.begin() as db:
            db.execute(insert(request_events).values(key=key, at=self._clock()))
