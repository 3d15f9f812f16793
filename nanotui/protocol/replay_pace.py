"""How long a replay waits between two logged events: the one pacing rule of every front end."""

from __future__ import annotations

from datetime import datetime

MAX_REPLAY_GAP_S = 2.0
"""Longest wait between two replayed events, whatever the pace (a user may have gone out)."""


def replay_wait(previous: datetime | None, when: datetime | None, speed: float) -> float:
    """Seconds to wait before the event logged at `when`, after the one at `previous`, at
    `speed` times the original pace (0: no wait); never more than `MAX_REPLAY_GAP_S`."""
    if speed <= 0 or previous is None or when is None:
        return 0.0
    return min((when - previous).total_seconds() / speed, MAX_REPLAY_GAP_S)
