"""The system prompt: who the agent is, where it works, and the project's own AGENTS.md."""

from __future__ import annotations

from pathlib import Path

from nanotui.security.injection import framing_rule

AGENTS_FILE_NAMES = ("AGENTS.md", "agents.md")
MAX_AGENTS_CHARS = 32_000

MODE_RULES = {
    "plan": "You are in plan mode: only read-only tools are available, and run_command runs "
    "only known read-only commands (ls, cat, grep, find, git log/diff/show/status). "
    "Investigate and propose a plan; do not try to change files.",
    "ask": "Every file change and most commands are shown to the user for approval first.",
    "auto-edit": "File changes inside the workspace apply directly; commands may need approval.",
    "full-auto": "Changes and commands run without asking, inside a sandbox, as policy allows.",
}


def build_system_prompt(workspace: Path, mode: str, marker: str) -> str:
    """The system prompt; `marker` is the session's mark on the notes that end tool output."""
    parts = [
        "You are nanotui, a careful coding agent working in the user's repository through "
        "tools. Read before you change; make small, precise edits with edit_file; run the "
        "project's tests after changing code; explain briefly what you did and why.",
        f"The workspace is {workspace}. All paths are relative to it; you cannot leave it.",
        MODE_RULES.get(mode, ""),
        "When a tool call is refused or rejected, read the reason, adapt, and do not repeat "
        "the same call unchanged.",
        framing_rule(marker),
    ]
    instructions = read_agents_file(workspace)
    if instructions:
        parts.append("The project's instructions (AGENTS.md):\n\n" + instructions)
    return "\n\n".join(p for p in parts if p)


def read_agents_file(workspace: Path) -> str:
    for name in AGENTS_FILE_NAMES:
        candidate = workspace / name
        # Only a regular file inside the workspace: a symlink could point at anything.
        if candidate.is_file() and not candidate.is_symlink():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            if len(text) > MAX_AGENTS_CHARS:
                text = text[:MAX_AGENTS_CHARS] + "\n[AGENTS.md cut here: it is too long]"
            return text
    return ""
