"""The prompt's slash commands: what exists, how a line is parsed, what completes what.

Pure data and functions, no widgets: the prompt uses them to complete and to post
`PromptInput.SlashCommand`, the help screen lists them, and tests read them directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from nanotui.protocol.basics import MODE_ORDER
from nanotui.tui.modes import MODE_MEANINGS


@dataclass(frozen=True)
class SlashCommandSpec:
    """One slash command as the user sees it: `/name argument` and what it does."""

    name: str
    description: str
    argument: str = ""
    """A hint for the argument, e.g. "[name]"; empty when the command takes none."""
    choices: tuple[str, ...] = ()
    """Argument values the completion offers, in the order shown."""
    choice_descriptions: tuple[str, ...] = ()
    """One line for each of `choices` (same order), shown beside it in the completion."""

    @property
    def takes_argument(self) -> bool:
        return bool(self.argument)


SLASH_COMMANDS: tuple[SlashCommandSpec, ...] = (
    SlashCommandSpec("help", "Show the keys, their binding ids and these commands"),
    SlashCommandSpec(
        "mode",
        "Show or change the approval mode",
        argument="[mode]",
        choices=MODE_ORDER,
        choice_descriptions=tuple(MODE_MEANINGS[mode] for mode in MODE_ORDER),
    ),
    SlashCommandSpec("model", "Show or change the model", argument="[name]"),
    SlashCommandSpec("clear", "Clear the conversation and start a fresh context"),
    SlashCommandSpec("cost", "Show tokens and spending for this session and today"),
    SlashCommandSpec("policy", "List the settings and command rules, and where each comes from"),
    SlashCommandSpec(
        "mcp",
        "List the MCP servers and their tools, or accept a server's new or changed tools",
        argument="[accept SERVER]",
    ),
    SlashCommandSpec("checkpoints", "Browse this session's checkpoints and restore one"),
    SlashCommandSpec("audit", "Show the audit log of this session"),
    SlashCommandSpec("timeline", "Every event of this session, filterable (also ctrl+t)"),
    SlashCommandSpec("resume", "Resume an earlier session", argument="[session id]"),
    SlashCommandSpec("trust", "Trust this folder's project configuration"),
    SlashCommandSpec("quit", "Quit nanotui"),
)

CURRENT_HINT = "(current)"
"""Beside the argument choice in force, e.g. the current mode under `/mode `."""

COMMANDS_BY_NAME: dict[str, SlashCommandSpec] = {spec.name: spec for spec in SLASH_COMMANDS}

# A command word is letters, digits, "-" and "_"; a first word with another "/" in it is a
# path ("/etc/hosts is odd"), so such a line is an ordinary prompt, not an unknown command.
_COMMAND_LINE = re.compile(r"/(?P<name>[^\s/]*)(?:\s+(?P<argument>.*))?", re.DOTALL)
_TYPING_NAME = re.compile(r"/(?P<name>[^\s/]*)")
_TYPING_ARGUMENT = re.compile(r"/(?P<name>[^\s/]+) +(?P<argument>\S*)")


def parse_slash_command(text: str) -> tuple[str, str] | None:
    """Split `/name argument` into (name, argument); None when `text` is not a command line.

    The name is kept as typed (an unknown one is the screen's to report); the argument is
    everything after the first run of whitespace, stripped, and may span lines.
    """
    text = text.strip()
    match = _COMMAND_LINE.fullmatch(text)
    if match is None:
        return None
    return match["name"], (match["argument"] or "").strip()


@dataclass(frozen=True)
class Completion:
    """One row of the completion list and the prompt text it completes to."""

    label: str
    """What the row shows first, e.g. "/mode" or "plan"."""
    hint: str
    """Shown after the label, muted: the argument hint of a command."""
    description: str
    replacement: str
    """The prompt text after choosing this row with tab; Enter sends it as it is (a command
    with an optional argument then runs bare: `/model ` shows the model)."""


def completions_for(text: str, current: Mapping[str, str] | None = None) -> list[Completion]:
    """The completion rows for a prompt holding `text`; empty when nothing completes.

    Completion is offered while the prompt is one line holding `/` and a partial command
    name, or a full command name, one space and a partial argument that has known choices.
    `current` maps a command to the value in force (`{"mode": "ask"}`), whose row says so.
    """
    if "\n" in text:
        return []
    if match := _TYPING_NAME.fullmatch(text):
        return _command_completions(match["name"])
    if match := _TYPING_ARGUMENT.fullmatch(text):
        spec = COMMANDS_BY_NAME.get(match["name"])
        if spec is not None:
            return _argument_completions(spec, match["argument"], (current or {}).get(spec.name))
    return []


def _command_completions(typed: str) -> list[Completion]:
    typed = typed.lower()
    # Names that start with what was typed come first, then names that merely contain it.
    starts = [spec for spec in SLASH_COMMANDS if spec.name.startswith(typed)]
    contains = [spec for spec in SLASH_COMMANDS if typed in spec.name and spec not in starts]
    return [
        Completion(
            label=f"/{spec.name}",
            hint=spec.argument,
            description=spec.description,
            # Tab leaves room for the argument, whose choices (if any) show next.
            replacement=f"/{spec.name} " if spec.takes_argument else f"/{spec.name}",
        )
        for spec in [*starts, *contains]
    ]


def _argument_completions(
    spec: SlashCommandSpec, typed: str, current: str | None
) -> list[Completion]:
    descriptions = spec.choice_descriptions or ("",) * len(spec.choices)
    return [
        Completion(
            label=choice,
            hint=CURRENT_HINT if choice == current else "",
            description=description,
            replacement=f"/{spec.name} {choice}",
        )
        for choice, description in zip(spec.choices, descriptions, strict=True)
        if choice.startswith(typed.lower())
    ]
