"""Asking the person at the terminal for a yes before a command does something lasting."""

from __future__ import annotations

import sys


def at_a_terminal() -> bool:
    """Whether a person reads what is printed and can answer (stdin and stdout are a tty)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def ask_yes(question: str) -> bool:
    """Their answer to a yes/no `question`; anything but yes (or no input at all) is a no."""
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False
