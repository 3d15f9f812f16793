"""Retries before the first item, never after; Retry-After honoured; request rate limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from email.utils import formatdate

import pytest
from fake_model_server import FakeModelServer, cut_reply, error_reply, openai_reply

from nanotui.config import ProviderConfig, RateLimitConfig
from nanotui.governance.ratelimit import RequestRateLimiter, RetryPolicy, stream_with_retries
from nanotui.protocol.model_io import (
    ChatRequest,
    Message,
    ProviderError,
    StreamDone,
    StreamItem,
    TextPiece,
)
from nanotui.providers.http_errors import parse_retry_after
from nanotui.providers.openai_compat import OpenAICompatProvider

REQUEST = ChatRequest(messages=[Message(role="user", content="hi")])


class FakeSleep:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def provider(fake_server: FakeModelServer) -> AsyncIterator[OpenAICompatProvider]:
    config = ProviderConfig(base_url=fake_server.openai_base_url, model="m", read_timeout_s=5)
    client = OpenAICompatProvider(config, "sk-test")
    yield client
    await client.aclose()


async def run(
    provider: OpenAICompatProvider,
    policy: RetryPolicy,
    sleep: FakeSleep,
    retries: list[tuple[str, float, int]] | None = None,
) -> list[StreamItem]:
    def on_retry(error: ProviderError, delay: float, attempt: int) -> None:
        if retries is not None:
            retries.append((error.kind, delay, attempt))

    stream = stream_with_retries(
        lambda: provider.stream(REQUEST), policy, on_retry=on_retry, sleep=sleep
    )
    return [item async for item in stream]


def rate_limited(retry_after: str) -> object:
    body = {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}
    return error_reply(429, body, headers={"Retry-After": retry_after})


async def test_429_with_retry_after_is_retried_after_that_wait(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(rate_limited("0"), rate_limited("3"), openai_reply(text="finally"))
    sleep = FakeSleep()
    retries: list[tuple[str, float, int]] = []

    items = await run(provider, RetryPolicy(max_retries=4, max_wait_s=10), sleep, retries)

    assert "".join(i.text for i in items if isinstance(i, TextPiece)) == "finally"
    assert items[-1] == StreamDone("end")
    assert sleep.waits == [0.0, 3.0]
    assert retries == [("rate_limit", 0.0, 1), ("rate_limit", 3.0, 2)]
    assert len(fake_server.requests) == 3


async def test_retry_after_longer_than_max_wait_gives_up_at_once(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(rate_limited("120"), openai_reply(text="never"))
    sleep = FakeSleep()

    with pytest.raises(ProviderError) as caught:
        await run(provider, RetryPolicy(max_retries=4, max_wait_s=30), sleep)

    assert caught.value.kind == "rate_limit" and caught.value.retry_after == 120
    assert sleep.waits == []
    assert len(fake_server.requests) == 1


async def test_exhausted_quota_is_not_retried(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    quota = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
    fake_server.enqueue(error_reply(429, quota), openai_reply(text="never"))
    sleep = FakeSleep()

    with pytest.raises(ProviderError) as caught:
        await run(provider, RetryPolicy(), sleep)

    assert caught.value.kind == "quota"
    assert "credit or quota" in str(caught.value)
    assert sleep.waits == [] and len(fake_server.requests) == 1


async def test_server_errors_are_retried_with_jittered_exponential_backoff(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(
        error_reply(503, "busy"),
        error_reply(502, "bad gateway"),
        error_reply(500, {"error": {"message": "oops"}}),
        openai_reply(text="ok"),
    )
    sleep = FakeSleep()

    items = await run(provider, RetryPolicy(max_retries=3, base_delay_s=1.0), sleep)

    assert items[-1] == StreamDone("end")
    assert len(sleep.waits) == 3
    for attempt, wait in enumerate(sleep.waits):
        assert 0.0 <= wait <= 1.0 * 2**attempt


async def test_retries_stop_at_max_retries(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(*[error_reply(500, "down")] * 4)
    sleep = FakeSleep()

    with pytest.raises(ProviderError) as caught:
        await run(provider, RetryPolicy(max_retries=2), sleep)

    assert caught.value.kind == "server"
    assert len(fake_server.requests) == 3 and len(sleep.waits) == 2


async def test_total_time_cap_stops_retrying(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(rate_limited("10"), rate_limited("10"), openai_reply(text="late"))
    sleep = FakeSleep()

    with pytest.raises(ProviderError):
        await run(provider, RetryPolicy(max_retries=5, max_wait_s=20, max_total_s=15), sleep)

    assert sleep.waits == [10.0]
    assert len(fake_server.requests) == 2


async def test_a_stream_that_breaks_after_text_is_not_retried(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(cut_reply(openai_reply(text="abcdefgh"), after_events=2))
    fake_server.enqueue(openai_reply(text="would repeat"))
    sleep = FakeSleep()
    shown: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for item in stream_with_retries(
            lambda: provider.stream(REQUEST), RetryPolicy(), sleep=sleep
        ):
            if isinstance(item, TextPiece):
                shown.append(item.text)

    assert caught.value.kind == "interrupted" and caught.value.partial_text == "abcd"
    assert shown == ["abcd"]
    assert len(fake_server.requests) == 1 and sleep.waits == []


def scripted(
    *outcomes: list[StreamItem] | ProviderError,
) -> Callable[[], AsyncIterator[StreamItem]]:
    """An open_stream whose n-th attempt yields the n-th list, then raises if given an error."""
    attempts = iter(outcomes)

    async def open_stream() -> AsyncIterator[StreamItem]:
        outcome = next(attempts)
        if isinstance(outcome, ProviderError):
            raise outcome
        for item in outcome:
            yield item
            if isinstance(item, TextPiece) and item.text == "BREAK":
                raise ProviderError("server fell over", kind="server")

    return open_stream


async def test_retryable_error_after_the_first_item_propagates_unchanged() -> None:
    sleep = FakeSleep()
    items: list[StreamItem] = []
    stream = stream_with_retries(
        scripted([TextPiece("BREAK")], [TextPiece("again"), StreamDone("end")]),
        RetryPolicy(),
        sleep=sleep,
    )

    with pytest.raises(ProviderError) as caught:
        async for item in stream:
            items.append(item)

    assert str(caught.value) == "server fell over" and caught.value.kind == "server"
    assert items == [TextPiece("BREAK")] and sleep.waits == []


@pytest.mark.parametrize(
    "kind", ["quota", "auth", "not_found", "bad_request", "context_length", "interrupted"]
)
async def test_errors_that_a_retry_cannot_fix_are_raised_at_once(kind: str) -> None:
    sleep = FakeSleep()
    error = ProviderError("no", kind=kind)  # type: ignore[arg-type]
    stream = stream_with_retries(scripted(error, [StreamDone("end")]), RetryPolicy(), sleep=sleep)

    with pytest.raises(ProviderError) as caught:
        [item async for item in stream]

    assert caught.value is error and sleep.waits == []


@pytest.mark.parametrize("kind", ["rate_limit", "server", "connection", "timeout"])
async def test_transient_errors_are_retried_and_async_on_retry_is_awaited(kind: str) -> None:
    sleep = FakeSleep()
    told: list[str] = []

    async def on_retry(error: ProviderError, delay: float, attempt: int) -> None:
        told.append(f"{error.kind}#{attempt}")

    error = ProviderError("blip", kind=kind, retry_after=0.25)  # type: ignore[arg-type]
    stream = stream_with_retries(
        scripted(error, [StreamDone("end")]), RetryPolicy(), on_retry=on_retry, sleep=sleep
    )

    assert [item async for item in stream] == [StreamDone("end")]
    assert told == [f"{kind}#1"] and sleep.waits == [0.25]


def test_policy_from_config() -> None:
    policy = RetryPolicy.from_config(RateLimitConfig(max_retries=2, max_retry_wait_s=9))
    assert (policy.max_retries, policy.max_wait_s) == (2, 9)


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"Retry-After": "12"}) == 12.0
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == 30.0
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


async def test_rate_limiter_holds_requests_beyond_the_per_minute_rate() -> None:
    clock = FakeClock()
    limiter = RequestRateLimiter(2, clock=clock, sleep=clock.sleep)

    await limiter.acquire()
    clock.now += 10
    await limiter.acquire()
    await limiter.acquire()  # third within the minute: waits for the first to age out

    assert clock.waits == [50.0]
    await limiter.acquire()  # the second (at 1010) ages out at 1070
    assert clock.waits == [50.0, 10.0]


async def test_rate_limiter_zero_is_unlimited_and_shared_per_endpoint() -> None:
    clock = FakeClock()
    unlimited = RequestRateLimiter(0, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        await unlimited.acquire()
    assert clock.waits == []

    shared = RequestRateLimiter.for_endpoint("http://localhost:11434/v1/", 30)
    again = RequestRateLimiter.for_endpoint("http://LOCALHOST:11434/v1", 10)
    other = RequestRateLimiter.for_endpoint("https://openrouter.ai/api/v1", 10)
    assert shared is again and shared.requests_per_minute == 10
    assert other is not shared


async def test_stream_with_retries_waits_for_the_limiter_before_each_attempt() -> None:
    clock = FakeClock()
    limiter = RequestRateLimiter(1, clock=clock, sleep=clock.sleep)
    sleep = FakeSleep()
    error = ProviderError("busy", kind="server", retry_after=0)
    stream = stream_with_retries(
        scripted(error, [StreamDone("end")]), RetryPolicy(), sleep=sleep, limiter=limiter
    )

    assert [item async for item in stream] == [StreamDone("end")]
    assert clock.waits == [60.0]  # the retry waited for the one-per-minute slot


async def test_retry_after_one_second_is_really_waited_for(
    fake_server: FakeModelServer, provider: OpenAICompatProvider
) -> None:
    fake_server.enqueue(rate_limited("1"), openai_reply(text="after the wait"))
    started = time.monotonic()
    stream = stream_with_retries(lambda: provider.stream(REQUEST), RetryPolicy())
    items = [item async for item in stream]
    assert time.monotonic() - started >= 1.0
    assert "".join(i.text for i in items if isinstance(i, TextPiece)) == "after the wait"
    assert len(fake_server.requests) == 2


async def test_tokens_per_minute_holds_a_request_until_the_bucket_has_room() -> None:
    limiter = RequestRateLimiter(0, tokens_per_minute=1000)
    await limiter.acquire(tokens=600)
    with pytest.raises(TimeoutError):  # 600 more would pass 1,000 in the minute
        await asyncio.wait_for(limiter.acquire(tokens=600), 0.3)
    await asyncio.wait_for(limiter.acquire(tokens=300), 0.3)  # this much still fits
    # A request larger than the whole minute's allowance is not held forever.
    fresh = RequestRateLimiter(0, tokens_per_minute=1000)
    await asyncio.wait_for(fresh.acquire(tokens=50_000), 0.3)
