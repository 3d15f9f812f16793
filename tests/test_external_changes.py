"""Files changed outside nanotui during a session: attribution rules, then the real watcher.

The attribution tests feed `ChangeAttribution` (change, path) pairs and a fake clock, so the
rules are checked without any timing. The watcher tests use real files and real watchfiles;
every wait has a deadline, and "this was not reported" is shown by a later change (a
sentinel) arriving alone, never by waiting for silence.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from folder_watch_support import refuse_listing
from watchfiles import Change

from nanotui.cli import audit_commands
from nanotui.config_loading import load_settings
from nanotui.engine import external_changes
from nanotui.engine.agent import Agent
from nanotui.engine.approvals import resolve
from nanotui.engine.assembly import build_agent
from nanotui.engine.external_changes import ChangeAttribution, WorkspaceFilter, WorkspaceWatcher
from nanotui.governance.audit import read_events
from nanotui.protocol import folder_watch
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import (
    ApprovalRequested,
    ChangedPath,
    EventBase,
    FileChangedExternally,
    Notice,
    ToolResult,
)
from nanotui.security.sandbox.runners import GuardedRunner
from nanotui.tui.timeline_rows import FILTERS_BY_NAME, row_for_record

WAIT_S = 3.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("one = 1\n")
    (ws / "b.py").write_text("b = 1\n")
    return ws


# ---- attribution, without a watcher ------------------------------------------------------


def test_a_file_nanotui_wrote_is_its_own_until_someone_else_edits_it(tmp_path: Path) -> None:
    attribution = ChangeAttribution(tmp_path, clock=FakeClock())
    attribution.wrote("a.py", b"mine\n")
    (tmp_path / "a.py").write_bytes(b"mine\n")
    assert attribution.external([("added", "a.py"), ("modified", "a.py")]) == []
    (tmp_path / "a.py").write_bytes(b"mine\n# the user's edit\n")
    assert attribution.external([("modified", "a.py")]) == [
        ChangedPath(path="a.py", change="modified")
    ]


def test_changes_while_a_command_runs_and_just_after_are_nanotuis(tmp_path: Path) -> None:
    clock = FakeClock()
    attribution = ChangeAttribution(tmp_path, clock=clock, grace_s=1.0)
    (tmp_path / "out.txt").write_text("built")
    with attribution.acting():
        clock.now += 30  # a long build
        assert attribution.external([("added", "out.txt")]) == []
    clock.now += 0.5  # reported a batch late
    assert attribution.external([("modified", "out.txt")]) == []
    clock.now += 1.0
    assert attribution.external([("modified", "out.txt")]) == [
        ChangedPath(path="out.txt", change="modified")
    ]


def test_an_atomic_save_of_a_known_file_reads_as_modified(tmp_path: Path) -> None:
    attribution = ChangeAttribution(tmp_path, clock=FakeClock())
    attribution.known_paths = {"a.py"}
    (tmp_path / "a.py").write_text("saved by rename")
    (tmp_path / "new.py").write_text("new")
    assert attribution.external([("added", "a.py"), ("added", "new.py")]) == [
        ChangedPath(path="a.py", change="modified"),
        ChangedPath(path="new.py", change="added"),
    ]
    (tmp_path / "new.py").unlink()
    assert attribution.external([("deleted", "new.py")]) == [
        ChangedPath(path="new.py", change="deleted")
    ]


def test_a_file_born_and_gone_within_one_batch_is_not_reported(tmp_path: Path) -> None:
    attribution = ChangeAttribution(tmp_path, clock=FakeClock())
    changes = [("added", "tmp.txt"), ("modified", "tmp.txt"), ("deleted", "tmp.txt")]
    assert attribution.external(changes) == []
    attribution.known_paths = set()
    assert attribution.external(changes) == []


def test_ignored_folders_editor_files_and_nanotui_state_are_not_wanted(tmp_path: Path) -> None:
    state = tmp_path / "state-inside"
    wanted = WorkspaceFilter(tmp_path, ignored_folders=[state, Path("/elsewhere")]).wanted
    for path in (
        ".git/index",
        ".nanotui/config.toml",
        "src/__pycache__/a.cpython-312.pyc",
        "node_modules/x/index.js",
        ".venv/lib/site.py",
        ".a.py.swp",
        "a.py~",
        "4913",
        ".a.py.nanotui-0123456789ab.tmp",
        "state-inside/sessions/s.jsonl",
    ):
        assert not wanted(path), path
    assert all(wanted(p) for p in ("a.py", "src/git.py", "docs/4913.md", "state.txt"))


def test_the_full_timeline_lists_an_outside_change_under_file_changes() -> None:
    event = FileChangedExternally(
        changes=[
            ChangedPath(path="a.py", change="modified"),
            ChangedPath(path="b", change="deleted"),
        ],
        more=3,
    )
    row = row_for_record({"seq": 1, "ts": "", "type": event.type, "payload": event.model_dump()})
    assert row.kind == "file" and FILTERS_BY_NAME["files"].matches(row)
    assert row.summary == "changed outside nanotui: a.py (modified), b (deleted) and 3 more"


# ---- the real watcher ---------------------------------------------------------------------


def make_agent(server: FakeModelServer, workspace: Path, mode: str = "ask") -> Agent:
    flags = {
        "provider": {"base_url": server.openai_base_url, "model": "m", "tool_calling": "native"},
        "approval": {"mode": mode},
    }
    return build_agent(load_settings(workspace, flags, environ={}).settings, workspace)


class Watching:
    """Runs `Agent.watch_workspace()` in a task; its events land in a queue."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.events: asyncio.Queue[EventBase] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watching:
        self.task = asyncio.create_task(self._collect())
        async with asyncio.timeout(WAIT_S):
            while self.agent.watcher is None:
                await asyncio.sleep(0.01)
            await self.agent.watcher.watching.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.agent.stop_watching()
        assert self.task is not None
        await asyncio.wait_for(self.task, WAIT_S)

    async def _collect(self) -> None:
        async for event in self.agent.watch_workspace():
            await self.events.put(event)

    async def next(self) -> EventBase:
        return await asyncio.wait_for(self.events.get(), WAIT_S)


async def test_a_session_that_stays_open_warms_up_the_looks_around_commands(
    fake_server, workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = make_agent(fake_server, workspace)
    warmed: list[bool] = []  # whether the watcher's own watches were in place by then

    def warm_up_soon(runner: GuardedRunner) -> None:
        assert runner.workspace.samefile(workspace) and agent.watcher is not None
        warmed.append(agent.watcher.watching.is_set())

    monkeypatch.setattr(GuardedRunner, "warm_up_soon", warm_up_soon)
    async with Watching(agent):
        for _ in range(200):
            if warmed:
                break
            await asyncio.sleep(0.01)
    assert warmed == [True]
    agent.close()


async def test_an_outside_edit_becomes_a_logged_event(fake_server, workspace) -> None:
    agent = make_agent(fake_server, workspace)
    async with Watching(agent) as watching:
        (workspace / "a.py").write_text("one = 1\n# the user's editor\n")
        event = await watching.next()
        # Told by the kernel's watches as the file is written (50 ms later), not found by a
        # poll of the tree every second or two (the fallback where they cannot be set).
        assert agent.watcher is not None and "" in agent.watcher.folders_watched()
    assert isinstance(event, FileChangedExternally)
    assert event.changes == [ChangedPath(path="a.py", change="modified")]
    assert agent.log is not None
    agent.close()
    logged = [e for e in read_events(agent.log.path) if isinstance(e, FileChangedExternally)]
    assert logged == [event]
    shown = io.StringIO()
    audit_commands.show(agent.log.path, shown)
    assert "file_changed_externally" in shown.getvalue() and "a.py (modified)" in shown.getvalue()


@pytest.mark.parametrize("mode", ["ask", "plan"])
async def test_an_outside_edit_is_built_into_the_next_checkpoint_s_tree_at_once(
    fake_server, workspace, mode: str
) -> None:
    agent = make_agent(fake_server, workspace, mode=mode)
    assert agent.safety is not None
    asked: list[bool] = []
    agent.safety.outside_change = lambda: asked.append(True)  # type: ignore[method-assign]
    async with Watching(agent) as watching:
        (workspace / "a.py").write_text("one = 1\n# the user's editor\n")
        event = await watching.next()
    assert isinstance(event, FileChangedExternally)
    # Plan mode takes no checkpoints: nothing to build ahead for.
    assert asked == ([] if mode == "plan" else [True])
    agent.close()


async def test_the_agents_own_write_is_not_reported(fake_server, workspace) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("edit_file", {"path": "a.py", "old_string": "one = 1", "new_string": "one = 2"}),
                ("write_file", {"path": "new.py", "content": "made by the agent\n"}),
            ]
        ),
        openai_reply("done"),
    )
    agent = make_agent(fake_server, workspace, mode="auto-edit")
    async with Watching(agent) as watching:
        events = [event async for event in agent.turn("change a and make new")]
        assert all(r.ok for r in events if isinstance(r, ToolResult))
        assert (workspace / "a.py").read_text() == "one = 2\n"
        (workspace / "b.py").write_text("b = 2\n")  # the sentinel, from outside
        event = await watching.next()
    assert isinstance(event, FileChangedExternally)
    assert event.paths == ["b.py"], "nanotui's own writes must not read as external"
    agent.close()


async def test_a_change_made_by_a_running_command_is_nanotuis(fake_server, workspace) -> None:
    command = "python3 -c \"open('made.txt', 'w').write('by the command')\""
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": command})]), openai_reply("ok")
    )
    agent = make_agent(fake_server, workspace, mode="full-auto")
    agent.own_changes.grace_s = 0.3  # so the sentinel can follow soon after
    async with Watching(agent) as watching:
        events = [event async for event in agent.turn("make it")]
        [result] = [r for r in events if isinstance(r, ToolResult)]
        assert result.ok and (workspace / "made.txt").exists(), result.content
        await asyncio.sleep(0.5)  # past the grace period
        (workspace / "b.py").write_text("b = 2\n")
        event = await watching.next()
    assert isinstance(event, FileChangedExternally)
    assert event.paths == ["b.py"], "what the agent's command did must not read as external"
    agent.close()


async def test_ignored_folders_and_editor_files_are_ignored(fake_server, workspace) -> None:
    for folder in (".git", "node_modules", "__pycache__", ".nanotui", ".venv"):
        (workspace / folder).mkdir()
    agent = make_agent(fake_server, workspace)
    async with Watching(agent) as watching:
        (workspace / ".git" / "index").write_text("x")
        (workspace / "node_modules" / "left-pad.js").write_text("x")
        (workspace / "__pycache__" / "a.cpython-312.pyc").write_text("x")
        (workspace / ".nanotui" / "config.toml").write_text("x")
        (workspace / ".venv" / "site.py").write_text("x")
        (workspace / ".a.py.swp").write_text("x")
        (workspace / "a.py~").write_text("x")
        (workspace / "4913").write_text("x")
        (workspace / "4913").unlink()
        await asyncio.sleep(0.2)  # their batch, if any, comes before the sentinel's
        (workspace / "b.py").write_text("b = 2\n")
        event = await watching.next()
    assert isinstance(event, FileChangedExternally) and event.paths == ["b.py"]
    agent.close()


async def test_a_watcher_that_cannot_start_says_so_once(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    watcher = WorkspaceWatcher(missing, ChangeAttribution(missing))
    events = await asyncio.wait_for(_all(watcher.events()), WAIT_S)
    assert len(events) == 1 and isinstance(events[0], Notice)
    assert events[0].level == "warning" and "not watched" in events[0].text


async def test_unreadable_folders_are_skipped_rather_than_ending_the_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.py").write_text("edited")

    async def fake_awatch(root: Path, **options: object) -> AsyncIterator[set]:
        if not options["ignore_permission_denied"]:
            raise PermissionError("Permission denied (os error 13)")
        yield {(Change.modified, str(root / "a.py"))}

    monkeypatch.setattr(external_changes, "awatch", fake_awatch)
    monkeypatch.setattr(WorkspaceWatcher, "_watch_folders", lambda self: None)  # not Linux
    watcher = WorkspaceWatcher(tmp_path, ChangeAttribution(tmp_path))
    notice, changed = await asyncio.wait_for(_all(watcher.events()), WAIT_S)
    assert isinstance(notice, Notice) and "cannot be read" in notice.text
    assert isinstance(changed, FileChangedExternally) and changed.paths == ["a.py"]


async def test_an_unreadable_folder_is_skipped_by_the_inotify_watches_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locked").mkdir()
    refuse_listing(monkeypatch, tmp_path / "locked")
    watcher = WorkspaceWatcher(tmp_path, ChangeAttribution(tmp_path))
    events = watcher.events()
    notice = await asyncio.wait_for(anext(events), WAIT_S)
    assert isinstance(notice, Notice) and "cannot be read" in notice.text
    (tmp_path / "b.py").write_text("b = 1\n")
    changed = await asyncio.wait_for(anext(events), WAIT_S)
    assert isinstance(changed, FileChangedExternally) and changed.paths == ["b.py"]
    watcher.stop()
    await events.aclose()


async def test_nothing_inside_git_or_the_ignored_folders_is_watched(fake_server, workspace) -> None:
    for folder in (".git/objects/ab", "node_modules/pkg", "src/__pycache__"):
        (workspace / folder).mkdir(parents=True)
    agent = make_agent(fake_server, workspace)
    async with Watching(agent) as watching:
        assert agent.watcher is not None
        watched = set(agent.watcher.folders_watched())
        (workspace / "src" / "mod.py").write_text("x = 1\n")
        event = await watching.next()
    assert isinstance(event, FileChangedExternally) and event.paths == ["src/mod.py"]
    assert watched == {"", "src"}, "a git commit or npm install must not wake the watcher"
    agent.close()


async def test_stopping_ends_the_watch_promptly(fake_server, workspace) -> None:
    agent = make_agent(fake_server, workspace)
    async with Watching(agent) as watching:
        pass
    assert watching.task is not None and watching.task.done()
    agent.close()


async def test_an_approval_is_answered_while_the_watcher_runs(fake_server, workspace) -> None:
    """The watcher and a turn share the event loop and the log without getting in the way."""
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("edit_file", {"path": "a.py", "old_string": "one = 1", "new_string": "one = 2"})
            ]
        ),
        openai_reply("ok"),
    )
    agent = make_agent(fake_server, workspace)
    async with Watching(agent) as watching:
        async for event in agent.turn("go"):
            if isinstance(event, ApprovalRequested):
                (workspace / "b.py").write_text("b = 3\n")
                changed = await watching.next()
                assert isinstance(changed, FileChangedExternally) and changed.paths == ["b.py"]
                resolve(event, ApprovalAnswer(decision="approve"))
    assert (workspace / "a.py").read_text() == "one = 2\n"
    agent.close()


async def _all(events: AsyncIterator[EventBase]) -> list[EventBase]:
    return [event async for event in events]


async def test_watching_the_workspace_also_feeds_the_checkpoints_its_changes(
    fake_server, workspace
) -> None:
    agent = make_agent(fake_server, workspace)
    assert agent.safety is not None
    async with Watching(agent):
        assert agent.safety._preparing is not None
        await asyncio.wait_for(agent.safety._preparing, WAIT_S)
        builder = agent.safety.checkpoints().builder
        assert builder._feed is not None, "the checkpoints should be told what changes"
    agent.close()
    assert builder._feed is None, "closing the session stops the feed"


async def test_running_out_of_watches_is_said_once_and_the_rest_stays_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folder_watch, "MAX_FOLDERS", 3)
    watcher = WorkspaceWatcher(tmp_path, ChangeAttribution(tmp_path))
    events = watcher.events()
    first = asyncio.ensure_future(anext(events))
    await asyncio.wait_for(watcher.watching.wait(), WAIT_S)
    for name in ("b", "c", "d", "e"):
        (tmp_path / name).mkdir()  # a build making folders past the limit
    (tmp_path / "saved.py").write_text("by the user, at the same moment\n")
    notice = await asyncio.wait_for(first, WAIT_S)
    assert isinstance(notice, Notice) and notice.level == "warning"
    assert "no longer watched" in notice.text
    batch = await asyncio.wait_for(anext(events), WAIT_S)  # the folders' own batch
    assert isinstance(batch, FileChangedExternally) and "saved.py" in batch.paths
    (tmp_path / "a.py").write_text("still watched\n")
    changed = await asyncio.wait_for(anext(events), WAIT_S)
    assert isinstance(changed, FileChangedExternally) and changed.paths == ["a.py"]
    watcher.stop()
    await events.aclose()


def test_watches_running_out_while_rewatching_keep_the_folders_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    watch = folder_watch.FolderWatch(tmp_path)
    try:
        watch.watch_below("", lambda folder: False)
        assert sorted(watch.watched()) == ["", "a", "b", "c"]
        (tmp_path / "d").mkdir()
        monkeypatch.setattr(folder_watch, "MAX_FOLDERS", 2)
        with pytest.raises(folder_watch.WatchUnavailable):
            watch.rewatch(lambda folder: False)
        assert {"", "a", "b", "c"} <= set(watch.watched())
        (tmp_path / "c" / "x.py").write_text("seen\n")
        changes, lost = watch.read()
        assert "c/x.py" in [change.path for change in changes] and not lost
    finally:
        watch.close()
