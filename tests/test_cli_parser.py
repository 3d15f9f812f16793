"""The command line's grammar loads cheaply: `nanotui --help` reads no settings, starts no
event loop and imports nothing of the engine, the tools or the screen."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import nanotui.cli.main  # the entry point, as `nanotui --help` starts it
from nanotui.cli.parser import build_parser
build_parser()
print("\\n".join(sorted(sys.modules)))
"""

HEAVY = ("asyncio", "pydantic", "httpx", "textual", "nanotui.engine", "nanotui.tools")


def test_building_the_parser_imports_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = done.stdout.split()
    heavy = [name for name in loaded if name.startswith(HEAVY)]
    assert heavy == []


def test_every_command_has_a_handler() -> None:
    """Each command that takes no further action word runs a handler of its own."""
    from nanotui.cli.parser import build_parser

    parser = build_parser()
    assert callable(parser.get_default("handler"))  # bare `nanotui`: the full-screen app
    pending = [parser]
    leaves = 0
    while pending:
        current = pending.pop()
        if current._subparsers is None:
            assert callable(current.get_default("handler")), current.prog
            leaves += 1
            continue
        for action in current._subparsers._group_actions:
            pending.extend(action.choices.values())
    # 22 (acp, mcp list and mcp tools the latest), and serve: user add|list|revoke|limits,
    # project add
    assert leaves == 27
