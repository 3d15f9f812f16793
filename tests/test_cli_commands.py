"""The smaller sub-commands: tool, policy check, sandbox run, sessions/audit, doctor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer

from nanotui.cli.main import main
from nanotui.config import Settings
from nanotui.security.sandbox.cgroup import limit_scopes
from nanotui.security.sandbox.choose import make_runner


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    for name in ("NANOTUI_PROVIDER", "NANOTUI_MODEL", "NANOTUI_BASE_URL", "NANOTUI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\n")
    (ws / ".env").write_text("TOKEN=secret\n")
    return ws


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tool_reads_a_file(ws: Path, capsys) -> None:
    code, out, _ = call(
        capsys, "tool", "read_file", "--args", '{"path": "a.py"}', "--json", "--workspace", str(ws)
    )
    assert code == 0
    result = json.loads(out)
    assert result["ok"] is True and "x = 1" in result["content"]


def test_tool_refuses_what_would_need_approval(ws: Path, capsys) -> None:
    args = '{"path": "a.py", "old_string": "x = 1", "new_string": "x = 2"}'
    code, out, _ = call(capsys, "tool", "edit_file", "--args", args, "--json", "-w", str(ws))
    assert code == 2
    assert "needs approval in ask mode" in json.loads(out)["error"]
    assert (ws / "a.py").read_text() == "x = 1\n"
    code, out, _ = call(
        capsys, "tool", "edit_file", "--args", args, "--mode", "auto-edit", "-w", str(ws)
    )
    assert code == 0 and (ws / "a.py").read_text() == "x = 2\n"


def test_tool_policy_and_jail_refusals_exit_4(ws: Path, capsys) -> None:
    code, out, _ = call(
        capsys,
        "tool",
        "run_command",
        "--args",
        '{"command": "curl http://x"}',
        "--json",
        "--mode",
        "full-auto",
        "-w",
        str(ws),
    )
    assert code == 4 and "curl" in json.loads(out)["error"]
    code, out, _ = call(
        capsys,
        "tool",
        "write_file",
        "--args",
        '{"path": ".env", "content": "x"}',
        "--json",
        "--mode",
        "full-auto",
        "-w",
        str(ws),
    )
    assert code == 4 and (ws / ".env").read_text() == "TOKEN=secret\n"
    code, out, _ = call(
        capsys, "tool", "read_file", "--args", '{"path": "../outside"}', "--json", "-w", str(ws)
    )
    assert code == 1 and json.loads(out)["ok"] is False


def test_tool_with_bad_json_arguments_says_so(ws: Path, capsys) -> None:
    code, out, _ = call(capsys, "tool", "read_file", "--args", "{nope", "--json", "-w", str(ws))
    assert code == 1 and "not valid JSON" in json.loads(out)["error"]
    code, _, err = call(capsys, "tool", "no_such_tool", "-w", str(ws))
    assert code == 1 and "no tool named" in err and "Traceback" not in err


def test_policy_check_json(ws: Path, capsys) -> None:
    code, out, _ = call(capsys, "policy", "check", "--json", "ls -la && git push origin main")
    assert code == 0
    verdict = json.loads(out)
    assert verdict["decision"] == "deny"
    assert verdict["commands"] == ["ls -la", "git push origin main"]
    assert len(verdict["reasons"]) == 2


def test_sandbox_run_json(ws: Path, capsys) -> None:
    code, out, _ = call(
        capsys, "sandbox", "run", "--json", "-w", str(ws), "--", "sh", "-c", "echo hi; exit 3"
    )
    result = json.loads(out)
    assert code == 3
    assert result == {
        "exit_code": 3,
        "stdout": "hi\n",
        "stderr": "",
        "timed_out": False,
        "truncated": False,
        "stopped": None,
        "backend": make_runner(Settings().sandbox, ws).backend,
        "limits_apply_to": limit_scopes(),
    }


def test_sessions_and_audit_after_a_demo_run(ws: Path, capsys) -> None:
    code, out, _ = call(capsys, "run", "--demo", "--mode", "plan", "--json", "look around")
    assert code == 0
    session = json.loads(out.splitlines()[-1])["session"]
    code, out, _ = call(capsys, "sessions", "list", "--json")
    [row] = json.loads(out)
    assert row["session"] == session and row["prompt"] == "look around"
    assert row["model"] == "offline demo"
    code, out, _ = call(capsys, "audit", "show", session[:17])
    assert code == 0
    assert "session_started" in out and "turn_finished" in out and "text_delta" not in out
    code, _, err = call(capsys, "audit", "show", "nope")
    assert code == 1 and "No session matches" in err


def test_bad_config_is_one_sentence_not_a_traceback(ws: Path, capsys, tmp_path: Path) -> None:
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "config.toml").write_text("[sandbox]\ntimeout_s = -1\n")
    code, _, err = call(capsys, "policy", "check", "ls")
    assert code == 1
    assert err.startswith("nanotui: In ") and "sandbox.timeout_s" in err
    assert "Traceback" not in err


def test_run_without_a_model_says_what_to_set(ws: Path, capsys) -> None:
    code, _, err = call(capsys, "run", "hello", "-w", str(ws))
    assert code == 1 and "No model is configured" in err


def test_doctor_probes_the_endpoint(ws: Path, capsys) -> None:
    with FakeModelServer() as server:
        stopped_url = server.openai_base_url
        code, out, _ = call(
            capsys,
            "doctor",
            "-w",
            str(ws),
            "--base-url",
            server.openai_base_url,
            "--model",
            "test-model",
        )
        assert code == 0, out
        assert "answered" in out
        server.required_key = "right"
        code, out, _ = call(
            capsys,
            "doctor",
            "-w",
            str(ws),
            "--base-url",
            server.openai_base_url,
            "--model",
            "test-model",
        )
        assert code == 1 and "refused the API key" in out
    code, out, _ = call(capsys, "doctor", "-w", str(ws), "--base-url", stopped_url, "--model", "m")
    assert code == 1 and "cannot reach" in out


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
def test_doctor_finds_no_problem_with_a_sandbox_that_starts(ws: Path, capsys, backend: str) -> None:
    from nanotui.security.sandbox import landlock_exec
    from nanotui.security.sandbox.choose import probe_backends

    if probe_backends()[backend]:
        pytest.skip(f"{backend} does not start here")
    (ws.parent / "home").mkdir(exist_ok=True)
    (ws.parent / "home" / "config.toml").write_text(f'[sandbox]\nbackend = "{backend}"\n')
    with FakeModelServer() as server:
        code, out, _ = call(
            capsys, "doctor", "-w", str(ws), "--base-url", server.openai_base_url, "--model", "m"
        )
    assert code == 0 and f"{backend} will run commands" in out, out
    landlock_inside = backend == "bwrap" and landlock_exec.abi_version() >= 1
    assert ("bwrap launcher" in out) == landlock_inside


def test_without_a_model_a_server_with_one_model_is_used(ws: Path, capsys) -> None:
    from fake_model_server import openai_reply

    with FakeModelServer() as server:
        server.enqueue(openai_reply("Hi."))
        code, _, _ = call(
            capsys, "run", "hi", "--json", "-w", str(ws), "--base-url", server.openai_base_url
        )
        assert code == 0
        assert server.requests[0].body["model"] == "test-model"
        server.models = ["a", "b"]
        code, _, err = call(
            capsys, "run", "hi", "-w", str(ws), "--base-url", server.openai_base_url
        )
        assert code == 1 and "serves: a, b" in err


def test_usage_errors_exit_1_not_2(ws: Path, capsys) -> None:
    for argv in (["run", "x", "--mode", "bogus"], ["run", "x", "--max-turns", "abc"], ["run"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 1
        assert "see --help" in capsys.readouterr().err


def test_damaged_state_gives_a_sentence(ws: Path, capsys, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    (home / "sessions").mkdir(parents=True)
    (home / "sessions" / "20260101-000000-bad.jsonl").write_text(
        '{"seq": 1, "no_type": true}\n{"seq": 2, "type": "martian", "payload": {}}\n'
    )
    (home / "trusted.toml").write_bytes(b"\xff\xfe")
    code, out, _ = call(capsys, "sessions", "list", "--json")
    assert code == 0 and json.loads(out)[0]["session"] == "20260101-000000-bad"
    code, out, _ = call(capsys, "audit", "show", "20260101")
    assert code == 0 and "martian" in out
    code, _, _ = call(capsys, "policy", "check", "ls")
    assert code == 0
    monkeypatch.setenv("NANOTUI_HOME", str(ws / "a.py"))  # a file, not a folder
    code, _, err = call(capsys, "run", "--demo", "hi")
    assert code == 1 and "Not a directory" in err and "Traceback" not in err


def test_doctor_says_where_each_setting_came_from(ws: Path, capsys, monkeypatch) -> None:
    home = Path(str(ws.parent / "home"))
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text('[sandbox]\ntimeout_s = 30\n[policy]\ndeny = ["make *"]\n')
    (ws / ".nanotui").mkdir()
    (ws / ".nanotui" / "config.toml").write_text('[policy]\ndeny = ["npm *"]\n')
    monkeypatch.setenv("NANOTUI_MODEL", "from-env")
    code, out, _ = call(capsys, "--mode", "plan", "doctor", "--demo", "-w", str(ws))
    assert code == 0, out
    settings = {line.split()[2]: line for line in out.splitlines() if " setting " in line}
    assert "(from the command line)" in settings["approval.mode"]
    assert '"from-env" (from the environment)' in settings["provider.model"]
    assert str(home / "config.toml") in settings["sandbox.timeout_s"]
    # Lists that add up name every layer they came from.
    deny = settings["policy.deny"]
    assert "make *" in deny and "npm *" in deny
    assert "config.toml + " in deny and ".nanotui" in deny
    assert "not trusted" in out


def test_options_are_never_abbreviated(ws: Path, capsys) -> None:
    # `--mode` must not be taken for `--model` where a sub-command has only the latter.
    with pytest.raises(SystemExit) as stopped:
        main(["doctor", "--mode", "plan", "-w", str(ws)])
    assert stopped.value.code == 1
    assert "unrecognized arguments: --mode plan" in capsys.readouterr().err


def test_doctor_lists_the_sandboxes_and_the_one_in_use(ws: Path, capsys) -> None:
    from nanotui.security.sandbox.choose import probe_backends

    code, out, _ = call(capsys, "doctor", "--demo", "-w", str(ws))
    for backend, why_not in probe_backends().items():
        assert f"sandbox {backend}" in out and (why_not or "starts here") in out
    chosen = make_runner(Settings().sandbox, ws).backend
    if chosen in ("bwrap", "landlock"):
        assert code == 0 and f"{chosen} will run commands" in out
    else:
        assert code == 1 and "commands are not isolated" in out


def test_run_with_a_provider_that_cannot_start_changes_nothing_first(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import os

    from nanotui import paths

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    old = paths.sessions_dir() / "20200101-000000-0000.jsonl"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text("{}\n")
    os.utime(old, (0, 0))  # far past the 30 days a log is kept

    code, out, err = call(
        capsys, "run", "hi", "--provider", "anthropic", "--model", "claude", "-w", str(ws)
    )

    assert code == 1 and out == ""
    assert err.count("No Anthropic API key found") == 1
    assert old.exists(), "a session log was pruned by a run that could not start"


def test_run_refuses_bad_flags_before_copying_the_demo(ws: Path, capsys) -> None:
    from nanotui import paths

    code, _, err = call(capsys, "run", "hi", "--demo", "--max-turns", "0", "-w", str(ws))
    assert code == 1 and "--max-turns must be at least 1." in err
    assert "fresh copy" not in err and not paths.demo_projects_dir().exists()


def test_run_with_anthropic_and_no_key_names_the_key_before_the_model(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, _, err = call(capsys, "run", "hi", "--provider", "anthropic", "-w", str(ws))
    assert code == 1
    assert "No Anthropic API key found; set ANTHROPIC_API_KEY" in err and "No model" not in err
