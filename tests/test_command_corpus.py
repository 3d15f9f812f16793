"""The command policy against a corpus of adversarial and everyday lines (tests/data)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from nanotui.config import DEFAULT_PROTECTED_PATHS
from nanotui.security.policy import ActionPolicy
from nanotui.security.shell.commands import CommandPolicy

CORPUS = tomllib.loads((Path(__file__).parent / "data" / "command_corpus.toml").read_text())["case"]
WORKSPACE = Path("/srv/project")
ALLOW = ["git status", "git diff *", "pytest *", "npm run test:*", "echo *", "make test"]
ASK = ["pip install *", "rm -rf *"]
DENY = ["docker *"]


def _policy(allow: list[str]) -> CommandPolicy:
    return CommandPolicy(allow, ASK, DENY, list(DEFAULT_PROTECTED_PATHS), workspace=WORKSPACE)


REALISTIC = _policy(ALLOW)
PERMISSIVE = _policy(["*"])
DANGEROUS = [case for case in CORPUS if case["dangerous"]]


def _case_id(case: dict) -> str:
    return case["line"][:60].replace("\n", "\\n") or "<empty>"


def test_corpus_is_large_and_mixed() -> None:
    decisions = {case["expect"] for case in CORPUS}
    assert len(CORPUS) >= 150
    assert decisions == {"allow", "ask", "deny"}
    assert sum(case["expect"] == "allow" for case in CORPUS) >= 40


@pytest.mark.parametrize("case", CORPUS, ids=_case_id)
def test_corpus_line_gets_its_expected_decision(case: dict) -> None:
    result = REALISTIC.decide(case["line"])
    assert result.decision == case["expect"], (case["note"], result.reasons)


@pytest.mark.parametrize("case", DANGEROUS, ids=_case_id)
def test_dangerous_line_is_never_allowed_even_by_allow_everything(case: dict) -> None:
    result = PERMISSIVE.decide(case["line"])
    if case["expect"] == "deny":
        assert result.decision == "deny", result.reasons
    else:
        assert result.decision == "ask" and result.needs_person, result.reasons


@pytest.mark.parametrize("mode", ["ask", "auto-edit", "full-auto", "plan"])
def test_no_dangerous_line_runs_unasked_in_any_mode(mode: str) -> None:
    for allow in (ALLOW, ["*"]):
        policy = ActionPolicy(_policy(allow))
        allowed = [
            case["line"]
            for case in DANGEROUS
            if policy.decide("command", mode, command=case["line"]).decision == "allow"
        ]
        assert allowed == [], f"{mode} with allow={allow} runs: {allowed}"
