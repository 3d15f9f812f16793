"""`nanotui acp` driven by a scripted editor over real pipes, with the scripted model server.

One agent process serves the whole module (a session per test), in a real git repository:
approvals go to the editor as permission requests carrying the diff; only the option the
editor picked approves anything, and every other answer is a refusal the model hears.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from acp import RequestError, text_block
from acp_support import (
    WAIT_S,
    ScriptedEditor,
    agent_environment,
    message_text,
    running_agent,
    tool_updates,
)
from fake_model_server import FakeModelServer, endless_reply, openai_reply
from mcp_support import server_toml

pytestmark = pytest.mark.asyncio(loop_scope="module")

FOO = "def foo():\n    return 1\n"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's folder: NANOTUI_HOME in home/, the repository in repo/."""
    root = tmp_path_factory.mktemp("acp")
    (root / "home").mkdir()
    repo = root / "repo"
    repo.mkdir()
    (repo / "foo.py").write_text(FOO)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=repo, check=True)
    return root


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent(model: FakeModelServer, place: Path) -> AsyncIterator[tuple[Any, ScriptedEditor]]:
    """The connection to one `nanotui acp` process, initialized, and the editor behind it."""
    editor = ScriptedEditor()
    async with running_agent(
        place / "home", place / "repo", model.openai_base_url, editor, place / "stderr.txt"
    ) as (connection, _process):
        hello = await asyncio.wait_for(connection.initialize(protocol_version=1), WAIT_S)
        assert hello.protocol_version == 1
        assert hello.agent_info is not None and hello.agent_info.name == "nanotui"
        yield connection, editor


async def new_session(connection: Any, place: Path) -> str:
    opened = await asyncio.wait_for(connection.new_session(cwd=str(place / "repo")), WAIT_S)
    assert opened.modes.current_mode_id == "ask"  # the configured mode: changes are asked
    return opened.session_id


async def prompt(connection: Any, session: str, text: str) -> str:
    done = await asyncio.wait_for(
        connection.prompt(session_id=session, prompt=[text_block(text)]), WAIT_S
    )
    return done.stop_reason


def tool_results(request: Any) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] == "tool"]


async def test_a_rejected_write_writes_nothing_and_the_model_hears_it(agent, model, place) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    editor.take_updates()
    write = ("write_file", {"path": "notes.txt", "content": "hello\n"}, "call_w1")
    model.enqueue(openai_reply(tool_calls=[write]), openai_reply(text="Understood, no notes."))
    editor.answers.append("reject")
    seen = len(model.requests)

    stop = await prompt(connection, session, "write some notes")

    assert stop == "end_turn"
    assert not (place / "repo" / "notes.txt").exists()
    # The request carried the change whole, for the editor's diff view, and three options.
    tool_call, options = editor.permission_requests[-1]
    (diff,) = [c for c in tool_call.content if c.type == "diff"]
    assert diff.path == str(place / "repo" / "notes.txt")
    assert (diff.old_text, diff.new_text) == (None, "hello\n")
    assert [o.kind for o in options] == ["allow_once", "allow_always", "reject_once"]
    updates = editor.take_updates()
    call = tool_updates(updates, "call_w1")
    assert call[0].session_update == "tool_call" and call[0].kind == "edit"
    assert call[0].status == "pending"
    assert call[-1].status == "failed"
    assert message_text(updates) == "Understood, no notes."
    (answered,) = [tool_results(r) for r in model.requests[seen + 1 :]]
    assert answered == ["The user rejected this change."]


async def test_an_approved_edit_lands_and_always_allows_the_next_one(agent, model, place) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    editor.take_updates()
    first = ("edit_file", {"path": "foo.py", "old_string": "1", "new_string": "2"}, "call_e1")
    second = ("edit_file", {"path": "foo.py", "old_string": "2", "new_string": "3"}, "call_e2")
    model.enqueue(
        openai_reply(tool_calls=[first]),
        openai_reply(tool_calls=[second]),
        openai_reply(text="foo returns 3."),
    )
    editor.answers.append("always")
    asked = len(editor.permission_requests)

    stop = await prompt(connection, session, "make foo return 3")

    assert stop == "end_turn"
    assert (place / "repo" / "foo.py").read_text() == "def foo():\n    return 3\n"
    # `always` allowed changes to foo.py for the session: the second edit was not asked.
    assert len(editor.permission_requests) == asked + 1
    updates = editor.take_updates()
    statuses = [u.status for u in tool_updates(updates, "call_e1")]
    assert statuses[0] == "pending" and statuses[-2:] == ["in_progress", "completed"]
    (done,) = [u for u in tool_updates(updates, "call_e2") if u.status == "completed"]
    (diff,) = [c for c in done.content if c.type == "diff"]
    assert diff.old_text == "def foo():\n    return 2\n"
    assert diff.new_text == "def foo():\n    return 3\n"
    subprocess.run(["git", "checkout", "-q", "foo.py"], cwd=place / "repo", check=True)


@pytest.mark.parametrize(
    ("answer", "told"),
    [
        ("error", "the editor answered the permission request with an error"),
        ("cancelled", "the editor cancelled the permission request"),
        ("allow-everything", "an option nanotui did not offer ('allow-everything')"),
    ],
)
async def test_an_editor_that_gives_no_usable_answer_is_refused(
    agent, model, place, answer: str, told: str
) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    write = ("write_file", {"path": "foo.py", "content": "owned\n"}, "call_x1")
    model.enqueue(openai_reply(tool_calls=[write]), openai_reply(text="It was refused."))
    editor.answers.append(answer)
    seen = len(model.requests)

    assert await prompt(connection, session, "overwrite foo") == "end_turn"

    assert (place / "repo" / "foo.py").read_text() == FOO
    (answered,) = [tool_results(r) for r in model.requests[seen + 1 :]]
    assert answered[0].startswith("Refused: ") and told in answered[0]
    log = session_log(place, session)
    (resolved,) = [r for r in log if r.get("type") == "approval_resolved"]
    assert (resolved["decision"], resolved["by"]) == ("reject", "editor")


async def test_the_session_log_verifies_and_holds_the_editors_answers(agent, model, place) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    # A token in the change: the log keeps it redacted, the approval shows it as written.
    content = f"token = ghp_{'a' * 36}\n"
    write = ("write_file", {"path": "a.txt", "content": content}, "call_l1")
    model.enqueue(openai_reply(tool_calls=[write]), openai_reply(text="Written."))
    editor.answers.append("approve")

    assert await prompt(connection, session, "write a") == "end_turn"

    assert (place / "repo" / "a.txt").read_text() == content
    tool_call, _ = editor.permission_requests[-1]
    assert [c.new_text for c in tool_call.content if c.type == "diff"] == [content]
    log = session_log(place, session)
    (resolved,) = [r for r in log if r.get("type") == "approval_resolved"]
    assert (resolved["decision"], resolved["by"]) == ("approve", "user")
    assert [r["status"] for r in log if r.get("type") == "result"] == ["done"]
    assert content.strip() not in json.dumps(log)
    verify = subprocess.run(
        [sys.executable, "-m", "nanotui.cli.main", "audit", "verify", session],
        env=agent_environment(place / "home"),
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_a_change_shown_once_written_has_the_files_secrets_redacted(
    agent, model, place
) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    await asyncio.wait_for(
        connection.set_session_mode(session_id=session, mode_id="auto-edit"), WAIT_S
    )
    token = f"ghp_{'b' * 36}"
    settings = place / "repo" / "settings.py"
    # The token far enough from the change to be out of its diff, but in the file's text.
    settings.write_text(f'TOKEN = "{token}"\n' + "#\n" * 5 + "DEBUG = False\n")
    edit = ("edit_file", {"path": "settings.py", "old_string": "False", "new_string": "True"})
    create = ("write_file", {"path": "new.txt", "content": f"token {token}\n"})
    model.enqueue(
        openai_reply(tool_calls=[(*edit, "call_s1"), (*create, "call_s2")]),
        openai_reply(text="Done."),
    )
    editor.take_updates()
    try:
        assert await prompt(connection, session, "turn debugging on") == "end_turn"

        assert settings.read_text().endswith("DEBUG = True\n")  # written as asked
        updates = editor.take_updates()
        for call in ("call_s1", "call_s2"):
            (done,) = [u for u in tool_updates(updates, call) if u.status == "completed"]
            (diff,) = [c for c in done.content if c.type == "diff"]
            assert "[REDACTED:github_token]" in diff.new_text
            assert token not in done.model_dump_json()
    finally:
        settings.unlink()
        (place / "repo" / "new.txt").unlink(missing_ok=True)


async def test_a_secret_streamed_in_pieces_reaches_the_editor_redacted(agent, model, place) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    token = f"ghp_{'c' * 36}"
    # Four characters a piece, as models stream: no one piece holds the token.
    model.enqueue(openai_reply(text=f"Use {token} to push.\nThen pull.", chunk_size=4))
    editor.take_updates()

    assert await prompt(connection, session, "how do I push?") == "end_turn"

    said = message_text(editor.take_updates())
    assert said == "Use [REDACTED:github_token] to push.\nThen pull."


async def test_cancel_during_a_slow_stream_ends_the_turn_cancelled(agent, model, place) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    model.enqueue(endless_reply(piece="tick ", interval_s=0.05, max_s=WAIT_S))
    editor.chunk_arrived.clear()
    running = asyncio.ensure_future(prompt(connection, session, "count for ever"))
    try:
        await asyncio.wait_for(editor.chunk_arrived.wait(), WAIT_S)
        await connection.cancel(session_id=session)
        assert await asyncio.wait_for(running, WAIT_S) == "cancelled"
    finally:
        running.cancel()
    assert model.requests[-1].client_gone.wait(WAIT_S)  # the model's stream was closed
    assert "tick" in message_text(editor.take_updates())


async def test_the_editor_switches_the_approval_mode(agent, model, place) -> None:
    connection, editor = agent
    session = await new_session(connection, place)
    await asyncio.wait_for(
        connection.set_session_mode(session_id=session, mode_id="auto-edit"), WAIT_S
    )
    write = ("write_file", {"path": "auto.txt", "content": "auto\n"}, "call_m1")
    model.enqueue(openai_reply(tool_calls=[write]), openai_reply(text="Done."))
    asked = len(editor.permission_requests)

    assert await prompt(connection, session, "write auto") == "end_turn"

    assert (place / "repo" / "auto.txt").read_text() == "auto\n"
    assert len(editor.permission_requests) == asked  # auto-edit: changes apply unasked
    with pytest.raises(RequestError, match="There is no mode 'yolo'"):
        await asyncio.wait_for(
            connection.set_session_mode(session_id=session, mode_id="yolo"), WAIT_S
        )


async def test_a_logged_session_is_loaded_told_again_and_goes_on(model, place) -> None:
    # Its own agents: one that runs a turn and ends, then one that loads the session.
    editor = ScriptedEditor()
    async with running_agent(
        place / "home", place / "repo", model.openai_base_url, editor, place / "first.txt"
    ) as (connection, _):
        await asyncio.wait_for(connection.initialize(protocol_version=1), WAIT_S)
        session = await new_session(connection, place)
        read = ("read_file", {"path": "foo.py"}, "call_r1")
        model.enqueue(openai_reply(tool_calls=[read]), openai_reply(text="foo returns 1."))
        assert await prompt(connection, session, "what does foo return?") == "end_turn"
    editor = ScriptedEditor()
    async with running_agent(
        place / "home", place / "repo", model.openai_base_url, editor, place / "second.txt"
    ) as (connection, _):
        hello = await asyncio.wait_for(connection.initialize(protocol_version=1), WAIT_S)
        assert hello.agent_capabilities.load_session
        await asyncio.wait_for(
            connection.load_session(cwd=str(place / "repo"), session_id=session), WAIT_S
        )
        told = editor.take_updates()
        kinds = [u.session_update for u in told]
        assert kinds == [
            "user_message_chunk",
            "tool_call",
            "tool_call_update",
            "agent_message_chunk",
        ]
        assert told[0].content.text == "what does foo return?"
        assert [u.status for u in tool_updates(told, "call_r1")] == ["pending", "completed"]
        model.enqueue(openai_reply(text="Still 1."))

        assert await prompt(connection, session, "and now?") == "end_turn"

        said = [m.get("content") for m in model.requests[-1].body["messages"]]
        assert "what does foo return?" in said and "foo returns 1." in said
        with pytest.raises(RequestError, match="There is no logged session"):
            await asyncio.wait_for(
                connection.load_session(cwd=str(place / "repo"), session_id="../../x"), WAIT_S
            )


async def test_what_the_user_can_fix_comes_back_as_one_sentence(agent, place) -> None:
    connection, _ = agent
    with pytest.raises(RequestError) as missing:
        await asyncio.wait_for(connection.new_session(cwd=str(place / "nowhere")), WAIT_S)
    assert "is not one; open a folder in the editor first." in str(missing.value)
    # The agent runs in the repository: a relative name must not open it, nor a folder in it.
    for relative in (".", "repo", "~"):
        with pytest.raises(RequestError, match="is not an absolute path"):
            await asyncio.wait_for(connection.new_session(cwd=relative), WAIT_S)
    with pytest.raises(RequestError) as unknown:
        await prompt(connection, "no-such-session", "hello")
    assert "There is no session no-such-session" in str(unknown.value)


def session_log(place: Path, session: str) -> list[dict[str, Any]]:
    (path,) = (place / "home").rglob(f"{session}.jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [{**record["payload"], "type": record["type"]} for record in records]


async def test_an_mcp_calls_permission_request_shows_its_json_arguments(
    agent, model, place
) -> None:
    # Settings are read per session: this one's user config names the test MCP server.
    config = place / "home" / "config.toml"
    config.write_text(server_toml())
    deleted = place / "repo" / "deleted.txt"
    connection, editor = agent
    try:
        session = await new_session(connection, place)
        arguments = {"why": "tidy", "depth": 2}
        for answer, call_id in (("reject", "call_m1"), ("approve", "call_m2")):
            call = ("mcp__t__delete_everything", arguments, call_id)
            model.enqueue(openai_reply(tool_calls=[call]), openai_reply(text="Asked."))
            editor.answers.append(answer)
            assert await prompt(connection, session, "tidy up") == "end_turn"

            tool_call, options = editor.permission_requests[-1]
            shown = [c.content.text for c in tool_call.content if c.type == "content"]
            assert json.dumps(arguments, indent=2, sort_keys=True) in shown
            assert options[0].name == "Call mcp__t__delete_everything"
            # Rejected: the server ran nothing. Approved: it ran, in the sandbox.
            assert deleted.exists() == (answer == "approve")
    finally:
        config.unlink()
        deleted.unlink(missing_ok=True)
        (place / "repo" / "listings.count").unlink(missing_ok=True)


async def test_an_untrusted_folders_ignored_settings_are_told_in_the_first_reply(
    agent, model, place
) -> None:
    """The editor shows stderr to nobody: what the settings had to say opens the reply."""
    connection, editor = agent
    folder = place / "untrusted"
    (folder / ".nanotui").mkdir(parents=True)
    (folder / ".nanotui" / "config.toml").write_text('[approval]\nmode = "full-auto"\n')
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    opened = await asyncio.wait_for(connection.new_session(cwd=str(folder)), WAIT_S)
    assert opened.modes.current_mode_id == "ask"  # the folder's full-auto was not taken
    model.enqueue(openai_reply(text="Hello."))
    editor.take_updates()

    assert await prompt(connection, opened.session_id, "hi") == "end_turn"
    said = message_text(editor.take_updates())
    assert said.startswith("\n\n> nanotui: This folder is not trusted") and "approval" in said
    assert said.endswith("Hello.")
    model.enqueue(openai_reply(text="Again."))
    assert await prompt(connection, opened.session_id, "hi") == "end_turn"
    assert message_text(editor.take_updates()) == "Again."  # told once


async def test_two_files_in_one_reply_are_asked_about_each_with_its_whole_texts(
    agent, model, place
) -> None:
    """One reply, two files: a new one, and a many-hunk change with a very long line to one
    that exists. Each is put to the editor with its own whole old and new text; one is
    approved and lands exactly, the other is rejected and its file is left as it was."""
    connection, editor = agent
    session = await new_session(connection, place)
    repo = place / "repo"
    old = "".join(f"line {n}\n" for n in range(40))
    long_line = "x = [" + ", ".join(str(n) for n in range(1500)) + "]\n"
    new = "".join(long_line if n % 13 == 0 else f"line {n}\n" for n in range(40))
    (repo / "many.txt").write_text(old)
    writes = [
        ("write_file", {"path": "fresh.txt", "content": "fresh\n"}, "call_m1"),
        ("write_file", {"path": "many.txt", "content": new}, "call_m2"),
    ]
    model.enqueue(openai_reply(tool_calls=writes), openai_reply(text="One of two."))
    editor.answers.extend(["approve", "reject"])
    asked = len(editor.permission_requests)
    try:
        assert await prompt(connection, session, "write both") == "end_turn"

        assert (repo / "fresh.txt").read_text() == "fresh\n"
        assert (repo / "many.txt").read_text() == old
        shown = {}
        for tool_call, _ in editor.permission_requests[asked:]:
            (diff,) = [c for c in tool_call.content if c.type == "diff"]
            shown[Path(diff.path).name] = (diff.old_text, diff.new_text)
        assert shown == {"fresh.txt": (None, "fresh\n"), "many.txt": (old, new)}
        updates = editor.take_updates()
        assert tool_updates(updates, "call_m1")[-1].status == "completed"
        assert tool_updates(updates, "call_m2")[-1].status == "failed"
    finally:
        for name in ("fresh.txt", "many.txt"):
            (repo / name).unlink(missing_ok=True)
