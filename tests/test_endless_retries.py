"""A reply that breaks off after part of a tool call is paid for, even when it is retried.

Nothing of such a reply was shown, so it is retried; but the server had generated (and will
charge for) what streamed. Each test plays, with the real loopback server, replies that stream
most of the budget's worth of tool-call arguments and then end early, against a real headless
`nanotui run` in its own process group: without counting the broken attempts, five of them
would spend several times the budget while the run reported $0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, endless_reply
from test_endless_run import APIS, error_text, run_headless

from nanotui.protocol.model_io import CHARS_PER_TOKEN

LIMIT = 2000
BUDGET_USD = 0.025
OUTPUT_PER_MTOK = 10.0
PIECE = "lorem ipsum "
BATCHES = 9
"""The server writes an endless reply 64 events at a time: 9 batches are 6,912 characters,
about 1,728 tokens: under max_output_tokens and under the budget's 2,500 tokens of output."""


def broken_tool_call_reply(api: str) -> tuple[object, int]:
    """A reply that streams BATCHES batches of write_file arguments and then ends early;
    and the characters of arguments it sends."""
    probe = endless_reply(api, piece=PIECE, tool="write_file")
    batch_bytes = 64 * len(probe.repeat)
    reply = endless_reply(api, piece=PIECE, tool="write_file", max_bytes=BATCHES * batch_bytes)
    return reply, BATCHES * 64 * len(PIECE)


def budget_config(session_usd: float) -> str:
    return (
        f"[provider]\nmax_output_tokens = {LIMIT}\n[budget]\nsession_usd = {session_usd}\n"
        "[rate_limit]\nmax_retries = 4\nmax_retry_wait_s = 0.1\n"
        f'[prices."test-model"]\ninput_per_mtok = 0.0\noutput_per_mtok = {OUTPUT_PER_MTOK}\n'
    )


@pytest.mark.parametrize("api", APIS)
def test_a_retry_is_not_sent_once_its_worst_case_would_pass_the_budget(
    fake_server: FakeModelServer, home: Path, tmp_path: Path, api: str
) -> None:
    reply, chars_per_attempt = broken_tool_call_reply(api)
    fake_server.enqueue(*[reply] * 5)

    code, events = run_headless(fake_server, home, tmp_path, api, budget_config(BUDGET_USD))

    # The broken attempt is counted ($0.017); a retry could cost $0.02 more: past $0.025.
    first_usd = chars_per_attempt / CHARS_PER_TOKEN * OUTPUT_PER_MTOK / 1e6
    assert events[-1]["cost_usd"] == pytest.approx(first_usd, rel=0.01), error_text(events)
    assert code == 3
    assert "The reply broke off and was not retried: the next request could cost" in (
        error_text(events)
    )
    assert "would pass the session budget" in error_text(events)
    assert len(fake_server.requests) == 1


@pytest.mark.parametrize("api", APIS)
def test_a_retry_streams_only_what_the_budget_has_left(
    fake_server: FakeModelServer, home: Path, tmp_path: Path, api: str
) -> None:
    reply, chars_per_attempt = broken_tool_call_reply(api)
    # Broken at $0.017 of $0.05; the retry's worst case fits, but its endless stream must be
    # cut where the budget ends (about 3,270 tokens), before max_output_tokens' 2x margin.
    fake_server.enqueue(reply, endless_reply(api, piece=PIECE, tool="write_file"))

    code, events = run_headless(fake_server, home, tmp_path, api, budget_config(0.05))

    first_usd = chars_per_attempt / CHARS_PER_TOKEN * OUTPUT_PER_MTOK / 1e6
    assert first_usd < 0.05 - LIMIT * OUTPUT_PER_MTOK / 1e6
    assert code == 3, error_text(events)
    assert "more output would pass the session budget" in error_text(events)
    assert 0.05 * 0.95 <= events[-1]["cost_usd"] <= 0.05 * 1.01
    assert len(fake_server.requests) == 2


@pytest.mark.parametrize("api", APIS)
def test_a_broken_tool_call_that_is_not_retried_is_still_counted(
    fake_server: FakeModelServer, home: Path, tmp_path: Path, api: str
) -> None:
    reply, chars_per_attempt = broken_tool_call_reply(api)
    fake_server.enqueue(reply)
    config = (
        f"[provider]\nmax_output_tokens = {LIMIT}\n[rate_limit]\nmax_retries = 0\n"
        f'[prices."test-model"]\ninput_per_mtok = 0.0\noutput_per_mtok = {OUTPUT_PER_MTOK}\n'
    )

    code, events = run_headless(fake_server, home, tmp_path, api, config)

    assert code == 1
    assert "write_file tool call" in error_text(events)
    first_usd = chars_per_attempt / CHARS_PER_TOKEN * OUTPUT_PER_MTOK / 1e6
    assert events[-1]["cost_usd"] >= first_usd * 0.99


@pytest.mark.parametrize("api", APIS)
def test_a_reply_whose_text_broke_off_is_counted(
    fake_server: FakeModelServer, home: Path, tmp_path: Path, api: str
) -> None:
    probe = endless_reply(api, piece=PIECE)
    fake_server.enqueue(endless_reply(api, piece=PIECE, max_bytes=BATCHES * 64 * len(probe.repeat)))
    config = (
        f"[provider]\nmax_output_tokens = {LIMIT}\n"
        f'[prices."test-model"]\ninput_per_mtok = 0.0\noutput_per_mtok = {OUTPUT_PER_MTOK}\n'
    )

    code, events = run_headless(fake_server, home, tmp_path, api, config)

    assert code == 1
    assert "broke off mid-way" in error_text(events)
    chars = BATCHES * 64 * len(PIECE)
    assert events[-1]["cost_usd"] >= chars / CHARS_PER_TOKEN * OUTPUT_PER_MTOK / 1e6 * 0.99
