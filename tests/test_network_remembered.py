"""The third answer to a network question, "always for this project", and what an
organisation's managed settings keep it from.

Real parts: the app and `nanotui run` against the scripted model server, bwrap with its own
network namespace, the proxy, and a loopback site standing in for the named host (the
proxy's connecting step is sent there: the allowlist's decisions are its own).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from network_support import Site
from pilot_support import app_on_server, send, wait_for
from run_support import of_type, run

from nanotui import paths
from nanotui.config_loading import load_settings, setting_origins
from nanotui.config_remembered_hosts import remember_host, remembered_hosts
from nanotui.governance.audit import read_events
from nanotui.protocol.events import NetworkConnection
from nanotui.security.network.proxy import AllowlistProxy
from nanotui.security.sandbox.bwrap import probe_bwrap
from nanotui.tui.policy_listing import policy_listing
from nanotui.tui.widgets.approval_panel import ApprovalPanel

needs_bwrap = pytest.mark.skipif(probe_bwrap() is not None, reason=f"needs bwrap: {probe_bwrap()}")

REACH = (
    'python3 -c "import urllib.request as u; '
    "print(u.urlopen('http://evil.example/hi').read().decode())\""
)
ALLOWLIST = '[sandbox]\nnetwork = "allowlist"\nallowed_domains = ["pypi.org"]\n'


@pytest.fixture(scope="module")
def site() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def names_to_site(site: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name the proxy lets through is connected to the loopback site."""

    async def to_site(self: AllowlistProxy, host: str, port: int):  # type: ignore[no-untyped-def]
        return await asyncio.open_connection("127.0.0.1", site)

    monkeypatch.setattr(AllowlistProxy, "_open", to_site)


def user_config(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text + '[policy]\nallow = ["python3 *"]\n')


@needs_bwrap
@pytest.mark.usefixtures("names_to_site")
async def test_always_for_this_project_lets_the_next_session_reach_the_name_unasked(
    fake_server, home: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user_config(home, ALLOWLIST)
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": REACH})]),
        openai_reply(text="Reached it."),
    )
    app = app_on_server(fake_server, workspace, "s-project", approval={"mode": "full-auto"})
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "reach it")
        panel = app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: panel.request is not None and panel.armed, "the question")
        assert panel.request is not None and panel.request.tool == "network"
        await pilot.press("p")
        await wait_for(pilot, lambda: not app.screen.busy, "the end of the turn")
    assert remembered_hosts(workspace) == ["evil.example"]
    logged = list(read_events(app.session.log_path))
    [allowed] = [e for e in logged if isinstance(e, NetworkConnection)]
    assert allowed.allowed and allowed.reason == "allowed by the user"
    assert any(getattr(e, "decision", "") == "project" for e in logged)

    # A new session of the same project, headless (which refuses every question); `nanotui
    # run` starts its own event loop, so it runs beside this one.
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": REACH})]),
        openai_reply(text="Reached it again."),
    )
    code, events, _ = await asyncio.to_thread(
        run, fake_server, workspace, capsys, "--mode", "full-auto"
    )
    assert code == 0 and not of_type(events, "approval_requested")
    [connection] = of_type(events, "network_connection")
    assert connection["allowed"] and connection["reason"] == "listed"
    [result] = of_type(events, "tool_result")
    assert "hello from evil.example/hi" in result["content"]


def test_policy_lists_each_network_name_with_where_it_comes_from(
    home: Path, workspace: Path
) -> None:
    user_config(home, ALLOWLIST)
    store = remember_host(workspace, "evil.example")
    loaded = load_settings(workspace, environ={})
    assert loaded.settings.sandbox.allowed_domains == ["pypi.org", "evil.example"]
    shown = policy_listing(setting_origins(loaded))
    assert f"  pypi.org  ({home / 'config.toml'})" in shown
    assert f"  evil.example  (remembered for this project ({store}))" in shown
    # Another project does not have it.
    assert load_settings(workspace.parent, environ={}).settings.sandbox.allowed_domains == [
        "pypi.org"
    ]


@needs_bwrap
@pytest.mark.usefixtures("names_to_site")
def test_a_managed_list_refuses_a_remembered_name_without_asking(
    fake_server,
    home: Path,
    workspace: Path,
    managed_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    managed_file.write_text(ALLOWLIST)
    user_config(home, "")
    remember_host(workspace, "evil.example")
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": REACH})]),
        openai_reply(text="It could not."),
    )
    _, events, err = run(fake_server, workspace, capsys, "--mode", "full-auto")
    assert "evil.example, remembered for this project, is not reached: " in err
    assert (
        f"sandbox.allowed_domains does not list it (managed by your organisation, {managed_file})"
        in err
    )
    assert not of_type(events, "approval_requested")  # nobody is asked past the managed list
    [refused] = of_type(events, "network_connection")
    assert not refused["allowed"] and "your organisation's managed settings" in refused["reason"]
    [result] = of_type(events, "tool_result")
    assert "hello" not in result["content"]


def test_a_managed_network_off_refuses_a_remembered_name_with_a_notice(
    home: Path, workspace: Path, managed_file: Path
) -> None:
    managed_file.write_text('[sandbox]\nnetwork = "none"\n')
    user_config(home, ALLOWLIST)
    remember_host(workspace, "evil.example")
    loaded = load_settings(workspace, environ={})
    assert loaded.settings.sandbox.network == "none"
    assert "evil.example" not in loaded.settings.sandbox.allowed_domains
    assert any('is not reached: sandbox.network is "none"' in n for n in loaded.notices)


def test_an_unreadable_store_remembers_nothing(home: Path, workspace: Path) -> None:
    paths.remembered_hosts_file().write_text("projects = [not toml")
    assert remembered_hosts(workspace) == []
    remember_host(workspace, "evil.example")  # written afresh
    assert remembered_hosts(workspace) == ["evil.example"]
