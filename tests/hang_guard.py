"""The bound a test puts around a wait that its defence should end within seconds.

Tests of timeouts, cancels and kills give the defence something that would run for ten
minutes (`sleep 600`, a server silent for 600 s): a defence that works ends it long before
this guard, and one that regressed fails the test at the guard instead of hanging the suite.
The guard judges no speed; the tests assert what happened (timed out, cancelled, killed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

HANG_GUARD_S = 60
"""Far from any realistic time on a loaded machine, far below the ten minutes it guards."""

T = TypeVar("T")


async def guarded(waiting: Awaitable[T]) -> T:
    """`waiting`'s result, or TimeoutError once HANG_GUARD_S have passed."""
    return await asyncio.wait_for(waiting, HANG_GUARD_S)
