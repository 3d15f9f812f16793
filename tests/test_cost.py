"""Prices, budgets and the shared daily ledger: real SQLite, real processes, the fake server."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fake_model_server import anthropic_reply, openai_reply
from run_support import of_type, run

from nanotui import paths
from nanotui.cli.main import main
from nanotui.config import BudgetConfig, PriceConfig
from nanotui.governance.cost import BudgetExceeded, SessionCost
from nanotui.governance.ledger import DailyBudgetExceeded, Ledger
from nanotui.governance.prices import find_price, price_data_version
from nanotui.protocol.model_io import ChatRequest, Message, Usage

OPENAI = "https://api.openai.com/v1"


# ---- prices ------------------------------------------------------------------------------


def test_gpt_4o_is_priced_from_the_bundled_data() -> None:
    price = find_price("gpt-4o", {}, api_url=OPENAI)
    assert price is not None
    assert price.cost(Usage(input_tokens=1000, output_tokens=500)) == pytest.approx(0.0075)
    assert price.source == f"genai-prices {price_data_version()} data"


def test_cached_tokens_are_never_counted_twice() -> None:
    # input_tokens holds the cached ones: 1,000 prompt tokens of which 800 were read from
    # the cache cost 200 at $2.50 and 800 at $1.25 per million, not 1,800 tokens' worth.
    price = find_price("gpt-4o", {}, api_url=OPENAI)
    assert price is not None
    cost = price.cost(Usage(input_tokens=1000, cached_input_tokens=800))
    assert cost == pytest.approx((200 * 2.5 + 800 * 1.25) / 1e6)


def test_a_local_server_is_not_priced_as_the_service_its_model_is_named_after() -> None:
    assert find_price("gpt-4o", {}, api_url="http://localhost:11434/v1") is None
    assert find_price("qwen2.5-coder:14b", {}, api_url=OPENAI) is None


def test_configured_prices_win_and_cached_rates_default_to_the_input_rate() -> None:
    prices = {"gpt-4o": PriceConfig(input_per_mtok=1.0, output_per_mtok=2.0)}
    price = find_price("gpt-4o", prices, api_url=OPENAI)
    assert price is not None and price.source == "config [prices]"
    assert price.cost(Usage(input_tokens=1_000_000, cached_input_tokens=500_000)) == 1.0


# ---- budgets -----------------------------------------------------------------------------


def request(chars: int = 4000) -> ChatRequest:
    return ChatRequest(
        model="m", system="", messages=[Message(role="user", content="x" * chars)], tools=[]
    )


def session_cost(ledger: Ledger | None, **budget: float) -> SessionCost:
    price = find_price("m", {"m": PriceConfig(input_per_mtok=1.0, output_per_mtok=1.0)})
    return SessionCost(
        BudgetConfig(**budget), price, Usage(), ledger=ledger, session="s", model="m"
    )


def test_max_tokens_is_clamped_to_the_per_request_cap() -> None:
    cost = session_cost(None, max_tokens_per_request=5000)
    fitted = cost.fit_request(request(4000).model_copy(update={"max_tokens": 100_000}))
    assert fitted.max_tokens == 5000 - 1001


def test_the_daily_budget_counts_every_session_of_the_day(home: Path) -> None:
    ledger = Ledger(paths.ledger_file())
    first = session_cost(ledger, day_usd=0.02, session_usd=1.0)
    first.fit_request(request().model_copy(update={"max_tokens": 1000}))
    first.record(Usage(input_tokens=1001, output_tokens=15_000))  # $0.016 spent today
    second = session_cost(Ledger(paths.ledger_file()), day_usd=0.02, session_usd=1.0)
    with pytest.raises(BudgetExceeded, match=r"today's budget \(\$0\.0160 of \$0\.02"):
        second.fit_request(request().model_copy(update={"max_tokens": 5000}))
    # A request that fits what is left still goes.
    second.fit_request(request().model_copy(update={"max_tokens": 1000}))


def test_the_monthly_budget_counts_earlier_days_of_the_month(home: Path) -> None:
    ledger = Ledger(paths.ledger_file())
    first = session_cost(ledger, day_usd=1.0, session_usd=1.0, month_usd=0.03)
    first.fit_request(request().model_copy(update={"max_tokens": 1000}))
    first.record(Usage(input_tokens=1001, output_tokens=15_000))  # $0.016
    # Written as if it were spent on the 1st: the day's budget no longer sees it.
    with sqlite3.connect(paths.ledger_file()) as db:
        month_start = date.today().replace(day=1).isoformat()
        db.execute("UPDATE requests SET day = ?", (month_start,))
        db.execute(
            "INSERT INTO requests SELECT NULL, at, day, session, model, input_tokens, "
            "cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, "
            "cost_usd, price_source FROM requests"
        )  # $0.032 this month in all
    second = session_cost(ledger, day_usd=1.0, session_usd=1.0, month_usd=0.03)
    with pytest.raises(BudgetExceeded, match=r"this month's budget \(\$0\.0320 of \$0\.03"):
        second.fit_request(request().model_copy(update={"max_tokens": 10}))
    unlimited = session_cost(ledger, day_usd=1.0, session_usd=1.0)
    unlimited.fit_request(request().model_copy(update={"max_tokens": 10}))


def test_a_request_that_produced_nothing_gives_its_hold_back(home: Path) -> None:
    ledger = Ledger(paths.ledger_file())
    cost = session_cost(ledger, day_usd=0.01, session_usd=1.0)
    cost.fit_request(request().model_copy(update={"max_tokens": 5000}))  # holds $0.006
    with pytest.raises(BudgetExceeded):
        session_cost(ledger, day_usd=0.01).fit_request(
            request().model_copy(update={"max_tokens": 5000})
        )
    cost.release()
    session_cost(ledger, day_usd=0.01).fit_request(
        request().model_copy(update={"max_tokens": 5000})
    )


def test_the_warning_comes_once(home: Path) -> None:
    cost = session_cost(Ledger(paths.ledger_file()), session_usd=0.01, warn_at_percent=50)
    cost.record(Usage(input_tokens=2000, output_tokens=2000))  # $0.004: under half
    assert cost.warning() is None
    cost.record(Usage(input_tokens=1000, output_tokens=1000))  # $0.006
    assert "passed 50% of the session budget ($0.0060 of $0.01)" in (cost.warning() or "")
    cost.record(Usage(output_tokens=1000))
    assert cost.warning() is None


def reserve_in_a_loop(ledger_path: str, start: Any, results: Any) -> None:
    """In another process: hold $0.01 at a time until the $1 daily budget refuses."""
    ledger = Ledger(Path(ledger_path))
    start.wait(30)
    held = 0
    while True:
        try:
            ledger.reserve("racer", 0.01, 1.0)
        except DailyBudgetExceeded:
            results.put(held)
            return
        held += 1


def test_two_processes_racing_cannot_both_pass_the_daily_budget(home: Path) -> None:
    ledger = Ledger(paths.ledger_file())
    ledger.settle(None, session="old", model="m", usage=Usage(), cost_usd=0.5, price_source="x")
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    racers = [
        context.Process(target=reserve_in_a_loop, args=(str(paths.ledger_file()), start, results))
        for _ in range(2)
    ]
    try:
        for racer in racers:
            racer.start()
        start.set()
        counts = [results.get(timeout=60) for _ in racers]
    finally:
        for racer in racers:
            racer.join(10)
            if racer.is_alive():
                racer.kill()
    # $0.50 spent, $0.50 left: exactly 50 holds of $0.01 between the two, never more.
    assert sum(counts) == 50, counts


# ---- end to end --------------------------------------------------------------------------


def test_a_request_over_the_daily_budget_never_reaches_the_server(
    fake_server, workspace, home, capsys
) -> None:
    (home / "config.toml").write_text(
        '[budget]\nday_usd = 1.0\n[prices."test-model"]\ninput_per_mtok = 3.0\n'
        "output_per_mtok = 15.0\n"
    )
    Ledger(paths.ledger_file()).settle(
        None, session="earlier", model="test-model", usage=Usage(), cost_usd=0.999, price_source="x"
    )
    code, events, _ = run(fake_server, workspace, capsys)
    assert code == 3
    assert "today's budget" in of_type(events, "error")[0]["text"]
    assert fake_server.requests == []


def test_each_priced_request_lands_in_the_ledger_and_the_report(
    fake_server, workspace, home, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    (home / "config.toml").write_text(
        '[prices."test-model"]\ninput_per_mtok = 3.0\noutput_per_mtok = 15.0\n'
        "cached_input_per_mtok = 0.3\ncache_write_per_mtok = 3.75\n"
    )
    fake_server.enqueue(
        anthropic_reply(text="Done.", usage=dict(input=50, output=10, cache_read=1000))
    )
    code, events, _ = run(fake_server, workspace, capsys, anthropic=True)
    assert code == 0
    # Anthropic reports cached tokens apart from input: counted once, at the cached rate.
    expected = (50 * 3.0 + 1000 * 0.3 + 10 * 15.0) / 1e6
    assert of_type(events, "cost_updated")[0]["request_usd"] == pytest.approx(expected)
    assert main(["cost", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (model,) = report["model"]
    assert model["key"] == "test-model" and model["cached_input_tokens"] == 1000
    assert model["cost_usd"] == pytest.approx(expected) and model["unpriced_requests"] == 0


def test_an_unpriced_model_is_reported_as_unpriced(fake_server, workspace, home, capsys) -> None:
    fake_server.enqueue(openai_reply(text="Done."))
    code, events, _ = run(fake_server, workspace, capsys)
    assert code == 0 and of_type(events, "cost_updated")[0]["priced"] is False
    assert main(["cost"]) == 0
    out = capsys.readouterr().out
    assert "test-model" in out and "unpriced" in out and "$0.0000" not in out
