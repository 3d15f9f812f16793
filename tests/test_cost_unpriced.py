"""Unpriced is never $0: every output shows the priced dollars and counts the unpriced requests.

One rule (`nanotui.protocol.spend`): `cost_usd` is null when none of the requests had a
price, and `unpriced_requests` says how many were left out of the dollars.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from pilot_support import wait_for
from run_support import of_type, run

from nanotui import paths
from nanotui.cli.main import main
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_session
from nanotui.governance.ledger import Ledger
from nanotui.protocol.event_summary import cost_summary, describe
from nanotui.protocol.events import CostUpdated
from nanotui.protocol.model_io import Usage
from nanotui.protocol.spend import Spend
from nanotui.tui.app import NanotuiApp
from nanotui.tui.cost_figures import CostFigures
from nanotui.tui.widgets.cost_meter import CostMeter
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.prompt_input import PromptInput


def settle(cost_usd: float | None, *, model: str = "m", session: str = "s1") -> None:
    Ledger(paths.ledger_file()).settle(
        None,
        session=session,
        model=model,
        usage=Usage(input_tokens=10, output_tokens=5),
        cost_usd=cost_usd,
        price_source="unpriced" if cost_usd is None else "config",
    )


# ---- the rule --------------------------------------------------------------------------


def test_the_rule_gives_no_dollars_when_no_request_was_priced() -> None:
    assert Spend.of(0.0, 3, 3) == Spend(None, 3)
    assert Spend.of(0.25, 3, 1) == Spend(0.25, 1)
    assert Spend.of(0.0, 0, 0) == Spend(0.0, 0)
    assert Spend.of(0.0, 0, 0, model_priced=False) == Spend(None, 0)
    assert Spend(None, 3).text() == "unpriced (3 requests)"
    assert Spend(None, 1).text() == "unpriced (1 request)"
    assert Spend(None, 0).text() == "unpriced"
    assert Spend(0.25, 2).text() == "$0.2500 + 2 unpriced"
    assert Spend(0.25, 0).text() == "$0.2500"


# ---- nanotui cost ----------------------------------------------------------------------


def test_cost_json_gives_null_and_the_count_for_unpriced_requests(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settle(None, model="local")
    settle(None, model="local")
    settle(0.01, model="priced")
    assert main(["cost", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_model = {row["key"]: row for row in report["model"]}
    assert by_model["local"]["cost_usd"] is None
    assert by_model["local"]["unpriced_requests"] == 2
    assert by_model["priced"]["cost_usd"] == pytest.approx(0.01)
    [day] = report["day"]
    assert day["cost_usd"] == pytest.approx(0.01) and day["unpriced_requests"] == 2


def test_cost_text_counts_the_unpriced_requests(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settle(None, model="local")
    settle(None, model="local")
    settle(0.01, model="priced")
    assert main(["cost"]) == 0
    out = capsys.readouterr().out
    assert "unpriced (2 requests)" in out  # the local model's row
    assert "$0.0100 + 2 unpriced" in out  # the day's row
    assert "$0.0000" not in out


# ---- nanotui run -----------------------------------------------------------------------


def test_run_json_counts_unpriced_requests_and_never_says_zero(
    fake_server, workspace: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.enqueue(openai_reply(text="Done."))
    code, events, _ = run(fake_server, workspace, capsys)
    assert code == 0
    result = events[-1]
    assert result["cost_usd"] is None and result["unpriced_requests"] == 1
    [cost] = of_type(events, "cost_updated")
    assert cost["session_usd"] is None and cost["session_unpriced_requests"] == 1
    assert cost["day_usd"] is None and cost["day_unpriced_requests"] == 1


def test_run_text_summary_counts_unpriced_requests(
    fake_server, workspace: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.enqueue(openai_reply(text="Done."))
    url = fake_server.openai_base_url
    code = main(["run", "hi", "-w", str(workspace), "--base-url", url, "--model", "test-model"])
    err = capsys.readouterr().err
    assert code == 0
    assert "tokens, unpriced (1 request); files changed" in err


# ---- the app ---------------------------------------------------------------------------


def unpriced_event(**changes: object) -> CostUpdated:
    values: dict[str, object] = dict(
        request_usd=None,
        session_usd=None,
        session_unpriced_requests=2,
        session_usage=Usage(input_tokens=100, output_tokens=10),
        priced=False,
        price_source="unpriced",
        day_usd=None,
        day_unpriced_requests=3,
        session_budget_usd=5.0,
        day_budget_usd=50.0,
    )
    values.update(changes)
    return CostUpdated.model_validate(values)


def test_the_meter_never_shows_zero_dollars_for_todays_unpriced_requests() -> None:
    figures = CostFigures(model_label="m")
    figures.apply(unpriced_event())
    detail, line = figures.detail().plain, figures.line().plain
    assert "$0.0000" not in detail and "$0.0000" not in line
    assert "unpriced (2 requests), no budget applies" in detail
    assert "today   unpriced (3 requests)" in detail
    assert "today unpriced (3 requests)" in line


def test_the_meter_adds_the_unpriced_count_to_priced_dollars() -> None:
    figures = CostFigures(model_label="m")
    figures.apply(unpriced_event(priced=True, session_usd=0.02, day_usd=0.5))
    detail = figures.detail().plain
    assert "$0.0200 of $5.00 + 2 unpriced" in detail
    assert "$0.5000 of $50.00 + 3 unpriced" in detail


def test_timeline_cost_rows_of_an_unpriced_session_show_no_dollars() -> None:
    event = unpriced_event()
    assert "$" not in describe("cost_updated", event.model_dump())[1]
    assert "$" not in cost_summary(event.model_dump(), Usage(input_tokens=100, output_tokens=10))
    # A log written before unpriced requests were counted held 0 for the session.
    old = {"request_usd": None, "session_usd": 0.0, "priced": False}
    assert "$" not in describe("cost_updated", old)[1]


async def test_slash_cost_counts_unpriced_requests_and_shows_no_zero_dollars(
    fake_server, workspace: Path, home: Path
) -> None:
    fake_server.enqueue(openai_reply("Done.", usage=dict(prompt=1000, completion=200)))
    flags = {"provider": {"base_url": fake_server.openai_base_url, "model": "m"}}
    settings = load_settings(workspace, flags, environ={}).settings
    app = NanotuiApp(build_session(settings, workspace, session_id="unpriced-session"))
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
        await pilot.press(*"hello", "enter")
        meter = app.screen.query_one(CostMeter)
        await wait_for(pilot, lambda: "1 request" in meter.text, "the meter to count it")
        await wait_for(pilot, lambda: not app.screen.busy, "the turn to end")  # type: ignore[attr-defined]
        await pilot.press(*"/cost", "enter")

        def cost_notice() -> str:
            lines = [n.text for n in app.screen.query(NoticeLine) if "This session" in n.text]
            return lines[-1] if lines else ""

        await wait_for(pilot, lambda: bool(cost_notice()), "the /cost notice")
        text = cost_notice()
        assert "This session: unpriced (1 request), no budget applies;" in text
        assert "today unpriced (1 request)" in text and "$0.0000" not in text
        assert meter.cost == "unpriced (1 request)"
