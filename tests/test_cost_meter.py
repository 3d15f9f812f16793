"""The live cost meter: spend against the session and daily budgets, tokens, rate and price.

The flows run the real app against a priced model on a loopback server (prices from config,
a ledger in the test's NANOTUI_HOME); the snapshots use an in-process scripted model, so that
no port number reaches the picture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fake_model_server import FakeModelServer, openai_reply, stalled_reply
from pilot_support import app_on_server, send, wait_for
from textual.pilot import Pilot

from nanotui import paths
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent, build_session
from nanotui.governance.ledger import Ledger
from nanotui.governance.ratelimit import RequestRateLimiter
from nanotui.protocol.events import CostUpdated, parse_event
from nanotui.protocol.model_io import (
    ChatRequest,
    StreamDone,
    StreamItem,
    TextPiece,
    Usage,
    UsagePiece,
)
from nanotui.providers.demo import copy_sample_project
from nanotui.tui.app import NanotuiApp
from nanotui.tui.cost_figures import CostFigures
from nanotui.tui.screens import main as main_screen
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets import timeline
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.cost_meter import CostMeter
from nanotui.tui.widgets.notice_line import NoticeLine

SIZE = (120, 40)
PRICES = {"m": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}}


def seed_ledger(cost_usd: float) -> None:
    """Spending by another nanotui process earlier today."""
    Ledger(paths.ledger_file()).settle(
        None, session="earlier", model="m", usage=Usage(), cost_usd=cost_usd, price_source="x"
    )


def make_app(
    server: FakeModelServer, workspace: Path, *, prices: bool = True, **sections: Any
) -> NanotuiApp:
    flags: dict[str, Any] = {
        "provider": {"max_output_tokens": 1000},
        "sandbox": {"backend": "plain"},
        **sections,
    }
    if prices:
        flags["prices"] = PRICES
    return app_on_server(server, workspace, "cost-session", **flags)


async def turn_over(pilot: Pilot) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    await wait_for(pilot, lambda: not screen.busy, "the turn to end")


def meter_of(app: NanotuiApp) -> CostMeter:
    return app.screen.query_one(CostMeter)


def notices(app: NanotuiApp) -> list[NoticeLine]:
    return list(app.screen.query_one(ChatView).query(NoticeLine))


def row(text: str, name: str) -> str:
    """The value of the meter's first row labelled `name`."""
    for line in text.splitlines():
        label, _, value = line.partition(" ")
        if label == name:
            return value.strip()
    raise AssertionError(f"no {name!r} row in {text!r}")


def bar_styles(content_line: Any) -> set[str]:
    """The styles of the bar characters in one rendered row."""
    return {
        str(span.style)
        for span in content_line.spans
        if "█" in content_line.plain[span.start : span.end]
    }


# ---- the figures --------------------------------------------------------------------------


def priced_figures_event() -> CostUpdated:
    return CostUpdated(
        request_usd=0.01,
        session_usd=0.01,
        session_usage=Usage(input_tokens=2000, output_tokens=100),
        priced=True,
        price_source="config [prices]",
        day_usd=0.21,
        session_budget_usd=1.0,
        day_budget_usd=1.0,
        warn_at_percent=80,
        output_usd_per_mtok=15.0,
        requests_last_minute=3,
        requests_per_minute=60,
    )


def priced_figures(**changes: Any) -> CostFigures:
    figures = CostFigures(model_label="m", priced=True, price_source="config [prices]")
    figures.apply(priced_figures_event())
    for name, value in changes.items():
        setattr(figures, name, value)
    return figures


def test_a_streaming_reply_is_estimated_at_the_output_rate_and_marked() -> None:
    figures = priced_figures()
    figures.streamed_chars = 4000  # about 1,000 output tokens
    assert figures.estimate_usd == pytest.approx(1000 * 15.0 / 1e6)
    text = figures.detail().plain
    assert "~$0.0250 of $1.00" in text  # session: 0.01 spent + 0.015 estimated
    assert "~$0.2250 of $1.00" in text  # today moves with it
    assert "~1,000" in text  # the output tokens of the reply streaming now
    assert "~$0.0250/$1.00" in figures.line().plain


def test_an_unpriced_model_never_reads_as_zero_dollars() -> None:
    figures = priced_figures(
        priced=False,
        output_usd_per_mtok=None,
        price_source="unpriced",
        session_usd=None,
        session_unpriced_requests=2,
    )
    figures.streamed_chars = 4000
    session_row = figures.detail().plain.splitlines()[0]
    assert "unpriced (2 requests)" in session_row and "$" not in session_row
    assert "~$" not in figures.detail().plain  # no money estimate without a price
    assert row(figures.detail().plain, "price") == "unpriced: add it to [prices]"
    assert figures.line().plain.startswith("session unpriced")


def test_the_demo_says_it_is_free() -> None:
    figures = CostFigures(model_label="offline demo", is_demo=True, priced=True)
    assert figures.detail().plain.splitlines()[0] == "session free (offline demo)"
    assert "today" not in figures.detail().plain
    assert "rate" not in figures.detail().plain  # offline: no endpoint to limit
    assert figures.line().plain.startswith("cost free (offline demo)")


def test_rate_reads_against_the_limit_or_says_there_is_none() -> None:
    assert "3 req/min of 60" in priced_figures().detail().plain
    assert "3/60 req/min" in priced_figures().line().plain
    unlimited = priced_figures(requests_per_minute=0)
    assert "3 req/min, no limit" in unlimited.detail().plain


def test_bars_turn_amber_at_warn_at_percent_and_red_at_the_limit() -> None:
    assert priced_figures().level == "ok"
    assert priced_figures(session_usd=0.8).level == "warning"
    assert priced_figures(day_usd=0.85).level == "warning"  # today's budget counts too
    assert priced_figures(session_usd=1.0).level == "over"
    near = priced_figures(session_usd=0.79)
    assert near.level == "ok"
    near.streamed_chars = 4000  # the estimate of the streaming reply tips it over 80%
    assert near.level == "warning"
    session_row = near.detail(width=44).split("\n")[0]
    assert bar_styles(session_row) == {"$warning"}


def test_token_columns_show_input_cached_output_and_reasoning() -> None:
    figures = priced_figures()
    figures.last_usage = Usage(
        input_tokens=123_456, cached_input_tokens=2_000, output_tokens=800, reasoning_tokens=300
    )
    rows = figures.detail().plain.splitlines()
    assert rows[2].split() == ["tokens", "input", "cached", "output", "reason"]
    assert rows[4].split() == ["last", "123.5k", "2,000", "800", "300"]


def test_cost_updated_carries_the_meter_fields_and_older_lines_still_parse() -> None:
    event = priced_figures_event()
    assert parse_event(event.to_json_line()) == event
    old = {k: v for k, v in event.model_dump(mode="json").items() if k != "day_usd"}
    del old["requests_per_minute"]
    again = parse_event(old)
    assert isinstance(again, CostUpdated) and again.day_usd is None


async def test_requests_are_counted_without_a_limit_too() -> None:
    limiter = RequestRateLimiter(0)
    for _ in range(3):
        await limiter.acquire()
    assert limiter.requests_in_last_minute() == 3


# ---- the app against a priced model -------------------------------------------------------


async def test_the_engine_reports_today_budgets_and_rate_with_each_cost(
    fake_server, workspace, home
) -> None:
    seed_ledger(0.5)
    fake_server.enqueue(openai_reply("Done.", usage=dict(prompt=1000, completion=200)))
    settings = load_settings(
        workspace,
        {
            "provider": {"base_url": fake_server.openai_base_url, "model": "m"},
            "prices": PRICES,
            "sandbox": {"backend": "plain"},
            "budget": {"session_usd": 2.0, "day_usd": 20.0, "warn_at_percent": 70},
        },
        environ={},
    ).settings
    agent = build_agent(settings, workspace, session_id="engine-cost")
    events = [event async for event in agent.turn("hello")]
    agent.close()
    (cost,) = [e for e in events if isinstance(e, CostUpdated)]
    request = (1000 * 3.0 + 200 * 15.0) / 1e6
    assert cost.request_usd == pytest.approx(request)
    assert cost.day_usd == pytest.approx(0.5 + request)
    assert (cost.session_budget_usd, cost.day_budget_usd, cost.warn_at_percent) == (2, 20, 70)
    assert cost.output_usd_per_mtok == pytest.approx(15.0)
    assert (cost.requests_last_minute, cost.requests_per_minute) == (1, 60)


async def test_after_a_turn_the_meter_shows_session_and_today_spend(
    fake_server, workspace, home
) -> None:
    seed_ledger(0.5)  # another session spent $0.50 earlier today
    fake_server.enqueue(openai_reply("Done.", usage=dict(prompt=1000, completion=200)))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        meter = meter_of(app)
        assert "$0.5000 of $50.00" in meter.text  # today, before anything is sent
        await send(pilot, "hello")
        await turn_over(pilot)
        cost = (1000 * 3.0 + 200 * 15.0) / 1e6
        text = meter.text
        assert f"${cost:.4f} of $5.00" in text
        assert f"${0.5 + cost:.4f} of $50.00" in text
        assert "1 req/min of 60" in text
        assert row(text, "price") == "config [prices]"
        assert row(text, "model") == f"m @ 127.0.0.1:{fake_server.port}"
        rows = text.splitlines()
        assert rows[4].split() == ["last", "1,000", "0", "200", "0"]
        assert not meter.has_class("-warning") and not meter.has_class("-over")


async def test_between_turns_the_meter_picks_up_other_processes_spending(
    fake_server, workspace, home, monkeypatch
) -> None:
    monkeypatch.setattr(main_screen, "COST_REFRESH_S", 0.1)
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        meter = meter_of(app)
        assert "$0.0000 of $50.00" in meter.text
        seed_ledger(0.25)  # another nanotui session spends meanwhile
        await wait_for(pilot, lambda: "$0.2500 of $50.00" in meter.text, "today's new total")


async def test_slash_cost_adds_todays_spending(fake_server, workspace, home) -> None:
    seed_ledger(0.5)
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/cost")
        await wait_for(pilot, lambda: "This session" in notices(app)[-1].text, "the /cost notice")
        assert "today $0.5000 of $50.00" in notices(app)[-1].text


async def test_a_small_budget_turns_the_meter_amber_and_warns_in_the_chat(
    fake_server, workspace, home
) -> None:
    # Worst case before sending: ~1,700 prompt tokens and 1,000 output, about $0.02.
    fake_server.enqueue(openai_reply("Done.", usage=dict(prompt=5000, completion=700)))
    app = make_app(fake_server, workspace, budget={"session_usd": 0.03, "warn_at_percent": 80})
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await turn_over(pilot)
        meter = meter_of(app)
        assert "$0.0255 of $0.03" in meter.text  # 85% of the session budget
        assert meter.has_class("-warning")
        assert meter.styles.border_top[1].hex == app.get_css_variables()["warning"].upper()
        detail = meter.figures.detail(44)
        assert bar_styles(detail.split("\n")[0]) == {"$warning"}
        warnings = [n.text for n in notices(app) if n.level == "warning"]
        assert any("passed 80% of the session budget" in text for text in warnings)


async def test_todays_spending_by_other_processes_can_bring_the_warning(
    fake_server, workspace, home
) -> None:
    seed_ledger(0.85)
    fake_server.enqueue(openai_reply("Done.", usage=dict(prompt=100, completion=10)))
    app = make_app(fake_server, workspace, budget={"day_usd": 1.0})
    async with app.run_test(size=SIZE) as pilot:
        meter = meter_of(app)
        assert meter.has_class("-warning")  # already on opening: today is at 85%
        await send(pilot, "hello")
        await turn_over(pilot)
        assert any("passed 80% of the daily budget" in n.text for n in notices(app))


async def test_the_meter_moves_while_a_reply_streams_and_settles_on_the_usage(
    fake_server, workspace, home
) -> None:
    text = "x" * 2000
    reply = openai_reply(text, usage=dict(prompt=1000, completion=500), chunk_size=100)
    # The role chunk and ten text chunks (1,000 characters), then the server goes quiet.
    fake_server.enqueue(stalled_reply(reply, after_events=11, stall_s=1.5))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        meter = meter_of(app)
        await send(pilot, "talk")
        await wait_for(pilot, lambda: meter.figures.streamed_chars >= 1000, "streamed text")
        figures = meter.figures
        assert figures.session_usd == 0 and figures.last_usage is None  # nothing reported yet
        estimate = 250 * 15.0 / 1e6  # 1,000 characters, about 250 tokens at the output rate
        assert figures.estimate_usd == pytest.approx(estimate)
        assert f"~${estimate:.4f} of $5.00" in meter.text
        assert "~250" in meter.text
        await turn_over(pilot)
        reported = (1000 * 3.0 + 500 * 15.0) / 1e6
        assert figures.session_usd == pytest.approx(reported)
        assert not figures.streaming
        assert f"${reported:.4f} of $5.00" in meter.text and "~" not in meter.text


async def test_an_unpriced_model_shows_unpriced_and_no_limit_compactly(
    fake_server, workspace, home
) -> None:
    fake_server.enqueue(openai_reply("Done.", usage=dict(prompt=1000, completion=200)))
    app = make_app(fake_server, workspace, prices=False, rate_limit={"requests_per_minute": 0})
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await turn_over(pilot)
        text = meter_of(app).text
        assert text.splitlines()[0] == "session unpriced (1 request), no budget applies"
        assert "1 req/min, no limit" in text
        assert row(text, "price") == "unpriced: add it to [prices]"


async def test_at_80_columns_the_meter_folds_to_one_line(fake_server, workspace, home) -> None:
    fake_server.enqueue(openai_reply("Done.", usage=dict(prompt=1000, completion=200)))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await send(pilot, "hello")
        await turn_over(pilot)
        meter = meter_of(app)
        assert meter.region.height == 1
        line = app.screen.query_one("#cost-line")
        assert line.display and not app.screen.query_one("#cost-detail").display
        shown = meter.figures.line().plain
        assert shown.startswith("session ") and " today " in shown
        assert shown.endswith(" 1/60 req/min") and len(shown) <= 78


# ---- snapshots ----------------------------------------------------------------------------


REPLY = "I read the inventory module and its tests; nothing needs to change."


class ScriptedPricedModel:
    """A priced model in-process: one fixed reply and fixed usage, no network, no port."""

    kind = "openai-compatible"
    model = "test-model"
    label = "test-model @ api.example.test"
    is_demo = False

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        for word in REPLY.split(" "):
            yield TextPiece(word + " ")
        yield UsagePiece(
            Usage(
                input_tokens=45_000,
                cached_input_tokens=8_000,
                output_tokens=900,
                reasoning_tokens=300,
            )
        )
        yield StreamDone("end")

    async def aclose(self) -> None:
        pass


@pytest.fixture
def near_budget_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NanotuiApp:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(timeline, "now", lambda: datetime(2026, 11, 28, 9, 30, 0))
    workspace = copy_sample_project(tmp_path / "project")
    seed_ledger(0.30)
    flags = {
        "sandbox": {"backend": "plain"},
        "budget": {"session_usd": 0.15, "day_usd": 0.50, "warn_at_percent": 80},
        "prices": {
            "test-model": {
                "input_per_mtok": 3.0,
                "output_per_mtok": 15.0,
                "cached_input_per_mtok": 0.3,
            }
        },
    }
    settings = load_settings(workspace, flags, environ={}).settings
    return NanotuiApp(
        build_session(
            settings, workspace, provider=ScriptedPricedModel(), session_id="cost-session"
        )
    )


async def one_turn_near_the_budget(pilot: Pilot) -> None:
    await send(pilot, "check")
    await turn_over(pilot)
    meter = meter_of(pilot.app)  # type: ignore[arg-type]
    # $0.1269 of $0.15 this session, $0.4269 of $0.50 today: both past 80%.
    assert meter.figures.session_usd == pytest.approx(0.1269)
    assert meter.has_class("-warning")
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_near_budget(
    snap_compare, near_budget_app: NanotuiApp, size: tuple[int, int]
) -> None:
    assert snap_compare(near_budget_app, terminal_size=size, run_before=one_turn_near_the_budget)
