"""The GitHub Action (action.yml) and the example workflow keep their security properties:
inputs reach the shell only through `env:`, the workflow's token can read code and write a
review and nothing else, and the session log is kept whatever the review's outcome. The
action's two scripts of its own are run for real."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nanotui.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
WORKFLOW_TEXT = (ROOT / "examples" / "workflows" / "review.yml").read_text(encoding="utf-8")
WORKFLOW = yaml.safe_load(WORKFLOW_TEXT)
ACTION_STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
WORKFLOW_STEPS: list[dict[str, Any]] = WORKFLOW["jobs"]["review"]["steps"]


def _step(steps: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = [s for s in steps if s.get("name") == name or s.get("id") == name]
    return found


def _strings(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a parsed YAML file, with where it is (`runs.steps.3.env.X`)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{where}.{index}")
    elif isinstance(node, str):
        yield where, node


# Script injection


@pytest.mark.parametrize("steps", [ACTION_STEPS, WORKFLOW_STEPS], ids=["action", "workflow"])
def test_no_expression_is_pasted_into_a_script(steps: list[dict[str, Any]]) -> None:
    scripts = [step["run"] for step in steps if "run" in step]
    for script in scripts:
        assert "${{" not in script, script
    assert all("${{ inputs." not in s and "${{ github.event" not in s for s in scripts)


def test_every_input_used_is_declared_and_reaches_a_step_through_env() -> None:
    used = set()
    for where, text in _strings(ACTION):
        for name in re.findall(r"\$\{\{\s*inputs\.([\w-]+)", text):
            used.add(name)
            assert re.fullmatch(r"runs\.steps\.\d+\.env\.\w+", where), where
    assert used == set(ACTION["inputs"])


def test_the_api_key_is_only_the_review_steps_environment() -> None:
    places = [where for where, text in _strings(ACTION) if "inputs.api-key" in text]
    review = ACTION_STEPS.index(_step(ACTION_STEPS, "review"))
    assert places == [f"runs.steps.{review}.env.NANOTUI_API_KEY"]
    assert ACTION["inputs"]["api-key"]["default"] == ""
    # In the workflow, the secret goes to the action's input and nowhere else.
    secrets = [where for where, text in _strings(WORKFLOW) if "secrets." in text]
    assert secrets == ["jobs.review.steps.1.with.api-key"]


def test_the_github_token_is_given_to_the_review_step_alone() -> None:
    holders = [s.get("name") for s in ACTION_STEPS if "GITHUB_TOKEN" in s.get("env", {})]
    assert holders == ["Review the pull request"]
    assert _step(ACTION_STEPS, "review")["env"]["GITHUB_TOKEN"] == "${{ github.token }}"


# The workflow's trigger and token


def test_the_workflow_runs_on_pull_request_never_pull_request_target() -> None:
    triggers = WORKFLOW[True]  # YAML 1.1 reads the key `on` as true
    assert list(triggers) == ["pull_request"]
    # Anywhere in the workflow itself (its comments say why it is not used).
    assert "pull_request_target" not in yaml.safe_dump(WORKFLOW)


def test_the_token_can_read_the_code_and_write_a_review_and_nothing_else() -> None:
    assert WORKFLOW["permissions"] == {"contents": "read", "pull-requests": "write"}
    for job in WORKFLOW["jobs"].values():
        assert "permissions" not in job  # a job's own would replace the workflow's


def test_the_checkout_has_the_history_and_keeps_no_token() -> None:
    checkout = WORKFLOW_STEPS[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    assert checkout["with"]["persist-credentials"] is False


def test_the_session_log_is_kept_whatever_the_review_decided() -> None:
    upload = [s for s in WORKFLOW_STEPS if s.get("uses", "").startswith("actions/upload-artifact")]
    assert [s["uses"] for s in upload] == ["actions/upload-artifact@v4"]
    assert upload[0]["if"] == "always()"
    assert upload[0]["with"]["path"] == "${{ runner.temp }}/nanotui/sessions"
    assert WORKFLOW_STEPS.index(upload[0]) > WORKFLOW_STEPS.index(_step(WORKFLOW_STEPS, "review"))


# The action's own scripts, run for real


def _run_step(step: dict[str, Any], env: dict[str, str], bin_dir: Path) -> int:
    """A step's script under bash as a runner would, with `python` and `nanotui` from bin_dir."""
    full = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=full,
        timeout=60,
    ).returncode


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    # A wrapper, not a symlink: a symlinked venv python would not find its venv.
    (folder / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (folder / "python").chmod(0o755)
    return folder


def test_the_config_step_writes_values_as_strings_whatever_they_hold(
    tmp_path: Path, bin_dir: Path
) -> None:
    home = tmp_path / "runner-temp" / "nanotui"
    hostile = 'http://x/v1"\n[sandbox]\nnetwork = true\n# $(touch pwned)'
    env = {
        "NANOTUI_HOME": str(home),
        "BASE_URL": hostile,
        "MODEL": "m'1",
        "PROVIDER": "openai-compatible",
        "POLICY": '[policy]\nallow = ["python -m pytest *"]',
    }
    assert _run_step(_step(ACTION_STEPS, "Write the configuration"), env, bin_dir) == 0
    settings = Settings.model_validate(tomllib.loads((home / "config.toml").read_text()))
    assert settings.provider.base_url == hostile
    assert settings.provider.model == "m'1"
    assert settings.sandbox.network == "none"
    assert settings.policy.allow == ["python -m pytest *"]
    assert not (tmp_path / "pwned").exists()


def test_the_review_step_names_the_newest_log_and_keeps_the_reviews_exit_code(
    tmp_path: Path, bin_dir: Path
) -> None:
    home = tmp_path / "nanotui"
    (home / "sessions").mkdir(parents=True)
    (home / "sessions" / "20261205-100000-aaaa.jsonl").write_text("{}\n")
    # A stand-in for nanotui that records its arguments, writes the newer log and fails.
    (bin_dir / "nanotui").write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$NANOTUI_HOME/args"\n'
        'touch "$NANOTUI_HOME/sessions/20261205-110000-bbbb.jsonl"\nexit 3\n'
    )
    (bin_dir / "nanotui").chmod(0o755)
    output = tmp_path / "github-output"
    env = {
        "NANOTUI_HOME": str(home),
        "FAIL_ON": "high",
        "MAX_COST_USD": "1.00",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    assert _run_step(_step(ACTION_STEPS, "review"), env, bin_dir) == 3
    newest = home / "sessions" / "20261205-110000-bbbb.jsonl"
    assert output.read_text() == f"session-log={newest}\n"
    args = (home / "args").read_text().splitlines()
    assert args == [
        "review",
        "--post",
        "--format",
        "markdown",
        "--output",
        str(tmp_path / "summary.md"),
        "--fail-on",
        "high",
        "--max-cost-usd",
        "1.00",
    ]
