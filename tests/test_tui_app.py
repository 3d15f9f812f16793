"""The full-screen app, driven with Pilot: the real agent and the offline demo model on a copy
of the sample project. Nothing here sleeps for long: each wait polls the app's state with
short pauses, bounded by a deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pilot_support import send, wait_for
from textual.pilot import Pilot
from textual.widgets import Label

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent
from nanotui.engine.facade import EngineSession
from nanotui.protocol.events import EventBase
from nanotui.providers.demo import DemoProvider, copy_sample_project
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.cost_meter import CostMeter
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.tool_call_block import ToolCallBlock

SIZE = (120, 36)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    return copy_sample_project(tmp_path / "project")


def make_app(
    workspace: Path, *, mode: str = "ask", provider: DemoProvider | None = None
) -> NanotuiApp:
    settings = load_settings(workspace, environ={}).settings
    settings.approval.mode = mode  # type: ignore[assignment]
    agent = build_agent(
        settings,
        workspace,
        provider=provider or DemoProvider(delay_s=0),
        session_id="demo-session",
    )
    return NanotuiApp(EngineSession(agent))


def screen_of(app: NanotuiApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


async def wait_for_approval(pilot: Pilot) -> ApprovalPanel:
    panel = pilot.app.screen.query_one(ApprovalPanel)
    await wait_for(pilot, lambda: panel.request is not None and panel.armed, "an approval")
    return panel


async def answer_every_approval(pilot: Pilot, key: str) -> list[str]:
    """Press `key` for each approval until the turn ends; return the kinds answered."""
    screen = screen_of(pilot.app)  # type: ignore[arg-type]
    panel = screen.query_one(ApprovalPanel)
    kinds: list[str] = []
    while True:
        await wait_for(
            pilot,
            lambda: (panel.request is not None and panel.armed) or not screen.busy,
            "an approval or the end of the turn",
        )
        if not screen.busy:
            return kinds
        assert panel.request is not None
        kinds.append(panel.request.kind)
        await pilot.press(key)


def tool_blocks(app: NanotuiApp, tool: str) -> list[ToolCallBlock]:
    return [block for block in app.screen.query(ToolCallBlock) if block.tool == tool]


def notices(app: NanotuiApp) -> list[str]:
    return [line.text for line in app.screen.query(NoticeLine)]


# ---- turns ------------------------------------------------------------------------------


async def test_ask_mode_applies_each_change_only_after_y(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = workspace / "inventory.py"
    before = module.read_text()
    app = make_app(workspace)
    # A long arming delay for the first request, so "too soon" holds on a slow machine too.
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 5.0)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        panel = pilot.app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: panel.request is not None, "the first approval")
        assert panel.has_focus
        monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.3)
        await pilot.press("y")  # too soon: a key meant for the prompt must not approve
        assert panel.request is not None
        assert module.read_text() == before

        kinds = await answer_every_approval(pilot, "y")

        assert kinds == ["write", "command", "write", "command"]
        after = module.read_text()
        assert "if quantity <= 0:" in after
        assert "item.quantity <= threshold" in after
        replies = list(app.screen.query(AssistantReply))
        assert "The tests pass now." in replies[-1].text
        assert [b.status for b in tool_blocks(app, "edit_file")] == ["ok", "ok"]
        assert [b.status for b in tool_blocks(app, "run_command")] == ["failed", "ok"]
        meter = app.screen.query_one(CostMeter)
        assert meter.files_changed == ("inventory.py",)
        assert meter.cost == "free (offline demo)"
        assert meter.session_usage.input_tokens > 0
        assert app.screen.query_one(PromptInput).has_focus


async def test_a_allows_that_command_for_the_rest_of_the_session(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        kinds: list[str] = []
        for key in ("y", "a", "y"):  # the edit, the test command (always), the fix
            panel = await wait_for_approval(pilot)
            assert panel.request is not None
            kinds.append(panel.request.kind)
            await pilot.press(key)
        assert await answer_every_approval(pilot, "y") == []  # the second test run did not ask

        assert kinds == ["write", "command", "write"]
        assert [b.status for b in tool_blocks(app, "run_command")] == ["failed", "ok"]
        assert any(text.startswith("Rule added:") for text in notices(app))


async def test_n_rejects_the_edit_and_leaves_the_file_alone(workspace: Path) -> None:
    module = workspace / "inventory.py"
    before = module.read_bytes()
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        await wait_for_approval(pilot)
        await pilot.press("n", "enter")  # the reason is optional
        await wait_for(pilot, lambda: not screen_of(app).busy, "the end of the turn")

        assert module.read_bytes() == before
        (edit,) = tool_blocks(app, "edit_file")
        assert edit.status == "rejected"
        assert "rejected by you" in str(edit.title)
        replies = list(app.screen.query(AssistantReply))
        assert "You rejected the change" in replies[-1].text


async def test_n_takes_an_optional_reason_the_model_receives(workspace: Path) -> None:
    module = workspace / "inventory.py"
    before = module.read_bytes()
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        panel = await wait_for_approval(pilot)
        await pilot.press("n")
        assert panel.has_class("-reason")
        await pilot.press(*"nope", "enter")
        await wait_for(pilot, lambda: not screen_of(app).busy, "the end of the turn")

        assert module.read_bytes() == before
        (edit,) = tool_blocks(app, "edit_file")
        assert edit.status == "rejected"
        assert "nope" in edit.result_text


async def test_escape_interrupts_a_streaming_turn(workspace: Path) -> None:
    module = workspace / "inventory.py"
    before = module.read_bytes()
    # Slow enough that the first reply cannot finish between its first words and the Esc.
    app = make_app(workspace, provider=DemoProvider(delay_s=0.5))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        await wait_for(
            pilot, lambda: bool(app.screen.query(AssistantReply)), "the reply to start streaming"
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen_of(app).busy, "the interrupted turn to end")

        assert not app.session.busy
        assert "Interrupted." in notices(app)
        assert app.screen.query(AssistantReply).last().has_class("-interrupted")
        assert module.read_bytes() == before
        assert app.screen.query_one(PromptInput).has_focus


async def test_shift_tab_cycles_the_mode_shown_in_the_status_bar(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        label = app.screen.query_one("#status-mode", Label)
        seen = []
        for _ in range(4):
            await pilot.press("shift+tab")
            await pilot.pause()
            seen.append((app.session.mode, str(label.render()).strip()))
            assert label.has_class(f"-mode-{app.session.mode}")
        assert seen == [
            ("auto-edit", "auto-edit"),
            ("full-auto", "full-auto"),
            ("plan", "plan"),
            ("ask", "ask"),
        ]
        assert len(app._notifications) == 4  # every change is announced


async def test_the_mode_does_not_change_during_a_turn(workspace: Path) -> None:
    # Slow enough that the first reply cannot finish between its first words and the Esc.
    app = make_app(workspace, provider=DemoProvider(delay_s=0.5))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        await wait_for(pilot, lambda: app.session.busy, "the turn to start")
        await pilot.press("shift+tab")
        assert app.session.mode == "ask"
        assert screen_of(app).mode == "ask"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen_of(app).busy, "the turn to end")


async def test_ctrl_q_during_a_turn_cancels_it_and_quits(workspace: Path) -> None:
    # Slow enough that the first reply cannot finish between its first words and the Esc.
    app = make_app(workspace, provider=DemoProvider(delay_s=0.5))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        await wait_for(pilot, lambda: app.session.busy, "the turn to start")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app._exit, "the app to exit")
    assert app.return_code == 0
    assert not app.session.busy


async def test_a_failing_turn_worker_becomes_a_readable_notice(workspace: Path) -> None:
    app = make_app(workspace)

    async def broken_turn(prompt: str) -> AsyncIterator[EventBase]:
        raise RuntimeError("the engine fell over")
        yield  # pragma: no cover - makes this an async generator

    app.session.local_agent.turn = broken_turn  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tidy")
        await wait_for(pilot, lambda: not screen_of(app).busy, "the failed turn to end")
        assert "The turn stopped on an internal error: the engine fell over." in notices(app)
        await send(pilot, "again")  # the session goes on
        await wait_for(pilot, lambda: not screen_of(app).busy, "the second turn to end")


async def test_up_recalls_the_previous_prompt(workspace: Path) -> None:
    app = make_app(workspace, mode="plan")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "look")
        await wait_for(pilot, lambda: not screen_of(app).busy, "the turn to end")
        prompt = app.screen.query_one(PromptInput)
        await pilot.press("up")
        assert prompt.text == "look"
        await pilot.press("down")
        assert prompt.text == ""
