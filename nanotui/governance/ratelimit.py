"""Retries and request rate limits for model calls.

A request is retried only while nothing of its reply has been shown: once text has streamed,
a retry would repeat it, so the error goes to the engine, which keeps the partial reply.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import ClassVar

from aiolimiter import AsyncLimiter

from nanotui.config import RateLimitConfig
from nanotui.protocol.events import RETRY_NOTICE_SLOT, Notice, RetryReason, RetryWait
from nanotui.protocol.model_io import ProviderError, StreamItem

OnRetry = Callable[[ProviderError, float, int], Awaitable[None] | None]
Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a request that failed before any of it arrived."""

    max_retries: int = 4
    max_wait_s: float = 60.0
    """Longest single wait; a server asking for longer (Retry-After) is not waited for."""
    base_delay_s: float = 0.5
    max_total_s: float = 300.0
    """Longest time spent on one request, all attempts and waits included."""

    @classmethod
    def from_config(cls, config: RateLimitConfig) -> RetryPolicy:
        return cls(max_retries=config.max_retries, max_wait_s=config.max_retry_wait_s)

    def backoff(self, retry: int, error: ProviderError) -> float:
        """The wait before retry number `retry` (1-based): Retry-After, else full jitter."""
        if error.retry_after is not None:
            return error.retry_after
        ceiling = min(self.max_wait_s, self.base_delay_s * 2 ** (retry - 1))
        return random.uniform(0.0, ceiling)


RETRY_SLOT = RETRY_NOTICE_SLOT
"""The `Notice.slot` of retry notices: each replaces the one before it."""
RETRY_REASONS: dict[str, RetryReason] = {
    "rate_limit": "rate_limit",
    "server": "server_error",
    "connection": "connection",
    "timeout": "connection",  # the request never got through either
}
"""Each retryable error kind as the retry metrics count it."""


def retry_notice(error: ProviderError, wait_s: float, retry: int, policy: RetryPolicy) -> Notice:
    """The warning that a request is retried: what failed, which attempt of how many and when
    the next starts, in one sentence, with the reason and the wait as figures."""
    text = f"{error} Attempt {retry} of {policy.max_retries + 1} failed; next in {wait_s:.1f} s."
    return Notice(
        level="warning",
        text=text,
        slot=RETRY_SLOT,
        retry=RetryWait(
            reason=RETRY_REASONS.get(error.kind, "connection"), wait_s=wait_s, attempt=retry
        ),
    )


async def stream_with_retries(
    open_stream: Callable[[], AsyncIterator[StreamItem]],
    policy: RetryPolicy,
    *,
    on_retry: OnRetry | None = None,
    sleep: Sleep = asyncio.sleep,
    limiter: RequestRateLimiter | None = None,
    tokens: int = 0,
) -> AsyncIterator[StreamItem]:
    """Yield the items of `open_stream()`, opening it again after retryable early failures.

    `on_retry(error, delay_s, retry_number)` is told before each wait. Errors after the first
    item, and errors that are not retryable, propagate unchanged. `tokens` is the request's
    estimated size, for the limiter's tokens-per-minute bucket.
    """
    spent = 0.0  # attempt time plus waits, so that a fake `sleep` still counts its waits
    retry = 0
    while True:
        if limiter is not None:
            await limiter.acquire(tokens)
        started = time.monotonic()
        yielded = False
        try:
            async with aclosing(open_stream()) as items:  # type: ignore[type-var]
                async for item in items:
                    yielded = True
                    yield item
            return
        except ProviderError as error:
            if yielded or not error.retryable or retry >= policy.max_retries:
                raise
            spent += time.monotonic() - started
            retry += 1
            delay = policy.backoff(retry, error)
            if delay > policy.max_wait_s or spent + delay > policy.max_total_s:
                raise
            if on_retry is not None:
                outcome = on_retry(error, delay, retry)
                if inspect.isawaitable(outcome):
                    await outcome
            await sleep(delay)
            spent += delay


class RequestRateLimiter:
    """At most `requests_per_minute` request starts in any 60 s window, and at most
    `tokens_per_minute` tokens (a leaky bucket, aiolimiter); 0 means unlimited.

    One limiter per endpoint is shared by everything in the process that talks to it
    (see `for_endpoint`), so sub-agents and retries count against the same budget.
    """

    _shared: ClassVar[dict[str, RequestRateLimiter]] = {}
    WINDOW_S = 60.0

    def __init__(
        self,
        requests_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        tokens_per_minute: int = 0,
    ) -> None:
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._token_bucket: tuple[asyncio.AbstractEventLoop, AsyncLimiter] | None = None

    @classmethod
    def for_endpoint(
        cls, base_url: str, requests_per_minute: int, tokens_per_minute: int = 0
    ) -> RequestRateLimiter:
        """The process-wide limiter for `base_url`, set to the latest configured rates."""
        key = base_url.rstrip("/").lower()
        limiter = cls._shared.get(key)
        if limiter is None:
            limiter = cls._shared[key] = cls(requests_per_minute)
        limiter.requests_per_minute = requests_per_minute
        if tokens_per_minute != limiter.tokens_per_minute:
            limiter.tokens_per_minute = tokens_per_minute
            limiter._token_bucket = None
        return limiter

    def wait_time(self) -> float:
        """Seconds until a request may start (0 when one may start now)."""
        now = self._forget_old_starts()
        if self.requests_per_minute <= 0 or len(self._starts) < self.requests_per_minute:
            return 0.0
        return self._starts[-self.requests_per_minute] + self.WINDOW_S - now

    def requests_in_last_minute(self) -> int:
        """How many requests started in the last 60 s (counted with or without a limit)."""
        self._forget_old_starts()
        return len(self._starts)

    def _forget_old_starts(self) -> float:
        now = self._clock()
        while self._starts and now - self._starts[0] >= self.WINDOW_S:
            self._starts.popleft()
        return now

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until a request of about `tokens` tokens may start, then count it."""
        if tokens and self.tokens_per_minute > 0:
            # A request larger than a minute's allowance waits for a whole minute's worth,
            # rather than forever.
            await self._tokens().acquire(min(tokens, self.tokens_per_minute))
        # Checking and recording happen with no await in between, so concurrent callers on
        # one event loop cannot both take the last slot; no lock needed.
        while (wait := self.wait_time()) > 0:
            await self._sleep(wait)
        self._starts.append(self._clock())

    def _tokens(self) -> AsyncLimiter:
        # aiolimiter binds to the event loop it is first used on; the shared limiter may
        # outlive a loop (tests, a restarted app), so each loop gets its own bucket.
        loop = asyncio.get_running_loop()
        if self._token_bucket is None or self._token_bucket[0] is not loop:
            self._token_bucket = (loop, AsyncLimiter(self.tokens_per_minute, time_period=60))
        return self._token_bucket[1]
