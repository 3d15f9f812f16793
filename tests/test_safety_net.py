"""The agent's checkpoints in real git repositories: before turns and batches, undo, rollback."""

from __future__ import annotations

import asyncio
import fcntl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from test_checkpoints_helpers import git, make_repo

from nanotui.config import CheckpointsConfig
from nanotui.config_loading import load_settings
from nanotui.engine import builds_ahead as schedule
from nanotui.engine.agent import Agent
from nanotui.engine.approvals import resolve
from nanotui.engine.assembly import build_agent
from nanotui.engine.safety_net import SafetyNet
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import (
    ApprovalRequested,
    CheckpointCreated,
    EventBase,
    Notice,
    ToolStarted,
)
from nanotui.vcs.checkpoints import Checkpoints
from nanotui.vcs.snapshot import TreeSnapshot


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    repo = make_repo(tmp_path / "repo", {"a.py": "a = 1\n", "b.py": "b = 1\n"})
    (repo / "a.py").write_text("a = 1  # the user's uncommitted edit\n")
    return repo


def make_agent(
    server: FakeModelServer, repo: Path, mode: str = "full-auto", **checkpoints: object
) -> Agent:
    flags = {
        "provider": {"base_url": server.openai_base_url, "model": "m", "tool_calling": "native"},
        "approval": {"mode": mode},
        "checkpoints": checkpoints,
    }
    return build_agent(load_settings(repo, flags, environ={}).settings, repo)


async def drive(agent: Agent, prompt: str) -> list[EventBase]:
    return [event async for event in approving(agent, prompt)]


async def approving(agent: Agent, prompt: str):
    """The turn's events, with every approval asked for (commands that redirect) given."""
    async for event in agent.turn(prompt):
        if isinstance(event, ApprovalRequested):
            resolve(event, ApprovalAnswer(decision="approve"))
        yield event


def created(events: list[EventBase]) -> list[CheckpointCreated]:
    return [e for e in events if isinstance(e, CheckpointCreated)]


def builds_ahead(agent: Agent) -> list[set[str]]:
    """Each time the agent asks for the next tree to be built ahead: the files its tools
    had created by then."""
    safety = agent.safety
    assert safety is not None
    calls: list[set[str]] = []
    build_ahead = safety.build_ahead

    def spying() -> asyncio.Task[None] | None:
        calls.append(set(safety.created))
        return build_ahead()

    safety.build_ahead = spying  # type: ignore[method-assign]
    return calls


class HeldBuilds:
    """Holds each build ahead on its thread, once it has started, until `go_on` is set."""

    def __init__(self, net: SafetyNet) -> None:
        builder = net.checkpoints().builder
        self.started: list[float] = []
        self.inside, self.go_on = threading.Event(), threading.Event()
        build_if_free = builder.build_if_free

        def held() -> TreeSnapshot | None:
            self.started.append(time.monotonic())
            self.inside.set()
            assert self.go_on.wait(20)
            return build_if_free()

        builder.build_if_free = held  # type: ignore[method-assign]

    async def one_started(self) -> None:
        assert await asyncio.to_thread(self.inside.wait, 20)


def edit(path: str, old: str, new: str) -> tuple[str, dict]:
    return ("edit_file", {"path": path, "old_string": old, "new_string": new})


async def test_a_turn_is_checkpointed_before_it_writes_and_can_be_undone(fake_server, repo) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[edit("a.py", "a = 1", "a = 2")]),
        openai_reply(tool_calls=[("write_file", {"path": "new.py", "content": "n = 1\n"})]),
        openai_reply("done"),
    )
    agent = make_agent(fake_server, repo)
    events = await drive(agent, "change a and add new.py")
    turn, *batches = created(events)
    assert turn.kind == "turn" and turn.reason == "before: change a and add new.py"
    # The first batch found the work tree as the turn's checkpoint left it: not taken again.
    assert [b.kind for b in batches] == ["batch"] and batches[0].files == 1
    first_tool = next(i for i, e in enumerate(events) if isinstance(e, ToolStarted))
    assert events.index(turn) < first_tool
    assert agent.safety is not None and agent.safety.created == {"new.py"}

    # Undoing the turn brings back the user's uncommitted edit and removes what the agent made.
    checkpoints = agent.safety.checkpoints()
    result = checkpoints.restore(turn.checkpoint, created_by_agent=[repo / "new.py"])
    assert (repo / "a.py").read_text() == "a = 1  # the user's uncommitted edit\n"
    assert not (repo / "new.py").exists() and result.removed == ["new.py"]
    agent.close()


async def test_plan_mode_takes_no_checkpoint_and_unchanged_turns_reuse_the_last(
    fake_server, repo
) -> None:
    fake_server.enqueue(openai_reply("a plan"), openai_reply("hello"), openai_reply("again"))
    agent = make_agent(fake_server, repo, mode="plan")
    assert created(await drive(agent, "plan it")) == []
    agent.mode = "ask"
    assert len(created(await drive(agent, "hi"))) == 1
    assert created(await drive(agent, "hi again")) == []  # nothing changed since
    with Checkpoints(repo) as checkpoints:
        assert len(checkpoints.list()) == 1
    agent.close()


async def test_disabled_checkpoints_take_none(fake_server, repo) -> None:
    fake_server.enqueue(openai_reply(tool_calls=[edit("b.py", "b = 1", "b = 2")]), openai_reply())
    agent = make_agent(fake_server, repo, enabled=False)
    events = await drive(agent, "change b")
    assert created(events) == [] and agent.safety is None
    assert (repo / "b.py").read_text() == "b = 2\n"
    agent.close()


def _half_way_batch(server: FakeModelServer) -> None:
    # The write to c.py is computed as a creation before the batch runs; the command then
    # creates c.py, so that third call fails after two landed.
    server.enqueue(
        openai_reply(
            tool_calls=[
                edit("b.py", "b = 1", "b = 2"),
                ("run_command", {"command": "echo made by the command > c.py"}),
                ("write_file", {"path": "c.py", "content": "c = 1\n"}),
            ]
        ),
        openai_reply("done"),
    )


async def test_a_batch_failing_half_way_is_rolled_back_when_configured(fake_server, repo) -> None:
    _half_way_batch(fake_server)
    agent = make_agent(fake_server, repo, rollback_on_failure=True)
    built = builds_ahead(agent)
    events = await drive(agent, "three things")
    assert len(built) == 1  # after the rollback too: the next checkpoint starts from it
    notices = [e.text for e in events if isinstance(e, Notice) and "rolled back" in e.text]
    assert len(notices) == 1 and "c.py" in notices[0]  # the command's file is left, and said
    assert (repo / "b.py").read_text() == "b = 1\n"
    assert (repo / "a.py").read_text() == "a = 1  # the user's uncommitted edit\n"
    assert (repo / "c.py").read_text() == "made by the command\n"
    safety = [c for c in created(events) if c.kind == "safety"]
    assert len(safety) == 1
    # The rollback itself can be undone: the safety checkpoint holds the half-done state.
    with Checkpoints(repo) as checkpoints:
        checkpoints.restore(safety[0].checkpoint)
    assert (repo / "b.py").read_text() == "b = 2\n"
    agent.close()


async def test_a_batch_failing_half_way_says_how_to_go_back(fake_server, repo) -> None:
    _half_way_batch(fake_server)
    agent = make_agent(fake_server, repo)
    events = await drive(agent, "three things")
    # Nothing changed between the turn's checkpoint and the batch: the turn's one is named.
    [before] = created(events)
    [notice] = [e.text for e in events if isinstance(e, Notice) and "checkpoints restore" in e.text]
    assert f"nanotui checkpoints restore {before.short_id}" in notice
    assert (repo / "b.py").read_text() == "b = 2\n"  # nothing rolled back on its own
    agent.close()


async def test_an_interrupted_command_is_rolled_back_when_configured(fake_server, repo) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                edit("b.py", "b = 1", "b = 2"),
                ("run_command", {"command": "echo half > d.txt; sleep 30"}),
            ]
        )
    )
    agent = make_agent(fake_server, repo, rollback_on_failure=True)
    built = builds_ahead(agent)
    events: list[EventBase] = []

    async def run() -> None:
        async for event in approving(agent, "edit then wait"):
            events.append(event)

    # The interrupt key's path: the agent cancels its turn; the events keep coming to the end.
    task = asyncio.ensure_future(run())
    try:
        for _ in range(200):
            if (repo / "d.txt").exists():
                break
            await asyncio.sleep(0.05)
        assert (repo / "d.txt").exists()
        agent.cancel()
        await asyncio.wait_for(task, 20)
    finally:
        task.cancel()
    assert (repo / "b.py").read_text() == "b = 1\n"
    notices = [e.text for e in events if isinstance(e, Notice) and "rolled back" in e.text]
    assert notices and "d.txt" in notices[0]  # made by the command: listed, not deleted
    assert built == []  # the turn is over: the next one's checkpoint builds what it needs
    agent.close()


def test_headless_run_reports_the_checkpoint_that_undoes_it(fake_server, repo, capsys) -> None:
    from nanotui.cli.main import main

    fake_server.enqueue(openai_reply(tool_calls=[edit("b.py", "b = 1", "b = 2")]), openai_reply())
    argv = ["run", "change b", "--workspace", str(repo), "--mode", "full-auto"]
    code = main([*argv, "--base-url", fake_server.openai_base_url, "--model", "m"])
    err = capsys.readouterr().err
    assert code == 0 and (repo / "b.py").read_text() == "b = 2\n"
    line = next(line for line in err.splitlines() if line.startswith("To undo this run"))
    # The hint names --workspace too when the work tree is not the current folder.
    checkpoint = line.split(" restore ", 1)[1].split()[0]
    assert main(["checkpoints", "restore", checkpoint, "--yes", "-w", str(repo)]) == 0
    assert (repo / "b.py").read_text() == "b = 1\n"


@pytest.fixture
def no_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds for outside changes may follow each other at once."""
    monkeypatch.setattr(schedule, "OUTSIDE_BUILD_GAP_S", 0.0)


async def net_after_a_checkpoint(
    repo: Path, emit: Callable[[EventBase], None] | None = None
) -> SafetyNet:
    """A session's safety net that has taken its first checkpoint."""
    net = SafetyNet(repo, "s1", CheckpointsConfig(), emit or (lambda event: None))
    await net.before_batch(["the first batch"])
    return net


async def log_lines_outside(net: SafetyNet, repo: Path, count: int) -> None:
    """A log file written `count` times outside nanotui, each built ahead as the watcher
    would ask (whatever the log holds, `app.log` ends at line `count - 1`)."""
    for line in range(count):
        (repo / "app.log").write_text(f"line {line}\n")
        await finished(net.outside_change())


async def built_ahead(net: SafetyNet, path: str) -> str:
    """`path` in the next checkpoint, which must find its tree built ahead: it updates no
    index, writes no tree and runs no tree diff while the agent waits."""
    commands = git_commands(net)
    checkpoint = await net.before_batch(["the next batch"])
    assert not {"update-index", "write-tree", "diff-tree"} & set(commands), commands
    assert checkpoint is not None
    return git(net.workspace, "show", f"{checkpoint.tree}:{path}")


async def finished(build: asyncio.Task[None] | None) -> None:
    """Wait for a build ahead that was asked for (and so must exist)."""
    assert build is not None
    await asyncio.wait_for(build, 20)


def git_commands(net: SafetyNet) -> list[str]:
    """The git sub-commands the checkpoint engine runs from now on."""
    runner = net.checkpoints().runner
    commands: list[str] = []
    run = runner.run

    def spying(*args: str, **options: object) -> bytes:
        commands.append(next(a for a in args if not a.startswith("-") and "=" not in a))
        return run(*args, **options)

    runner.run = spying  # type: ignore[method-assign]
    return commands


async def test_a_batch_s_changes_go_into_the_tree_while_the_model_answers(repo) -> None:
    events: list[EventBase] = []
    net = SafetyNet(repo, "s1", CheckpointsConfig(), events.append)
    await net.prepare()
    first = await net.before_batch(["the first batch"])
    # What a batch does: edits, a new file, a file removed.
    (repo / "a.py").write_text("a = 2\n")
    (repo / "c.py").write_text("c = 1\n")
    (repo / "b.py").unlink()
    ahead = net.build_ahead()
    assert ahead is not None
    await ahead

    commands = git_commands(net)
    second = await net.before_batch(["the second batch"])

    # The tree was built ahead: the checkpoint only records it, and its count is the
    # build ahead's, with no tree diff run for it.
    assert not {"update-index", "write-tree", "diff-tree"} & set(commands), commands
    assert second is not None and first is not None and second.tree != first.tree
    checkpoints = Checkpoints(repo, "s1")
    assert created(events)[-1].files == len(checkpoints.diff(first, second)) == 3
    assert git(repo, "show", f"{second.tree}:c.py") == "c = 1\n"

    # What changes after the build ahead is still in the next checkpoint.
    ahead = net.build_ahead()
    assert ahead is not None
    await ahead
    (repo / "d.py").write_text("d = 1\n")
    third = await net.before_batch(["the third batch"])
    assert third is not None and git(repo, "show", f"{third.tree}:d.py") == "d = 1\n"
    assert created(events)[-1].files == len(checkpoints.diff(second, third)) == 1
    checkpoints.close()
    net.close()


async def test_a_batch_builds_the_next_checkpoint_s_tree_as_it_ends(fake_server, repo) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "new.py", "content": "n = 1\n"})]),
        openai_reply("done"),
    )
    agent = make_agent(fake_server, repo)
    built = builds_ahead(agent)
    await drive(agent, "add new.py")
    assert built == [{"new.py"}]  # once, after the batch ran
    agent.close()


async def test_a_build_ahead_never_waits_for_another_build_nor_outlives_the_session(
    repo,
) -> None:
    net = SafetyNet(repo, "s1", CheckpointsConfig(), lambda event: None)
    first = await net.before_batch(["the first batch"])
    (repo / "c.py").write_text("c = 1\n")
    lock_file = net.checkpoints().storage.lock_file
    with open(lock_file, "a") as another_nanotui:
        fcntl.flock(another_nanotui, fcntl.LOCK_EX)  # its snapshot of the same work tree
        ahead = net.build_ahead()
        assert ahead is not None
        # It gives up at once: queued behind that snapshot, the session's exit would wait.
        await asyncio.wait_for(ahead, 20)
        fcntl.flock(another_nanotui, fcntl.LOCK_UN)
    second = await net.before_batch(["the second batch"])
    assert first is not None and second is not None
    assert git(repo, "show", f"{second.tree}:c.py") == "c = 1\n"
    net.close()
    assert net.build_ahead() is None


async def test_files_changed_outside_go_into_the_tree_before_the_agent_needs_it(repo) -> None:
    events: list[EventBase] = []
    net = SafetyNet(repo, "s1", CheckpointsConfig(), events.append)
    await net.prepare()
    await net.before_batch(["the first batch"])
    (repo / "a.py").write_text("a = 3  # saved in the user's editor\n")
    (repo / "notes.md").write_text("a new file of the user's\n")
    await finished(net.outside_change())
    assert await built_ahead(net, "notes.md") == "a new file of the user's\n"
    assert created(events)[-1].files == 2
    net.close()
    assert net.outside_change() is None


async def test_a_change_made_while_a_build_runs_gets_one_more_build_later(
    repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule, "OUTSIDE_BUILD_GAP_S", 0.3)
    events: list[EventBase] = []
    net = await net_after_a_checkpoint(repo, events.append)
    held = HeldBuilds(net)
    (repo / "c.py").write_text("c = 1\n")
    first = net.outside_change()
    await held.one_started()
    (repo / "d.py").write_text("d = 1  # saved while the build ran\n")
    second = net.outside_change()
    assert second is not None and second is not first
    assert net.outside_change() is second  # the changes after it share that one build
    held.go_on.set()
    await asyncio.wait_for(asyncio.gather(first, second), 20)  # type: ignore[arg-type]

    # The second build started after the first had ended, and not within the gap (less
    # the moment between the first one's start on the loop and on its thread).
    assert len(held.started) == 2 and held.started[1] - held.started[0] >= 0.2
    assert (await built_ahead(net, "d.py")).startswith("d = 1")
    # Counted across both builds, on their thread, not by a tree diff while the agent waits.
    assert created(events)[-1].files == 2
    net.close()


async def test_outside_changes_get_two_builds_between_checkpoints_at_most(
    repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A log written on and on would otherwise be stored again at every build.
    monkeypatch.setattr(schedule, "OUTSIDE_BUILD_GAP_S", 0.0)
    net = await net_after_a_checkpoint(repo)
    await log_lines_outside(net, repo, 2)
    (repo / "app.log").write_text("line 2\n")
    assert net.outside_change() is None
    (repo / "c.py").write_text("c = 1  # written by a batch\n")
    batch = net.build_ahead()  # a batch's own build is never held back
    await finished(batch)
    assert (await built_ahead(net, "app.log")) == "line 2\n"
    (repo / "app.log").write_text("line 3\n")
    assert net.outside_change() is not None  # a new allowance
    net.close()


async def test_a_log_written_while_builds_run_is_stored_twice_at_most(repo, no_gap: None) -> None:
    net = await net_after_a_checkpoint(repo)
    builder = net.checkpoints().builder
    build_if_free = builder.build_if_free
    stored: list[str] = []

    def slow_build() -> TreeSnapshot | None:
        time.sleep(0.1)  # the asks go on meanwhile, and queue the next build
        built = build_if_free()
        if built is not None and built.tree != built.previous_tree:
            stored.append(built.tree)
        return built

    builder.build_if_free = slow_build  # type: ignore[method-assign]
    asked = []
    for line in range(40):  # written every 25 ms for a second, each write told
        (repo / "app.log").write_text(f"line {line}\n")
        asked.append(net.outside_change())
        await asyncio.sleep(0.025)
    await asyncio.wait_for(asyncio.gather(*filter(None, asked)), 20)
    assert len(stored) == 2, stored
    net.close()


async def test_builds_that_store_nothing_do_not_use_up_the_allowance(repo, no_gap: None) -> None:
    (repo / ".gitignore").write_text("*.log\n")
    net = await net_after_a_checkpoint(repo)
    await log_lines_outside(net, repo, 3)  # a log git ignores, written on and on
    (repo / "c.py").write_text("c = 1  # the user's edit\n")
    await finished(net.outside_change())
    assert (await built_ahead(net, "c.py")).startswith("c = 1")
    net.close()


async def test_a_change_saved_while_a_checkpoint_looks_is_built_for_the_next(
    repo, no_gap: None
) -> None:
    net = await net_after_a_checkpoint(repo)
    await log_lines_outside(net, repo, 2)  # the allowance before the checkpoint, all used
    builder = net.checkpoints().builder
    build = builder.build
    looked, go_on = threading.Event(), threading.Event()

    def held_after_looking() -> TreeSnapshot:
        snapshot = build()
        looked.set()
        assert go_on.wait(20)
        return snapshot

    builder.build = held_after_looking  # type: ignore[method-assign]
    taking = asyncio.create_task(net.before_turn("the next turn"))
    assert await asyncio.to_thread(looked.wait, 20)
    (repo / "c.py").write_text("c = 1  # saved after the checkpoint looked\n")
    asked = net.outside_change()  # the next checkpoint's allowance, and a build it needs
    go_on.set()
    await asyncio.wait_for(taking, 20)
    builder.build = build  # type: ignore[method-assign]
    await finished(asked)
    assert (await built_ahead(net, "c.py")).startswith("c = 1")
    net.close()


async def test_a_build_asked_for_before_a_checkpoint_is_not_run_after_it(
    repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule, "OUTSIDE_BUILD_GAP_S", 0.5)
    net = await net_after_a_checkpoint(repo)
    await finished(net.outside_change())
    (repo / "c.py").write_text("c = 1\n")
    waiting = net.outside_change()  # for the gap
    taken = await net.before_batch(["the next batch"])  # looks at the work tree first
    assert taken is not None and git(repo, "show", f"{taken.tree}:c.py") == "c = 1\n"
    commands = git_commands(net)
    await asyncio.wait_for(waiting, 20)  # type: ignore[arg-type]
    assert commands == []
    net.close()


async def test_waiting_for_the_lock_does_not_widen_the_gap(
    repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule, "OUTSIDE_BUILD_GAP_S", 0.3)
    net = await net_after_a_checkpoint(repo)
    builder = net.checkpoints().builder
    builder.build_if_free = lambda: None  # type: ignore[method-assign]  # no git: no time
    async with net._lock:  # a long checkpoint, say, while the build waits for its turn
        first = net.outside_change()
        await asyncio.sleep(0.05)
        assert net.outside_change() is first  # it has not looked yet: one build serves both
        await asyncio.sleep(1)
    await asyncio.wait_for(first, 20)  # type: ignore[arg-type]
    # The gap counts from when the build began, and four times what it took: not the wait
    # (which would hold the next build back three seconds more).
    await asyncio.wait_for(net.outside_change(), 2)  # type: ignore[arg-type]
    net.close()


async def test_a_build_ahead_cut_short_while_it_waited_does_not_stop_the_next(repo) -> None:
    net = await net_after_a_checkpoint(repo)
    held = HeldBuilds(net)
    first = net.build_ahead()
    await held.one_started()
    waiting = net.build_ahead()  # waits for that one to end
    assert waiting is not None and waiting is not first
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(waiting, 0.05)  # its caller gave up on it
    held.go_on.set()
    (repo / "c.py").write_text("c = 1\n")
    again = net.build_ahead()
    assert again is not None and again is not waiting
    await asyncio.wait_for(again, 20)
    assert (await built_ahead(net, "c.py")) == "c = 1\n"
    net.close()


async def test_a_batch_s_build_does_not_wait_for_the_gap_between_outside_builds(
    repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule, "OUTSIDE_BUILD_GAP_S", 600.0)
    net = await net_after_a_checkpoint(repo)
    (repo / "c.py").write_text("c = 1\n")
    await finished(net.outside_change())
    (repo / "d.py").write_text("d = 1  # saved just after\n")
    spaced = net.outside_change()  # waits ten minutes from the last build's start
    (repo / "e.py").write_text("e = 1  # written by the batch\n")
    batch = net.build_ahead()
    assert batch is spaced  # one build takes in both, as soon as the batch asks
    await asyncio.wait_for(batch, 20)  # type: ignore[arg-type]
    assert (await built_ahead(net, "d.py")).startswith("d = 1")
    net.close()


async def test_the_warm_up_never_waits_for_another_build_and_the_feed_starts_later(repo) -> None:
    net = SafetyNet(repo, "s1", CheckpointsConfig(), lambda event: None)
    with open(net.checkpoints().storage.lock_file, "a") as another_nanotui:
        fcntl.flock(another_nanotui, fcntl.LOCK_EX)
        await asyncio.wait_for(net.prepare(), 20)  # gives up at once, as a build ahead does
        fcntl.flock(another_nanotui, fcntl.LOCK_UN)
    await net.before_batch(["the first batch"])
    (repo / "c.py").write_text("c = 1\n")
    ahead = net.build_ahead()  # asks again for the kernel's account of changes: it starts
    assert ahead is not None
    await ahead
    (repo / "d.py").write_text("d = 1\n")
    commands = git_commands(net)
    second = await net.before_batch(["the second batch"])
    assert "status" not in commands, commands  # the kernel said which file changed
    assert second is not None and git(repo, "show", f"{second.tree}:d.py") == "d = 1\n"
    net.close()
