"""The full-screen app on a session that runs on `nanotui serve`: the real server (a child
process) with the scripted model server, the real app driven by Pilot in this process.

The screens are the local app's; only the session behind them is a `RemoteSession`. What
a user does locally works the same: a reply that changes two files in several places is
approved hunk by hunk, and the file on the server's worktree holds exactly what was chosen.
What only a remote session meets is tested too: an approval answered from elsewhere (the
web console) leaves the pane at once, and a dropped event stream says it is reconnecting and
then resumes without losing or repeating an event.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from multi_hunk_session import INVENTORY, REPORT, two_file_reply
from pilot_support import main_screen, send, wait_for
from serve_support import DroppingProxy
from test_serve_sessions import Service, started_service
from textual.widgets import DataTable

from nanotui.client.remote_session import RemoteSession, ServerTarget
from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.events import Notice, TextDelta
from nanotui.tui.launch import LaunchApp
from nanotui.tui.screens.checkpoints import CheckpointBrowserScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.diff_view import DiffView
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.status_bar import StatusBar

FILES = {"inventory.py": INVENTORY, "report.py": REPORT}


def app_for(service: Service, url: str | None = None, **target: object) -> LaunchApp:
    server = ServerTarget(
        url=url or service.url, token=service.tokens["alice"], project="web", mode="ask", **target
    )
    return LaunchApp(Path.cwd(), server=server)


def worktree_file(service: Service, session: str, name: str) -> str:
    (found,) = service.home.rglob(f"worktrees/{session}/{name}")
    return found.read_text()


async def test_one_hunk_of_two_approved_in_the_app_is_what_the_server_writes(
    tmp_path: Path,
) -> None:
    with started_service(tmp_path, files=FILES) as service:
        service.model.enqueue(two_file_reply(), _done())
        app = app_for(service)
        async with app.run_test(size=(140, 44)) as pilot:
            screen = await main_screen(pilot)
            session = screen.session
            assert isinstance(session, RemoteSession)
            status = screen.query_one(StatusBar)
            where = service.url.removeprefix("http://")
            assert status.runs_at == where
            assert str(status.query_one("#status-where").render()) == f"on {where}"
            await send(pilot, "fix both")
            panel = screen.query_one(ApprovalPanel)
            await wait_for(pilot, lambda: len(panel.pending) == 2 and panel.armed, "two approvals")
            assert panel.request is not None and panel.request.path == "inventory.py"
            await pilot.press("j", "space")  # skip the second hunk of inventory.py
            assert panel.query_one(DiffView).selected_hunks == [0]
            await pilot.press("y")
            await wait_for(pilot, lambda: len(panel.pending) == 1, "the first answer")
            await wait_for(pilot, lambda: panel.armed, "the keys for report.py")
            await pilot.press("n", *"keep the title", "enter")
            await wait_for(pilot, lambda: not screen.busy, "the turn to end", timeout=20)
            sid = session.session_id
        written = worktree_file(service, sid, "inventory.py")
        assert "LIMIT = 20" in written
        assert "raise ValueError" not in written, "the skipped hunk was written"
        assert worktree_file(service, sid, "report.py") == REPORT
        # The model was told why report.py was left alone.
        assert "keep the title" in json.dumps(service.model.requests[-1].body)
        # The session stays on the server for `--continue`.
        listed = service.get("alice", "/v1/sessions").json()
        assert [s["id"] for s in listed] == [sid] and listed[0]["state"] == "idle"

        again = app_for(service, continue_latest=True)
        async with again.run_test(size=(140, 44)) as pilot:
            screen = await main_screen(pilot)
            assert screen.session.session_id == sid and screen.session.resumed
            shown = " ".join(str(line.render()) for line in screen.query(NoticeLine))
            assert f"Earlier in session {sid}" in shown
            # The server's mode is the ceiling; a stricter one is fine.
            await send(pilot, "/mode full-auto")
            await send(pilot, "/mode plan")
            await pilot.pause(0.2)
            told = [n.message for n in pilot.app._notifications]
            assert any("This server allows at most auto-edit mode" in m for m in told), told
            assert service.get("alice", f"/v1/sessions/{sid}").json()["mode"] == "plan"
            assert screen.query_one(StatusBar).mode == "plan"
            # The checkpoint browser lists the server's checkpoints.
            await pilot.press("ctrl+b")
            await wait_for(
                pilot, lambda: isinstance(pilot.app.screen, CheckpointBrowserScreen), "the browser"
            )
            browser = pilot.app.screen
            await wait_for(pilot, lambda: browser.query_one(DataTable).row_count > 0, "checkpoints")
            await pilot.press("escape")

        # Taking the turn back through the same browser calls, as the screen makes them.
        session = await RemoteSession.open(
            ServerTarget(url=service.url, token=service.tokens["alice"], attach=sid)
        )
        try:
            browsing = session.checkpoint_browsing()
            entries = await asyncio.to_thread(browsing.entries)
            before = next(e for e in entries if e.checkpoint.label.startswith("before"))
            changed = await asyncio.to_thread(browsing.compare, before.checkpoint, None)
            assert [d.path for d in changed.files] == ["inventory.py"]
            patch = await asyncio.to_thread(browsing.file_patch, changed, "inventory.py")
            assert "+LIMIT = 20" in patch
            plan = await asyncio.to_thread(browsing.preview, before.checkpoint, None)
            assert [w.path for w in plan.writes] == ["inventory.py"]
            result, _ = await asyncio.to_thread(browsing.restore, before.checkpoint, None)
            assert result.restored == ["inventory.py"] and result.safety_checkpoint is not None
        finally:
            await session.close()
        assert worktree_file(service, sid, "inventory.py") == INVENTORY


async def test_an_approval_answered_in_the_web_console_leaves_the_pane_at_once(
    tmp_path: Path,
) -> None:
    with started_service(tmp_path, files=FILES) as service:
        service.model.enqueue(two_file_reply(), _done())
        app = app_for(service)
        async with app.run_test(size=(140, 44)) as pilot:
            screen = await main_screen(pilot)
            await send(pilot, "fix both")
            panel = screen.query_one(ApprovalPanel)
            await wait_for(pilot, lambda: len(panel.pending) == 2, "two approvals")
            sid = screen.session.session_id
            pending = service.get("alice", f"/v1/sessions/{sid}/approvals").json()
            report = next(p for p in pending if p["path"] == "report.py")
            # Answered elsewhere, as the console does (with what it showed).
            answered = service.post(
                "alice",
                f"/v1/sessions/{sid}/approvals/{report['call_id']}",
                json={"decision": "approve", "shown_sha256": report["shown_sha256"]},
            )
            assert answered.status_code == 200, answered.text
            await wait_for(pilot, lambda: len(panel.pending) == 1, "the pane to drop it", 5)
            assert panel.request is not None and panel.request.path == "inventory.py"
            await wait_for(pilot, lambda: panel.armed, "the keys")
            await pilot.press("y")
            await wait_for(pilot, lambda: not screen.busy, "the turn to end", timeout=20)
        assert "Stock report" in worktree_file(service, sid, "report.py")
        assert "raise ValueError" in worktree_file(service, sid, "inventory.py")


async def test_a_dropped_event_stream_reconnects_without_losing_or_repeating(
    tmp_path: Path,
) -> None:
    with started_service(tmp_path) as service:
        text = "".join(f"word{i:03d} " for i in range(300))
        service.model.enqueue(_done(text, chunk_size=7))
        port = int(service.url.rsplit(":", 1)[1])
        proxy = DroppingProxy(port, cut_after=1500)
        try:
            app = app_for(service, url=f"http://127.0.0.1:{proxy.port}")
            async with app.run_test(size=(120, 40)) as pilot:
                screen = await main_screen(pilot)
                seen: list[str] = []
                notices: list[str] = []
                session = screen.session
                turn = session.turn

                async def watched_turn(prompt: str):
                    async for event in turn(prompt):
                        if isinstance(event, TextDelta):
                            seen.append(event.text)
                        elif isinstance(event, Notice):
                            notices.append(event.text)
                        yield event

                session.turn = watched_turn  # type: ignore[method-assign]
                await send(pilot, "say a lot")
                await wait_for(pilot, lambda: not screen.busy, "the turn to end", timeout=30)
                chat_text = " ".join(str(line.render()) for line in screen.query(NoticeLine))
        finally:
            proxy.close()
        assert proxy.cuts == 1, "the stream was never cut: the test proves nothing"
        assert "".join(seen) == text, "an event was lost or shown twice"
        assert any("reconnecting…" in n for n in notices), notices
        assert notices[-1] == f"Reconnected to 127.0.0.1:{proxy.port}.", notices
        assert "Reconnected to" in chat_text  # shown in place of "reconnecting…"


def _done(text: str = "Done.", **kwargs):
    from fake_model_server import openai_reply

    return openai_reply(text, **kwargs)


async def test_the_cost_meter_shows_the_users_limits_on_the_server(tmp_path: Path) -> None:
    with started_service(tmp_path) as service:
        target = ServerTarget(url=service.url, token=service.tokens["carol"], project="web")
        session = await RemoteSession.open(target)
        try:
            status = session.cost_status()
            assert status.day_budget_usd == 0.05  # carol's own limit, not the server's
            assert "of $0.05" in await asyncio.to_thread(session.cost_summary)
            assert session.runs_at == service.url.removeprefix("http://")
            assert not session.workspace_is_local
        finally:
            await session.close()
        # Another user's session cannot be attached to: it is answered as none at all.
        theirs = service.new_session("alice")["id"]
        refused = ServerTarget(url=service.url, token=service.tokens["carol"], attach=theirs)
        try:
            await RemoteSession.open(refused)
        except UserFacingError as exc:
            assert str(exc) == f"No session of yours on the server matches {theirs!r}."
        else:
            raise AssertionError("carol attached to alice's session")


async def test_a_session_closed_elsewhere_ends_here_once_and_names_no_server_folder(
    tmp_path: Path,
) -> None:
    with started_service(tmp_path) as service:
        service.model.enqueue(_done("Hello there."))
        target = ServerTarget(url=service.url, token=service.tokens["alice"], project="web")
        session = await RemoteSession.open(target)
        try:
            events = [event async for event in session.turn("hi")]
            assert any(isinstance(e, TextDelta) for e in events)
            # What the app gets of the session names no folder of the server's.
            conversation = service.get("alice", f"/v1/sessions/{session.session_id}/conversation")
            assert conversation.status_code == 200
            assert str(service.home) not in conversation.text
            assert conversation.json()[0]["workspace"] == "web"
            # Closed from the console: the watcher hears it once and stops (no reconnect loop).
            seen: list = []

            async def watch() -> None:
                async for event in session.watch_workspace():
                    seen.append(event)

            watcher = asyncio.create_task(watch())
            await asyncio.sleep(0.3)
            closed = await asyncio.to_thread(
                service.post, "alice", f"/v1/sessions/{session.session_id}/close"
            )
            assert closed.status_code == 200
            await asyncio.wait_for(watcher, 10)
            texts = [getattr(e, "text", "") for e in seen]
            assert f"Session {session.session_id} was closed on the server." in texts
            assert not any("reconnecting" in t for t in texts), texts
        finally:
            await session.close()


async def test_an_answer_that_does_not_reach_the_server_brings_the_approval_back(
    tmp_path: Path, monkeypatch
) -> None:
    from nanotui.client import remote_session
    from nanotui.client.service_api import ServerUnreachable
    from nanotui.protocol.approval_answer import ApprovalAnswer
    from nanotui.protocol.events import ApprovalRequested, Notice

    with started_service(tmp_path, files=FILES) as service:
        service.model.enqueue(two_file_reply(), _done())
        real_call = remote_session.call
        dropped: list[str] = []

        async def flaky_call(client, method, path, **kwargs):
            if "/approvals/" in path and not dropped:  # the first answer is lost on the way
                dropped.append(path)
                raise ServerUnreachable("The service did not answer: connection reset.")
            return await real_call(client, method, path, **kwargs)

        monkeypatch.setattr(remote_session, "call", flaky_call)
        target = ServerTarget(
            url=service.url, token=service.tokens["alice"], project="web", mode="ask"
        )
        session = await RemoteSession.open(target)
        shown: list[str] = []
        notices: list[str] = []
        try:
            # Bounded: without the defence the turn waits for ever for an answer it never got.
            async with asyncio.timeout(30):
                async for event in session.turn("fix both"):
                    if isinstance(event, Notice):
                        notices.append(event.text)
                    if isinstance(event, ApprovalRequested):
                        shown.append(event.call_id)
                        session.resolve_approval(event, ApprovalAnswer(decision="approve"))
        finally:
            await session.close()
        # The lost answer was said, and its request came back and was answered again.
        assert len(dropped) == 1
        assert any(n.startswith("The answer was not taken") for n in notices), notices
        assert len(shown) == 3 and shown.count(dropped[0].rsplit("/", 1)[1]) == 2
        assert "raise ValueError" in worktree_file(service, session.session_id, "inventory.py")
        assert "Stock report" in worktree_file(service, session.session_id, "report.py")
