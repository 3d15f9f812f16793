"""An organisation's managed settings: read first, and no layer below can loosen them.

The managed file's fixed place (`/etc/nanotui/managed.toml`) is pointed at the test's own
folder through `paths.MANAGED_CONFIG_FILE`, a constant only code in the same process can
change (conftest.py points it at an empty folder for every other test).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from pilot_support import main_screen, send, wait_for

from nanotui import paths
from nanotui.cli.doctor import run_doctor
from nanotui.cli.main import main
from nanotui.config_loading import load_settings
from nanotui.protocol.basics import ConfigError
from nanotui.tui.launch import LaunchApp
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.status_bar import StatusBar

MANAGED = """\
[approval]
mode = "auto-edit"

[policy]
deny = ["make deploy *"]
allow = ["pytest *"]

[sandbox]
network = false
require = true

[budget]
session_usd = 2.0

[sessions]
retention_days = 90
"""

pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture
def managed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "etc" / "nanotui" / "managed.toml"
    path.parent.mkdir(parents=True)
    path.write_text(MANAGED)
    monkeypatch.setattr(paths, "MANAGED_CONFIG_FILE", path)
    return path


def write_user_config(text: str) -> Path:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_layer_may_tighten_but_none_may_loosen(managed: Path, workspace: Path) -> None:
    user_file = write_user_config(
        # Looser mode, a tighter budget, the deny list replaced, the sandbox made optional,
        # one more allow rule.
        '[approval]\nmode = "full-auto"\n[budget]\nsession_usd = 1.0\n'
        '[policy]\ndeny = []\nallow = ["pytest *", "make *"]\n[sandbox]\nrequire = false\n'
    )
    (workspace / ".nanotui").mkdir()
    (workspace / ".nanotui" / "config.toml").write_text("[sandbox]\nnetwork = true\n")
    loaded = load_settings(
        workspace,
        {"sessions": {"retention_days": 1}},
        trusted=True,  # even a trusted project cannot open the network
        environ={"NANOTUI_BUDGET__DAY_USD": "500"},
    )
    settings = loaded.settings
    assert settings.approval.mode == "auto-edit" and settings.approval.max_mode == "auto-edit"
    assert settings.budget.session_usd == 1.0  # the user's stricter value stands
    assert loaded.sources["budget.session_usd"] == str(user_file)
    assert "make deploy *" in settings.policy.deny  # kept though the user emptied the list
    assert settings.policy.allow == ["pytest *"]
    assert settings.sandbox.network == "none" and settings.sandbox.require is True
    assert settings.sessions.retention_days == 90  # no order: fixed
    assert settings.budget.day_usd == 500  # not managed: the environment may raise it
    for name in ("approval.mode", "sandbox.require", "policy.allow", "sandbox.network"):
        assert loaded.sources[name] == f"managed ({managed})"
    said = "\n".join(loaded.conflicts)
    assert f"approval.mode is managed by your organisation ({managed}); {user_file} asked " in said
    assert "sandbox.network is managed" in said and "config.toml asked for 'full'" in said
    assert "sessions.retention_days is managed" in said and "the command line asked" in said
    assert "budget.session_usd" not in said  # tightening is no conflict
    assert set(loaded.conflicts) <= set(loaded.notices)


def test_the_managed_mode_is_a_ceiling_the_command_line_cannot_lift(managed: Path) -> None:
    loaded = load_settings(None, {"approval": {"mode": "full-auto"}}, environ={})
    assert loaded.settings.approval.mode == "auto-edit"
    assert any("the command line asked for 'full-auto'" in c for c in loaded.conflicts)
    # A stricter mode is the user's to choose.
    stricter = load_settings(None, {"approval": {"mode": "plan"}}, environ={})
    assert stricter.settings.approval.mode == "plan" and not stricter.conflicts


def test_providers_and_endpoints_outside_the_managed_list_stop_the_start(
    managed: Path,
) -> None:
    managed.write_text(
        '[managed]\nproviders = ["openai-compatible"]\nbase_urls = ["http://llm.internal:8000/v1"]\n'
    )
    with pytest.raises(ConfigError, match=r"allows only the providers openai-compatible \("):
        load_settings(None, {"provider": {"kind": "anthropic", "model": "m"}}, environ={})
    elsewhere = {"provider": {"base_url": "https://api.openai.com/v1", "model": "m"}}
    with pytest.raises(ConfigError, match=r"not https://api\.openai\.com/v1; set --base-url"):
        load_settings(None, elsewhere, environ={})
    # The default endpoint (Ollama on this machine) is not listed either.
    with pytest.raises(ConfigError, match=r"not http://localhost:11434/v1"):
        load_settings(None, {}, environ={})
    listed = {"provider": {"base_url": "http://llm.internal:8000/v1/", "model": "m"}}
    assert load_settings(None, listed, environ={}).settings.provider.model == "m"
    assert load_settings(None, {"provider": {"kind": "demo"}}, environ={})  # sends nothing


def test_only_the_managed_file_may_hold_a_managed_section(managed: Path) -> None:
    user_file = write_user_config('[managed]\nproviders = ["anthropic"]\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ={})
    assert str(raised.value) == (
        f"In {user_file}, `[managed]` is not allowed: it belongs in the organisation's "
        f"managed file ({managed}); remove it."
    )


def test_policy_explain_names_the_layer_of_each_deciding_rule(
    managed: Path, workspace: Path
) -> None:
    write_user_config('[policy]\nask = ["make *"]\n')
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            ["policy", "explain", "make deploy prod && make test && curl x", "-w", str(workspace)]
        )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "deny"
    assert f"  policy.deny `make deploy *` comes from managed ({managed})" in lines
    assert f"  policy.ask `make *` comes from {paths.user_config_file()}" in lines
    assert "  policy.deny `curl *` comes from defaults" in lines


def test_doctor_reports_the_managed_file_and_each_conflict(
    managed: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_user_config('[approval]\nmode = "full-auto"\n')
    run_doctor(workspace, {"provider": {"kind": "demo"}})
    shown = capsys.readouterr().out
    assert f"managed          {managed} (read)" in shown
    assert "managed          approval.mode is managed by your organisation" in shown
    assert f'setting          approval.mode = "auto-edit" (from managed ({managed}))' in shown


async def test_the_app_marks_managed_settings_lists_them_and_keeps_the_mode_ceiling(
    managed: Path, workspace: Path
) -> None:
    app = LaunchApp(workspace, flags={"provider": {"kind": "demo"}}, workspace_explicit=False)
    async with app.run_test(size=(120, 40)) as pilot:
        status = (await main_screen(pilot)).query_one(StatusBar)
        await wait_for(pilot, lambda: status.managed, "the managed mark")
        assert status.query_one("#status-managed").display
        await send(pilot, "/mode full-auto")
        await wait_for(pilot, lambda: app._notifications, "the refusal")
        told = [n.message for n in app._notifications]
        assert any("This session allows at most auto-edit mode" in m for m in told), told
        assert app.session.mode == "auto-edit" and status.mode == "auto-edit"
        # shift+tab goes round the modes the session allows: past auto-edit comes plan.
        await pilot.press("shift+tab")
        await wait_for(pilot, lambda: app.session.mode == "plan", "plan mode")
        await send(pilot, "/policy")

        def listing() -> str:
            return "\n".join(str(line.render()) for line in app.screen.query(NoticeLine))

        await wait_for(pilot, lambda: "Command rules" in listing(), "the /policy listing")
        shown = listing()
        assert "managed by your organisation" in shown
        assert f'approval.mode = "auto-edit"  (managed ({managed}))' in shown
        assert f"deny  `make deploy *`  (managed ({managed}))" in shown
        assert "deny  `curl *`  (defaults)" in shown
        await pilot.press("ctrl+q")


async def test_without_a_managed_file_nothing_is_marked(workspace: Path) -> None:
    app = LaunchApp(workspace, flags={"provider": {"kind": "demo"}}, workspace_explicit=False)
    async with app.run_test(size=(120, 40)) as pilot:
        status = (await main_screen(pilot)).query_one(StatusBar)
        await send(pilot, "/mode full-auto")
        await wait_for(pilot, lambda: app.session.mode == "full-auto", "full-auto mode")
        assert not status.managed and not status.query_one("#status-managed").display
        await pilot.press("ctrl+q")


def test_a_managed_network_allowlist_may_shrink_but_never_grow(managed: Path) -> None:
    managed.write_text(
        '[sandbox]\nnetwork = "allowlist"\nallowed_domains = ["pypi.org", "github.com"]\n'
    )
    write_user_config('[sandbox]\nnetwork = true\nallowed_domains = ["pypi.org", "evil.example"]\n')
    loaded = load_settings(None, environ={})
    assert loaded.settings.sandbox.network == "allowlist"
    assert loaded.settings.sandbox.allowed_domains == ["pypi.org"]
    assert len(loaded.conflicts) == 2
    write_user_config('[sandbox]\nnetwork = "none"\n')
    assert load_settings(None, environ={}).settings.sandbox.network == "none"
