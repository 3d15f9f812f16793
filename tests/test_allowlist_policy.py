"""Allowlist-only (`[policy] default = "deny"`): only what a rule allows runs, and a team's
policy kept under test with `nanotui policy test FILE`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanotui import paths
from nanotui.cli.main import main
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import command_policy

ALLOWLIST = '[policy]\ndefault = "deny"\nallow = ["pytest *", "npm run test*"]\nask = ["make *"]\n'

pytestmark = pytest.mark.usefixtures("isolated_home")


def user_config(text: str) -> None:
    paths.user_config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.user_config_file().write_text(text)


def judged(workspace: Path, line: str) -> tuple[str, list[str]]:
    decision = command_policy(load_settings(workspace, environ={}).settings, workspace).decide(line)
    return decision.decision, decision.reasons


def test_only_what_a_rule_or_the_read_only_list_allows_runs(workspace: Path) -> None:
    user_config(ALLOWLIST)
    assert judged(workspace, "pytest -q tests/")[0] == "allow"
    assert judged(workspace, "npm run test:unit")[0] == "allow"
    assert judged(workspace, "ls -la")[0] == "allow"  # the built-in read-only list
    assert judged(workspace, "make build")[0] == "ask"  # an ask rule the user wrote asks
    verdict, reasons = judged(workspace, "npm run build")
    assert verdict == "deny"
    assert reasons == [
        'deny: no rule allows `npm run build` (allowlist-only, policy.default = "deny": only '
        "what an allow rule or the built-in read-only list allows runs)"
    ]
    # What cannot be checked is refused too, not asked about.
    assert judged(workspace, "eval $SCRIPT")[0] == "deny"
    assert judged(workspace, "pytest -q && python setup.py upload")[0] == "deny"


def test_the_read_only_list_can_be_switched_off(workspace: Path) -> None:
    user_config(ALLOWLIST + "read_only_builtin = false\n")
    assert judged(workspace, "ls -la")[0] == "deny"
    user_config("[policy]\nread_only_builtin = false\n")  # with the default "ask"
    assert judged(workspace, "ls -la")[0] == "ask"
    user_config("")
    assert judged(workspace, "ls -la")[0] == "allow" and judged(workspace, "make")[0] == "ask"


def test_a_full_auto_tool_call_outside_the_allowlist_is_refused_without_asking(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user_config(ALLOWLIST)
    marker = workspace / "ran"
    call = ["tool", "run_command", "--mode", "full-auto", "--json", "-w", str(workspace)]
    code = main([*call, "--args", json.dumps({"command": f"touch {marker}"})])
    out = capsys.readouterr().out
    assert code == 4, out  # a policy refusal
    assert not marker.exists()
    assert "allowlist-only" in out


def test_an_untrusted_project_may_turn_allowlist_only_on(workspace: Path) -> None:
    (workspace / ".nanotui").mkdir()
    (workspace / ".nanotui" / "config.toml").write_text('[policy]\ndefault = "deny"\n')
    assert load_settings(workspace, environ={}).settings.policy.default == "deny"
    user_config('[policy]\ndefault = "deny"\n')
    (workspace / ".nanotui" / "config.toml").write_text('[policy]\ndefault = "ask"\n')
    loaded = load_settings(workspace, environ={})
    assert loaded.settings.policy.default == "deny"  # but not off again
    assert any("ignored: policy.default" in notice for notice in loaded.notices)


def test_policy_test_reports_each_example_judged_otherwise(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user_config(ALLOWLIST)
    examples = tmp_path / "policy-examples.txt"
    examples.write_text(
        "# what our CI agent may do\nallow  pytest -q\ndeny   curl https://example.com\n"
        "\nask    make release\nallow  pip install requests\n"
    )
    code = main(["policy", "test", str(examples), "-w", str(workspace)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[:3] == [
        "ok    allow pytest -q",
        "ok    deny  curl https://example.com",
        "ok    ask   make release",
    ]
    assert out[3] == "FAIL  allow pip install requests"
    assert out[4] == "      line 6: expected allow, judged deny:"
    assert out[-1] == "3 of 4 examples judged as expected."
    examples.write_text("allow pytest -q\n")
    assert main(["policy", "test", str(examples), "-w", str(workspace)]) == 0


def test_policy_test_says_in_one_sentence_what_is_wrong_with_the_file(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = tmp_path / "examples.txt"
    examples.write_text("allow pytest\nperhaps rm -rf /\n")
    assert main(["policy", "test", str(examples), "-w", str(workspace)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"nanotui: {examples}, line 2: expected a verdict (allow, ask or deny), then the shell "
        "line, e.g. `deny  git push --force`; got 'perhaps rm -rf /'.\n"
    )
    assert main(["policy", "test", str(tmp_path / "missing.txt"), "-w", str(workspace)]) == 1
    assert "Cannot read" in capsys.readouterr().err
