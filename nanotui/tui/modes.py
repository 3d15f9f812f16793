"""Approval modes as the TUI presents them: their order when cycling and what each means."""

from __future__ import annotations

from nanotui.protocol.basics import MODE_ORDER

MODE_MEANINGS = {
    "plan": "read-only: the model may look but not change or run anything",
    "ask": "every file change and command waits for your key press",
    "auto-edit": "file changes in the workspace apply without asking; commands still ask",
    "full-auto": "what the policy allows runs without asking (still sandboxed)",
}


def next_mode(mode: str, ceiling: str = "full-auto") -> str:
    """The mode after `mode` in the cycle plan -> ask -> auto-edit -> full-auto -> plan,
    which goes back to plan after `ceiling` (the loosest mode the session allows)."""
    allowed = MODE_ORDER[: MODE_ORDER.index(ceiling) + 1]
    index = allowed.index(mode) if mode in allowed else -1
    return allowed[(index + 1) % len(allowed)]


def is_raise(old: str, new: str) -> bool:
    """Whether `new` lets more happen without asking than `old`."""
    return MODE_ORDER.index(new) > MODE_ORDER.index(old)
