"""How MCP tools are named and judged: names providers accept, `mcp:` rules from every
layer (a managed deny holds), plan mode, and a server's read-only hint not believed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from nanotui import paths
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_tool_environment
from nanotui.security.external_rules import ExternalToolRules
from nanotui.security.policy import ActionPolicy
from nanotui.security.shell.commands import CommandPolicy
from nanotui.tools.mcp.names import model_tool_name

PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI's and Anthropic's


def test_tool_names_fit_what_providers_accept_and_stay_apart() -> None:
    odd = model_tool_name("docs", "search.v2/by author")
    assert odd == "mcp__docs__search_v2_by_author"
    long_one = model_tool_name("docs", "x" * 200)
    twin = model_tool_name("docs", "search_v2_by_author", {odd})
    assert all(PROVIDER_NAME.match(n) for n in (odd, long_one, twin))
    assert twin != odd


def policy(allow=(), ask=(), deny=(), default="ask") -> ActionPolicy:
    commands = CommandPolicy([], [], [], default=default)
    return ActionPolicy(commands, external=ExternalToolRules.from_lists(allow, ask, deny))


@pytest.mark.parametrize(
    ("mode", "rules", "expected"),
    [
        ("ask", {}, "ask"),
        ("auto-edit", {}, "ask"),
        ("full-auto", {}, "allow"),
        ("plan", {}, "deny"),
        ("plan", {"allow": ["mcp:docs/*"]}, "allow"),
        ("ask", {"allow": ["mcp:docs/*"]}, "allow"),
        ("full-auto", {"ask": ["mcp:docs/search"]}, "ask"),
        ("full-auto", {"allow": ["mcp:*"], "deny": ["mcp:*/sea*"]}, "deny"),
        ("full-auto", {"default": "deny"}, "deny"),
        ("ask", {"allow": ["mcp:other/*"]}, "ask"),
        # The server chooses its tools' case: deny and ask rules hold whatever it is, an
        # allow rule allows exactly what it names.
        ("full-auto", {"allow": ["mcp:*"], "deny": ["mcp:DOCS/Sea*"]}, "deny"),
        ("full-auto", {"ask": ["mcp:docs/SEARCH"]}, "ask"),
        ("ask", {"allow": ["mcp:docs/SEARCH"]}, "ask"),
    ],
)
def test_mcp_rules_modes_and_defaults(mode: str, rules: dict, expected: str) -> None:
    decided = policy(**rules).decide("external", mode, tool="mcp:docs/search")
    assert decided.decision == expected, decided.reasons


def test_a_call_to_an_unapproved_definition_is_refused_even_where_a_rule_allows_it() -> None:
    changed = "the definition of mcp:docs/search changed"
    for mode in ("ask", "full-auto"):
        decided = policy(allow=["mcp:*"]).decide(
            "external", mode, tool="mcp:docs/search", unapproved=changed
        )
        assert decided.decision == "deny" and changed in decided.reasons[0]


def test_a_managed_deny_of_every_mcp_tool_holds_over_the_users_allow(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    managed = tmp_path / "managed.toml"
    managed.write_text('[policy]\ndeny = ["mcp:*"]\n')
    monkeypatch.setattr(paths, "MANAGED_CONFIG_FILE", managed)
    (home / "config.toml").write_text('[policy]\nallow = ["mcp:docs/*"]\ndeny = []\n')
    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = load_settings(workspace).settings
    decided = build_tool_environment(settings, workspace).policy.decide(
        "external", "full-auto", tool="mcp:docs/search"
    )
    assert decided.decision == "deny" and "'mcp:*'" in decided.reasons[0]


def test_an_untrusted_folder_cannot_allow_an_mcp_tool(tmp_path: Path, home: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / ".nanotui").mkdir(parents=True)
    (workspace / ".nanotui" / "config.toml").write_text('[policy]\nallow = ["mcp:*"]\n')
    settings = load_settings(workspace).settings
    decided = build_tool_environment(settings, workspace).policy.decide(
        "external", "ask", tool="mcp:docs/search"
    )
    assert decided.decision == "ask"


def test_a_session_without_mcp_servers_does_not_load_the_sdk(tmp_path: Path, home: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from nanotui.config import Settings; "
        "from nanotui.engine.assembly import build_agent; "
        "build_agent(Settings(provider={'kind': 'demo'}), Path(sys.argv[1]), log=False); "
        "assert 'mcp' not in sys.modules and 'mcp_types' not in sys.modules"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
