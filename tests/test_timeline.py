"""The audit timeline: rows from the session log, filters, the full event, the integrity
badge, following a live session, and replaying a past one full screen."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pilot_support import wait_for
from textual.pilot import Pilot
from timeline_support import session_events, timeline_host, write_log

from nanotui.cli.main import main
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent
from nanotui.engine.facade import EngineSession
from nanotui.governance.audit import SessionLog
from nanotui.protocol.events import CheckpointCreated, Notice, ToolResult, UserMessage
from nanotui.providers.demo import DemoProvider, copy_sample_project
from nanotui.tui.app import NanotuiApp
from nanotui.tui.replay_app import ReplayApp
from nanotui.tui.screens.event_detail import EventDetailScreen
from nanotui.tui.screens.replay import ReplayScreen
from nanotui.tui.screens.timeline import TimelineScreen
from nanotui.tui.timeline_log import LogReader
from nanotui.tui.timeline_rows import FILTERS_BY_NAME, TimelineRows, row_for_record
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.event_list import EventList
from nanotui.tui.widgets.integrity_badge import IntegrityBadge
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.timeline_pane import TimelinePane
from nanotui.tui.widgets.user_entry import UserEntry

SIZE = (120, 40)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "s1.jsonl")


def pane_of(pilot: Pilot) -> TimelinePane:
    return pilot.app.screen.query_one(TimelinePane)


def shown(pane: TimelinePane) -> list[tuple[str, str]]:
    model = pane.model
    return [(model.rows[i].type, model.rows[i].summary or "") for i in model.shown]


async def loaded(pilot: Pilot, rows: int) -> TimelinePane:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen), "the timeline")
    pane = pane_of(pilot)
    await wait_for(pilot, lambda: len(pane.model.rows) == rows, f"{rows} rows")
    return pane


async def settled(pilot: Pilot, pane: TimelinePane) -> None:
    await wait_for(pilot, lambda: not pane.filtering, "the filter to apply")
    await pilot.pause()


# ---- rows -------------------------------------------------------------------------------


def test_every_logged_event_but_streamed_text_is_a_row_with_its_kind(log: Path) -> None:
    rows = LogReader(log).read()
    kinds = [row.kind for row in rows]
    # 23 events + header + session_closed, less the two streamed fragments.
    assert len(rows) == 24
    assert "text_delta" not in {row.type for row in rows}
    assert [row.seq for row in rows] == sorted(row.seq for row in rows)
    assert kinds.count("refused") == 2  # the policy's deny and the refused tool result
    assert {"prompt", "checkpoint", "tool", "policy", "approval", "cost", "error"} <= set(kinds)
    assert rows[0].time == "09:30:00" and rows[-1].summary == "session closed"


def test_quick_index_and_full_read_give_the_same_rows(log: Path) -> None:
    reader = LogReader(log)
    indexed = reader.read(index_only=True)
    assert all(row.summary is None for row in indexed)
    reader.describe(indexed)
    assert indexed == LogReader(log).read()


def test_a_log_of_another_shape_is_still_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"type": "user_message", "payload": {"text": "hi"}, "seq": 0}\nnot json\n')
    rows = LogReader(path).read(index_only=True)
    assert [row.type for row in rows] == ["user_message", "?"]
    assert rows[0].summary == "hi" and "not json" in (rows[1].summary or "")


def test_checkpoint_and_external_change_records_have_their_own_kinds() -> None:
    restored = row_for_record(
        {"seq": 3, "ts": "", "type": "checkpoint_restored", "payload": {"checkpoint": "b" * 40}}
    )
    changed = row_for_record(
        {"seq": 4, "ts": "", "type": "external_file_changed", "payload": {"paths": ["a.py"]}}
    )
    unknown = row_for_record({"seq": 5, "ts": "", "type": "future_thing", "payload": {"x": 1}})
    assert (restored.kind, changed.kind, unknown.kind) == ("checkpoint", "file", "other")
    assert "a.py" in (changed.summary or "") and '"x":1' in (unknown.summary or "")
    model = TimelineRows()
    model.extend([restored, changed, unknown])
    model.set_filter(FILTERS_BY_NAME["checkpoints"])
    assert [model.shown_row(i).seq for i in range(len(model.shown))] == [3]
    model.set_filter(FILTERS_BY_NAME["files"])
    assert [model.shown_row(i).seq for i in range(len(model.shown))] == [4]


def test_a_checkpoint_logged_without_its_short_id_is_named_by_it() -> None:
    # Three checkpoints of one session differ only after the first 12 characters.
    rows = [
        row_for_record(
            {
                "seq": n,
                "ts": "",
                "type": "checkpoint_created",
                "payload": {"checkpoint": f"20261205-060512-44be/{n}", "reason": "before: x"},
            }
        )
        for n in (1, 2, 3)
    ]
    assert [row.summary for row in rows] == [f"created 44be/{n} before: x" for n in (1, 2, 3)]


def test_the_reader_follows_a_growing_log_and_waits_for_a_whole_line(tmp_path: Path) -> None:
    path = write_log(tmp_path / "live.jsonl", [UserMessage(text="one")], close=False)
    reader = LogReader(path)
    assert [row.type for row in reader.read()] == ["header", "user_message"]
    with path.open("ab") as handle:
        handle.write(b'{"seq":2,"ts":"2026-11-28T09:31:00.000+00:00","type":"notice"')
    assert reader.read() == []  # half a line: not yet
    with path.open("ab") as handle:
        handle.write(b',"payload":{"level":"info","text":"two"},"prev":"x"}\n')
    assert [row.summary for row in reader.read()] == ["two"]


# ---- the timeline screen ----------------------------------------------------------------


async def test_a_kind_filter_narrows_the_rows_to_that_kind(log: Path) -> None:
    app = timeline_host(log)
    async with app.run_test(size=SIZE) as pilot:
        pane = await loaded(pilot, 24)
        assert len(pane.model.shown) == 24
        await pilot.press("3")  # policy refusals
        await settled(pilot, pane)
        assert shown(pane) == [
            ("policy_decision", "deny run_command: deny: curl *"),
            ("tool_result", "run_command refused: Refused by policy: curl * is denied."),
        ]
        await pilot.press("1")  # tools: proposals, starts and results, refused or not
        await settled(pilot, pane)
        tools = shown(pane)
        assert len(tools) == 8
        assert {kind for kind, _ in tools} == {"tool_call_proposed", "tool_started", "tool_result"}
        await pilot.press("5")
        await settled(pilot, pane)
        assert [kind for kind, _ in shown(pane)] == ["checkpoint_created"]
        await pilot.press("0")
        await settled(pilot, pane)
        assert len(pane.model.shown) == 24
        assert "2 of 24" not in str(pilot.app.screen.query_one("#timeline-count").render())


async def test_the_cursor_stays_on_its_event_through_filters(log: Path) -> None:
    app = timeline_host(log, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await loaded(pilot, 24)
        events = pane.event_list
        await pilot.press(*["down"] * 11)  # the proposal to run pytest
        chosen = events.current
        assert chosen is not None and chosen.summary == "run_command proposed: pytest -q"
        await pilot.press("1")
        await settled(pilot, pane)
        assert events.current is chosen and events.cursor == 3
        await pilot.press("6")  # errors only: the first error after it
        await settled(pilot, pane)
        assert events.current is not None and events.current.type == "error"
        await pilot.press("0")
        await settled(pilot, pane)
        assert events.current is not None and events.current.type == "error"


async def test_a_text_filter_keeps_the_rows_that_mention_it(log: Path) -> None:
    app = timeline_host(log)
    async with app.run_test(size=SIZE) as pilot:
        pane = await loaded(pilot, 24)
        await pilot.press("slash", *"PYTEST", "enter")
        await settled(pilot, pane)
        assert [kind for kind, _ in shown(pane)] == [
            "tool_call_proposed",
            "policy_decision",
            "approval_requested",
            "tool_started",
        ]
        assert all("pytest" in summary for _, summary in shown(pane))
        assert pane.event_list.has_focus  # Enter went back to the list
        await pilot.press("2")  # and a kind on top: approvals that mention pytest
        await settled(pilot, pane)
        assert [kind for kind, _ in shown(pane)] == ["approval_requested"]


async def test_enter_opens_the_full_event_with_its_secret_redacted_as_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "ghp_" + "a1B2c3D4e5" * 4  # shaped like a GitHub token
    monkeypatch.setenv("GITHUB_TOKEN", token)
    log = SessionLog("secret", path=tmp_path / "secret.jsonl", header={"workspace": "/w"})
    log.append(UserMessage(text="show the config"))
    log.append(ToolResult(call_id="c1", tool="read_file", ok=True, content=f"token = {token}\n"))
    log.close()
    app = timeline_host(log.path, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await loaded(pilot, 4)
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EventDetailScreen), "the event")
        detail = app.screen
        assert isinstance(detail, EventDetailScreen)
        assert detail.record["type"] == "tool_result" and detail.record["seq"] == 2
        logged = json.dumps(detail.record)
        assert "[REDACTED:" in detail.record["payload"]["content"] and token not in logged
        assert token not in app.export_screenshot()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")
        assert pane.event_list.current is not None and pane.event_list.current.seq == 2


async def test_a_click_selects_a_row_and_a_double_click_opens_it(log: Path) -> None:
    app = timeline_host(log, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await loaded(pilot, 24)
        await pilot.click(EventList, offset=(20, 2))
        assert pane.event_list.cursor == 2
        assert pane.event_list.current is not None
        assert pane.event_list.current.type == "user_message"
        await pilot.double_click(EventList, offset=(20, 3))
        await wait_for(pilot, lambda: isinstance(app.screen, EventDetailScreen), "the event")
        assert app.screen.record["type"] == "checkpoint_created"  # type: ignore[attr-defined]


async def test_the_badge_says_verified_for_a_good_log(log: Path) -> None:
    app = timeline_host(log)
    async with app.run_test(size=SIZE) as pilot:
        badge = app.screen.query_one(IntegrityBadge)
        await wait_for(pilot, lambda: badge.verdict is not None, "the verdict")
        assert badge.verdict is not None and badge.verdict.ok
        assert str(badge.render()).startswith("✓ verified")
        assert badge.has_class("-ok")


async def test_the_badge_says_broken_at_the_line_that_was_changed(log: Path) -> None:
    lines = log.read_bytes().split(b"\n")
    lines[6] = lines[6].replace(b"Reading the test first.", b"Reading the test later.")
    log.write_bytes(b"\n".join(lines))
    app = timeline_host(log)
    async with app.run_test(size=SIZE) as pilot:
        badge = app.screen.query_one(IntegrityBadge)
        await wait_for(pilot, lambda: badge.has_class("-broken"), "the verdict")
        assert badge.verdict is not None and badge.verdict.bad_line == 7
        assert str(badge.render()) == "✗ broken at line 7"
        # The rows still show what the file says now.
        assert "Reading the test later." in [row.summary for row in pane_of(pilot).model.rows]


async def test_a_missing_log_says_the_session_is_not_logged() -> None:
    app = timeline_host(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert str(app.screen.query_one(IntegrityBadge).render()) == "this session is not logged"
        assert len(pane_of(pilot).model.rows) == 0


async def test_a_log_that_is_gone_is_said_not_a_traceback(tmp_path: Path) -> None:
    app = timeline_host(tmp_path / "gone.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        badge = app.screen.query_one(IntegrityBadge)
        await wait_for(pilot, lambda: badge.has_class("-broken"), "the verdict")
        assert str(badge.render()) == "not verified: the log cannot be read"
        assert isinstance(app.screen, TimelineScreen) and len(pane_of(pilot).model.rows) == 0


# ---- from the main screen ---------------------------------------------------------------


@pytest.fixture
def demo_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NanotuiApp:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    workspace = copy_sample_project(tmp_path / "project")
    settings = load_settings(workspace, {"sandbox": {"backend": "plain"}}, environ={}).settings
    agent = build_agent(settings, workspace, provider=DemoProvider(delay_s=0), session_id="tl")
    return NanotuiApp(EngineSession(agent))


async def test_ctrl_t_opens_this_sessions_log_and_follows_it_live(
    demo_app: NanotuiApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TimelineScreen, "REVERIFY_S", 0.2)
    async with demo_app.run_test(size=SIZE) as pilot:
        prompt = pilot.app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(demo_app.screen, TimelineScreen), "the timeline")
        pane = pane_of(pilot)
        await wait_for(pilot, lambda: len(pane.model.rows) == 1, "the log so far")
        assert pane.model.rows[0].type == "header"  # no turn yet
        # The session goes on while the timeline is open: new lines scroll in.
        demo_app.session.record(CheckpointCreated(checkpoint="c" * 40, reason="live", files=1))
        await wait_for(
            pilot, lambda: pane.model.rows[-1].type == "checkpoint_created", "the new line"
        )
        assert pane.event_list.current is pane.model.rows[-1]  # followed to the end
        badge = demo_app.screen.query_one(IntegrityBadge)
        await wait_for(
            pilot, lambda: badge.verdict is not None and badge.verdict.lines == 2, "a new verdict"
        )
        assert str(badge.render()) == "✓ verified · 2 lines"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(demo_app.screen, TimelineScreen), "back")


async def test_slash_timeline_opens_the_timeline(demo_app: NanotuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        prompt = pilot.app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
        prompt.insert("/timeline")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(demo_app.screen, TimelineScreen), "the timeline")


# ---- replay -----------------------------------------------------------------------------


def fail_if_a_model_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a replay must not build a model client")

    monkeypatch.setattr("nanotui.providers.factory.build_provider", refuse)
    monkeypatch.setattr("nanotui.engine.assembly.build_agent", refuse)


async def replay_finished(pilot: Pilot) -> ReplayScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ReplayScreen)
    await wait_for(pilot, lambda: screen.finished, "the replay to finish")
    await pilot.pause()
    return screen


async def test_replay_shows_every_event_in_order_in_the_timeline_and_the_chat(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_if_a_model_is_built(monkeypatch)
    arrived: list[int] = []
    original = TimelinePane.add_rows

    def spy(self: TimelinePane, rows: list) -> None:  # type: ignore[type-arg]
        arrived.extend(row.seq for row in rows)
        original(self, rows)

    monkeypatch.setattr(TimelinePane, "add_rows", spy)
    # 26 records one second apart at 200 times real time: 5 ms each, in several batches.
    app = ReplayApp(log, speed=200, session="s1")
    async with app.run_test(size=SIZE) as pilot:
        screen = await replay_finished(pilot)
        expected = [row.seq for row in LogReader(log).read()]
        assert arrived == expected
        assert [row.seq for row in pane_of(pilot).model.rows] == expected
        banner = str(screen.query_one("#replay-banner").render())
        assert banner.startswith("REPLAY of session s1 (no model is called)")
        assert "finished, 26 records" in banner
        users = [entry.text for entry in screen.query(UserEntry)]  # type: ignore[attr-defined]
        assert users == ["make the failing test pass"]
        replies = list(screen.query(AssistantReply))
        assert len(replies) == 1


async def test_replay_at_speed_0_shows_everything_at_once(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_if_a_model_is_built(monkeypatch)
    app = ReplayApp(log, speed=0, session="s1")
    async with app.run_test(size=SIZE) as pilot:
        await replay_finished(pilot)
        pane = pane_of(pilot)
        assert [row.type for row in pane.model.rows] == [row.type for row in LogReader(log).read()]
        assert pane.event_list.current is pane.model.rows[-1]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EventDetailScreen), "the event")
        assert app.screen.record["type"] == "session_closed"  # type: ignore[attr-defined]


async def test_space_pauses_the_replay(tmp_path: Path) -> None:
    events = [Notice(text=f"note {n}") for n in range(6)]
    log = write_log(tmp_path / "slow.jsonl", events, step_s=1.0)
    app = ReplayApp(log, speed=20, session="slow")  # 50 ms apart
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await wait_for(pilot, lambda: screen.done >= 2, "the first records")
        await pilot.press("space")
        paused_at = screen.done
        await pilot.pause(0.3)
        assert screen.done <= paused_at + 1 and not screen.finished
        assert "paused" in str(screen.query_one("#replay-banner").render())
        await pilot.press("space")
        await replay_finished(pilot)
        assert screen.done == 8


def test_replay_without_a_terminal_prints_text_as_before(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "sessions").mkdir()
    write_log(home / "sessions" / "20261128-093000-abcd.jsonl", session_events())
    assert main(["audit", "replay", "20261128", "--text"]) == 0
    out = capsys.readouterr().out
    assert "Reading the test first." in out
    assert main(["audit", "replay", "20261128", "--json"]) == 0
    kinds = [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()]
    assert kinds[:3] == ["session_started", "user_message", "checkpoint_created"]


def test_replay_in_a_terminal_opens_the_full_screen_replay(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "sessions").mkdir()
    path = write_log(home / "sessions" / "20261128-093000-abcd.jsonl")
    calls: list[tuple[Path, float]] = []

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("sys.stdout", Terminal())
    monkeypatch.setattr(
        "nanotui.tui.replay_app.run_replay",
        lambda path, *, speed: calls.append((path, speed)) or 0,
    )
    assert main(["audit", "replay", "20261128", "--speed", "10"]) == 0
    assert calls == [(path, 10.0)]
    assert main(["audit", "replay", "20261128", "--text"]) == 0  # --text: printed instead
    assert len(calls) == 1


async def test_an_event_list_with_no_rows_has_no_cursor(log: Path) -> None:
    app = timeline_host(log)
    async with app.run_test(size=SIZE) as pilot:
        pane = await loaded(pilot, 24)
        await pilot.press("7")  # no external changes in this log
        await settled(pilot, pane)
        assert pane.model.shown == [] and pane.event_list.cursor == -1
        await pilot.press("enter")  # nothing to open
        assert isinstance(app.screen, TimelineScreen)
        assert isinstance(pane.event_list, EventList)


async def test_the_badge_holds_the_log_to_its_anchor_so_a_cut_tail_reads_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    session = SessionLog("anchored-session", header={"workspace": "/w", "model": "m"})
    for turn in range(3):
        session.append(UserMessage(text=f"prompt {turn}"))
    session.close()
    # Cutting whole lines off the end leaves a chain that still links up: only the anchor,
    # kept in the ledger outside the log, shows that lines are gone.
    lines = session.path.read_bytes().splitlines(keepends=True)
    session.path.write_bytes(b"".join(lines[:-2]))
    app = timeline_host(session.path)
    async with app.run_test(size=SIZE) as pilot:
        badge = app.screen.query_one(IntegrityBadge)
        await wait_for(pilot, lambda: badge.verdict is not None, "the verdict")
        assert badge.has_class("-broken"), str(badge.render())
