"""Requests per minute, per user and for the whole service: a sliding window of one minute.

A refused request learns how long to wait (`Retry-After`), computed from when the oldest
request in the window leaves it, so a client that waits that long gets through.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


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
                if len(window) >= limit:
                    waits.append(window[len(window) - limit] + WINDOW_S - now)
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
