"""A scripted session of the kind users really get: one reply that changes two files, each in
two places far apart, one of them a one-character fix at the end of a long line.

The demo only ever proposes one single-hunk change at a time, so the approval pane's handling
of several pending changes and several hunks is exercised here, against the real loopback
model server.
"""

from __future__ import annotations

from pathlib import Path

from fake_model_server import FakeModelServer, Reply, openai_reply
from pilot_support import wait_for
from textual.pilot import Pilot

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_session
from nanotui.tui.app import NanotuiApp
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.prompt_input import PromptInput

FILLER = "".join(f"# note {i}: kept as it is\n" for i in range(12))

INVENTORY = (
    '"""Stock keeping."""\n\nLIMIT = 10\n\n'
    + FILLER
    + "\ndef restock(stock, name, quantity):\n    stock[name] += quantity\n"
)
INVENTORY_NEW = INVENTORY.replace("LIMIT = 10", "LIMIT = 20").replace(
    "    stock[name] += quantity\n",
    "    if quantity <= 0:\n        raise ValueError('quantity must be positive')\n"
    "    stock[name] += quantity\n",
)

LONG_OLD = "    return sorted(name for name, item in stock.items() if item.quantity < threshold)\n"
LONG_NEW = LONG_OLD.replace("< threshold", "<= threshold")
REPORT = (
    '"""Reports."""\n\nTITLE = "Stock"\n\n'
    + FILLER
    + "\ndef low_stock(stock, threshold):\n"
    + LONG_OLD
)
REPORT_NEW = REPORT.replace('TITLE = "Stock"', 'TITLE = "Stock report"').replace(LONG_OLD, LONG_NEW)

REASON = (
    "Two fixes. Restocking by zero or less must fail loudly, and an item exactly at the "
    "threshold counts as low stock, so the comparison becomes <=."
)


def make_workspace(root: Path) -> Path:
    """A folder with the two files the scripted reply changes."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "inventory.py").write_text(INVENTORY)
    (root / "report.py").write_text(REPORT)
    return root


def two_file_reply() -> Reply:
    """The model explains, then proposes both rewrites in one reply."""
    return openai_reply(
        "I read both modules.\n\n" + REASON,
        tool_calls=[
            ("write_file", {"path": "inventory.py", "content": INVENTORY_NEW}),
            ("write_file", {"path": "report.py", "content": REPORT_NEW}),
        ],
        chunk_size=40,
        arg_chunk_size=200,
    )


def make_app(server: FakeModelServer, workspace: Path, *, sandbox: str | None = None) -> NanotuiApp:
    flags: dict = {
        "provider": {"base_url": server.openai_base_url, "model": "m", "tool_calling": "native"},
        "approval": {"mode": "ask"},
    }
    if sandbox:
        flags["sandbox"] = {"backend": sandbox}
    settings = load_settings(workspace, flags, environ={}).settings
    return NanotuiApp(build_session(settings, workspace, session_id="multi-hunk-session"))


async def ask_for_both(pilot: Pilot) -> ApprovalPanel:
    """Send a prompt and wait until both proposed changes wait, their keys armed."""
    prompt = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
    await pilot.press(*"fix both", "enter")
    panel = pilot.app.screen.query_one(ApprovalPanel)
    await wait_for(pilot, lambda: len(panel.pending) == 2 and panel.armed, "two approvals")
    await pilot.pause()
    return panel
