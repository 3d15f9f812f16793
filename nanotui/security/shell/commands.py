"""The command policy: deny > ask > allow, judged per sub-command of a shell line.

The line is parsed with tree-sitter-bash (see `parse.py`); every simple command it would
run, including those inside substitutions, loops, functions and `bash -c` strings, is judged
on its own, after seeing through wrappers such as `timeout` or `xargs` (see `unwrap.py`).
It fails closed: anything it cannot fully account for is never `allow`.

Rule syntax: words separated by spaces; a final `*` matches any remaining words (or none);
`*` or `?` inside a word is a glob on that word. Deny and ask rules see through a path to
the program (`/usr/bin/curl` is `curl`); allow rules do not (`./sed` is not `sed`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nanotui.security.shell.git_reads import prints_file_contents
from nanotui.security.shell.parse import (
    ParsedLine,
    Redirect,
    SimpleCommand,
    arithmetic_problem,
    parse_line,
)
from nanotui.security.shell.paths import PathJudge
from nanotui.security.shell.rules import (
    BUILT_IN_DENY_CHECKS,
    DOWNLOADERS,
    built_in_denial,
    git_view,
    normalise,
    rule_matches,
)
from nanotui.security.shell.safe import hidden_effect, known_safe_problem
from nanotui.security.shell.unwrap import SHELLS, Unwrapped, unwrap
from nanotui.security.shell.words import Word, basename

Verdict = Literal["allow", "ask", "deny"]
# Why a sub-command is "ask": only "no_rule" may be turned into allow by full-auto mode.
AskKind = Literal["rule", "unchecked", "no_rule"]

MAX_SHELL_DEPTH = 3
# Variables that change which program runs or what it does behind its back.
SENSITIVE_VARIABLES = {
    "PATH",
    "IFS",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "HOME",
    "CDPATH",
    "PAGER",
    "EDITOR",
    "VISUAL",
    "MANPAGER",
    "LESSOPEN",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "NODE_OPTIONS",
    "PERL5OPT",
    "RUBYOPT",
    "BROWSER",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "RIPGREP_CONFIG_PATH",
    "GCONV_PATH",
    "LESS",
    "SYSTEMD_PAGER",
    "GREP_OPTIONS",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "NPM_CONFIG_USERCONFIG",
}
SENSITIVE_PREFIXES = ("LD_", "DYLD_", "GIT_", "BASH_FUNC_")
_VERDICT_ORDER = {"allow": 0, "ask": 1, "deny": 2}


@dataclass
class CommandDecision:
    decision: Verdict
    reasons: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    needs_person: bool = False
    """True when some sub-command asks because of an ask rule or because it could not be
    fully checked; full-auto mode still asks then."""
    read_only: bool = False
    """True when every sub-command is on the built-in read-only list (and reads nothing
    protected): what plan mode may run."""
    rules: list[tuple[str, str]] = field(default_factory=list)
    """The configured rules that decided, as ("policy.deny", "curl *"): for telling which
    settings layer each came from (`nanotui policy explain`)."""


@dataclass
class _Judgement:
    verdict: Verdict
    reason: str
    ask_kind: AskKind | None = None
    read_only: bool = False
    rule: tuple[str, str] | None = None


def _only_what_is_allowed(judgement: _Judgement) -> _Judgement:
    """Allowlist-only (`policy.default = "deny"`): what would ask because no rule allows it,
    or because it cannot be fully checked, is refused; an ask rule the user wrote still asks."""
    if judgement.verdict != "ask" or judgement.ask_kind == "rule":
        return judgement
    why = judgement.reason.removeprefix("ask: ")
    return _Judgement(
        "deny",
        f'deny: {why} (allowlist-only, policy.default = "deny": only what an allow rule '
        "or the built-in read-only list allows runs)",
    )


def _deny(text: str, why: str, rule: tuple[str, str] | None = None) -> _Judgement:
    return _Judgement("deny", f"deny: `{text}` {why}", rule=rule)


def _unchecked(text: str, why: str) -> _Judgement:
    return _Judgement("ask", f"ask: `{text}` {why}", "unchecked")


@dataclass(frozen=True)
class _Rule:
    text: str
    pattern: list[str]
    literal_program: bool


def _compile_rules(rules: list[str]) -> list[_Rule]:
    compiled = []
    for text in rules:
        pattern = normalise(text.split())
        if pattern:
            literal = not any(ch in pattern[0] for ch in "*?[")
            compiled.append(_Rule(text, pattern, literal))
    return compiled


def _writes(redirect: Redirect) -> bool:
    return redirect.operator not in ("<", "<&", "<<", "<<-", "<<<")


def _duplicates_descriptor(redirect: Redirect) -> bool:
    """`2>&1`, `>&-`, `2>&1-`: the target is a file descriptor, not a file."""
    target = redirect.target.value if redirect.target else ""
    return redirect.operator.endswith("&") and (target == "-" or target.rstrip("-").isdigit())


def _is_sensitive(name: str) -> bool:
    return name in SENSITIVE_VARIABLES or name.startswith(SENSITIVE_PREFIXES)


class CommandPolicy:
    """Judges a shell line against deny, ask and allow rules (deny > ask > allow)."""

    def __init__(
        self,
        allow: list[str],
        ask: list[str],
        deny: list[str],
        protected_paths: list[str] | None = None,
        *,
        workspace: Path | None = None,
        tracked_credentials: Callable[[], Sequence[str]] | None = None,
        default: Verdict = "ask",
        read_only_builtin: bool = True,
    ) -> None:
        self.default = default
        """What a command no rule allows gets: "ask", or "deny" for allowlist-only."""
        self.read_only_builtin = read_only_builtin
        """Whether the built-in list of read-only commands (ls, cat, git log...) allows."""
        self.tracked_credentials = tracked_credentials
        """The credential files git tracks in the workspace now (asked when a git line
        could print one; see `git_reads`)."""
        self.allow = allow
        self.ask = ask
        self.deny = deny
        self.protected_paths = protected_paths or []
        self.paths = PathJudge(workspace, self.protected_paths)
        self._allow = _compile_rules(allow)
        self._ask = _compile_rules(ask)
        self._deny = _compile_rules(deny)

    def decide(self, line: str) -> CommandDecision:
        """Judge every sub-command of `line`; the strictest verdict wins."""
        judgements: list[_Judgement] = []
        commands: list[str] = []
        try:
            self._judge_line(line, 0, judgements, commands)
        except RecursionError:
            # Thousands of nested substitutions: refuse to guess rather than crash.
            judgements.append(_unchecked(line[:80], "nests too deeply to be judged"))
        if not judgements:
            judgements.append(_Judgement("ask", "ask: the line holds no command", "unchecked"))
        if self.default == "deny":
            judgements = [_only_what_is_allowed(j) for j in judgements]
        decision = max((j.verdict for j in judgements), key=_VERDICT_ORDER.__getitem__)
        return CommandDecision(
            decision=decision,
            reasons=[j.reason for j in judgements],
            commands=commands,
            needs_person=any(j.ask_kind in ("rule", "unchecked") for j in judgements),
            read_only=all(j.read_only for j in judgements),
            rules=[j.rule for j in judgements if j.rule is not None],
        )

    def _judge_line(
        self, line: str, depth: int, judgements: list[_Judgement], commands: list[str]
    ) -> None:
        parsed: ParsedLine = parse_line(line)
        judgements += [_Judgement("deny", f"deny: {why} (built-in rule)") for why in parsed.denials]
        for problem in parsed.problems:
            judgements.append(_unchecked(line, problem))
        for command in parsed.commands:
            commands.append(command.text)
            judgements.append(self._judge_command(command, depth, judgements, commands))

    def _judge_command(
        self,
        command: SimpleCommand,
        depth: int,
        judgements: list[_Judgement],
        commands: list[str],
    ) -> _Judgement:
        text = command.text
        if command.kind == "assignment":
            return self._judge_assignment(command)
        if command.kind == "test":
            if command.problems or "$" in text or "`" in text:
                return _unchecked(text, "tests or computes something that expands at run time")
            why = arithmetic_problem(text)
            if why:
                return _unchecked(text, why)
            return _Judgement("allow", f"allow: `{text}` only tests or computes values")
        unwrapped = unwrap(command.words) if command.words else Unwrapped(layers=[[]])
        for script in unwrapped.scripts:
            if depth >= MAX_SHELL_DEPTH:
                return _unchecked(text, "nests shells deeper than the policy follows")
            self._judge_line(script, depth + 1, judgements, commands)
        denial = self._denial(command, unwrapped)
        if denial:
            return denial
        unchecked = self._unchecked(command, unwrapped)
        if unchecked:
            return unchecked
        return self._judge_by_rules(command, unwrapped)

    def _judge_assignment(self, command: SimpleCommand) -> _Judgement:
        sensitive = [n for n in command.assignments if _is_sensitive(n)]
        if sensitive:
            return _unchecked(command.text, f"changes `{sensitive[0]}`, which changes what runs")
        if command.problems:
            return _unchecked(command.text, command.problems[0])
        return _Judgement("allow", f"allow: `{command.text}` only sets shell variables")

    def _denial(self, command: SimpleCommand, unwrapped: Unwrapped) -> _Judgement | None:
        text = command.text
        if unwrapped.run_as_other_user:
            who = unwrapped.run_as_other_user
            return _deny(text, f"runs as another user through `{who}` (built-in rule)")
        for layer in unwrapped.layers:
            why = built_in_denial(layer, self.paths) if layer else None
            if why:
                return _deny(text, f"{why} (built-in rule)")
        why = self._download_into_shell(command, unwrapped.innermost)
        if why:
            return _deny(text, f"{why} (built-in rule)")
        for redirect in command.redirects:
            why = self._redirect_denial(redirect)
            if why:
                return _deny(text, f"{why} (built-in rule)")
        for layer in unwrapped.layers:
            rule = self._first_match(self._deny, layer, see_through=True)
            if rule:
                return _deny(text, f"matches the deny rule `{rule}`", ("policy.deny", rule))
        return None

    def _download_into_shell(self, command: SimpleCommand, innermost: list[Word]) -> str | None:
        if not innermost or not innermost[0].literal:
            return None
        name = basename(innermost[0].value)
        if name not in SHELLS and name not in ("source", ".", "eval", "exec"):
            return None
        if command.upstream & DOWNLOADERS:
            return "pipes a download into a shell"
        if command.substituted & DOWNLOADERS:
            return "runs a downloaded script"
        return None

    def _redirect_denial(self, redirect: Redirect) -> str | None:
        if redirect.target is None or not _writes(redirect) or _duplicates_descriptor(redirect):
            return None
        place = self.paths.place(redirect.target)
        target = redirect.target.value
        if place == "disk":
            return f"writes the disk device `{target}`"
        if place in ("root", "outside", "home"):
            return f"writes `{target}`, outside the workspace"
        if place == "protected":
            return f"writes `{target}`, a protected path"
        return None

    def _unchecked(self, command: SimpleCommand, unwrapped: Unwrapped) -> _Judgement | None:
        text = command.text
        if command.problems:
            return _unchecked(text, command.problems[0])
        if unwrapped.opaque:
            return _unchecked(text, f"{unwrapped.opaque}; the policy cannot check that")
        sensitive = [n for n in command.assignments + unwrapped.assignments if _is_sensitive(n)]
        if sensitive:
            return _unchecked(text, f"sets `{sensitive[0]}`, which changes what runs")
        innermost = unwrapped.innermost
        why = hidden_effect(innermost) if innermost else None
        if why:
            return _unchecked(text, why)
        for redirect in command.redirects:
            why = self._redirect_problem(redirect)
            if why:
                return _unchecked(text, why)
        if innermost and self._removes_unknown_path(innermost):
            return _unchecked(text, "removes a path that is only known when the line runs")
        if innermost and (tracked := self._printable_credential(innermost)):
            return _unchecked(
                text, f"can print `{tracked}`, a credential file git tracks, from its history"
            )
        return None

    def _printable_credential(self, words: list[Word]) -> str | None:
        """A tracked credential file a git line could print, if it could print one."""
        if self.tracked_credentials is None or basename(words[0].value) != "git":
            return None
        if not prints_file_contents([word.value for word in words]):
            return None
        tracked = self.tracked_credentials()
        return tracked[0] if tracked else None

    def _redirect_problem(self, redirect: Redirect) -> str | None:
        target = redirect.target
        if target is None:
            return None
        place = self.paths.place(target)
        if place == "unknown":
            return f"redirects to `{target.value}`, which is only known when the line runs"
        if not _writes(redirect) and place in ("protected", "outside", "root", "home", "disk"):
            where = "a protected file" if place == "protected" else "outside the workspace"
            return f"reads `{target.value}`, {where}, through a redirection"
        return None

    def _removes_unknown_path(self, words: list[Word]) -> bool:
        return basename(words[0].value) == "rm" and any(not w.literal for w in words[1:])

    def _judge_by_rules(self, command: SimpleCommand, unwrapped: Unwrapped) -> _Judgement:
        text = command.text
        for layer in unwrapped.layers:
            rule = self._first_match(self._ask, layer, see_through=True)
            if rule:
                return _Judgement(
                    "ask",
                    f"ask: `{text}` matches the ask rule `{rule}`",
                    "rule",
                    rule=("policy.ask", rule),
                )
        writes = self._redirect_writes(command)
        if unwrapped.scripts:
            if writes:  # `bash -c cat > Makefile`: the shell's own output lands in a file
                return _unchecked(text, f"writes `{writes}` through a redirection")
            return _Judgement("allow", f"allow: `{text}` runs a script judged command by command")
        innermost = unwrapped.innermost
        # A read-only program reading secrets or outside files asks even under an allow rule.
        safety = known_safe_problem(innermost, self.paths) if innermost else None
        if safety:
            return _unchecked(text, safety)
        guard = self._guarding_rule(innermost)
        dynamic = next((w for w in innermost[1:] if not w.literal), None)
        if guard and dynamic is not None:
            # `x=publish; npm $x` under allow `npm *` and deny `npm publish *`: the deny rule
            # (or the built-in list) cannot see a word that is only known when it runs.
            return _unchecked(
                text, f"passes `{dynamic.value}`, which {guard} cannot check before it runs"
            )
        rule = self._first_match(self._allow, innermost, see_through=False)
        if rule:
            return _Judgement(
                "allow",
                f"allow: `{text}` matches the allow rule `{rule}`",
                rule=("policy.allow", rule),
            )
        if writes:
            return _unchecked(text, f"writes `{writes}` through a redirection")
        if safety == "" and self.read_only_builtin:
            return _Judgement(
                "allow", f"allow: `{text}` is a known read-only command", read_only=True
            )
        return _Judgement("ask", f"ask: no rule allows `{text}`", "no_rule")

    def _guarding_rule(self, words: list[Word]) -> str | None:
        """The deny or ask rule (or the built-in list) that looks at this program, if any."""
        if not words or not words[0].literal:
            return None
        program = basename(words[0].value)
        if program in BUILT_IN_DENY_CHECKS:
            return "the built-in deny list"
        for rule in self._deny + self._ask:
            if fnmatch.fnmatchcase(program, rule.pattern[0]):
                return f"the rule `{rule.text}`"
        return None

    def _redirect_writes(self, command: SimpleCommand) -> str | None:
        for redirect in command.redirects:
            target = redirect.target
            if target is None or not _writes(redirect) or _duplicates_descriptor(redirect):
                continue
            if self.paths.place(target) != "harmless":
                return target.value
        return None

    def _first_match(
        self, rules: list[_Rule], words: list[Word], *, see_through: bool
    ) -> str | None:
        if not words or not rules:
            return None
        values = [w.value for w in words]
        candidates = [normalise(values)]
        if see_through and "/" in values[0]:
            candidates.append(normalise([basename(values[0]), *values[1:]]))
        if see_through and basename(values[0]) == "git":
            # `git -C . push` is `git push` as far as deny and ask rules go.
            view, dropped = git_view(words)
            if dropped:
                candidates.append(normalise(["git", *(w.value for w in view[1:])]))
        for rule in rules:
            for candidate in candidates:
                # Most rules name another program: skip them without globbing.
                if rule.literal_program and rule.pattern[0] != candidate[0]:
                    continue
                if rule_matches(rule.pattern, candidate, superset_flags=see_through):
                    return rule.text
        return None
