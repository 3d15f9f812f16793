"""The command policy: deny > ask > allow, judged per sub-command of a shell line.

This first version splits a line on the shell's list and pipe operators with a small
quote-aware scanner and matches each simple command against the rules. It fails closed:
anything it cannot fully account for (substitutions, unbalanced quotes, a variable as the
program, eval/source/exec, sudo) is never `allow`. The security issue replaces the scanner
with a tree-sitter-bash parse and unwraps wrappers; the rule semantics stay.

Rule syntax: words separated by spaces; a final `*` matches any remaining words (or none);
`*` or `?` inside a word is a glob on that word. The program matches literally, so a rule
for `sed` does not match `./sed`.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from typing import Literal

from nanotui.security.workspace import protected_match

Verdict = Literal["allow", "ask", "deny"]

# Shell features this version cannot see through: a line using them is at best "ask".
OPAQUE_FEATURES = {
    "$(": "command substitution",
    "`": "command substitution",
    "<(": "process substitution",
    ">(": "process substitution",
    "${": "parameter expansion",
    "<<": "a heredoc",
}
ALWAYS_DENY_PROGRAMS = {
    "sudo": "runs as another user",
    "su": "runs as another user",
    "doas": "runs as another user",
    "mkfs": "formats a disk",
    "shutdown": "stops the machine",
    "reboot": "restarts the machine",
    "halt": "stops the machine",
    "poweroff": "stops the machine",
}
BUILTIN_DENY_RULES = [
    ("rm -rf /", "removes the whole file system"),
    ("rm -rf /*", "removes the whole file system"),
    ("rm -rf ~", "removes your home folder"),
    ("rm -rf ~/*", "removes your home folder"),
    ("git push --force *", "force-push rewrites shared history"),
    ("git push -f *", "force-push rewrites shared history"),
    ("chmod -R 777 /", "opens the whole file system to everyone"),
]
# Read-only programs that are safe to run without asking when used plainly.
KNOWN_SAFE_RULES = [
    "ls *",
    "pwd",
    "cat *",
    "head *",
    "tail *",
    "wc *",
    "grep *",
    "rg *",
    "git status *",
    "git log *",
    "git diff *",
    "git show *",
]
GIT_UNSAFE_FLAGS = (
    "-c",
    "--config-env",
    "--output",
    "--ext-diff",
    "--textconv",
    "--exec-path",
    "-C",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--open-files-in-pager",
    "-O",
)
# Options of otherwise read-only programs that run other programs or write files.
UNSAFE_OPTIONS = {
    "rg": ("--pre", "--pre-glob", "-z", "--search-zip"),
    "git": GIT_UNSAFE_FLAGS,
}
# Programs that run another command or a script given as an argument: not unwrapped yet.
WRAPPERS = {
    "bash",
    "sh",
    "zsh",
    "dash",
    "ksh",
    "fish",
    "env",
    "xargs",
    "timeout",
    "nice",
    "nohup",
    "time",
    "stdbuf",
    "setsid",
    "command",
    "builtin",
    "exec",
    "eval",
    "source",
    ".",
    "watch",
    "parallel",
    "script",
    "chroot",
    "unshare",
    "flock",
}
_DUPLICATE_TARGET = re.compile(r"^(\d+|-)$")

# Why a sub-command is "ask": only "no rule" may be turned into allow by full-auto mode.
AskKind = Literal["rule", "unchecked", "no_rule"]


@dataclass
class SubCommand:
    text: str
    words: list[str]


@dataclass
class CommandDecision:
    decision: Verdict
    reasons: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    needs_person: bool = False
    """True when some sub-command asks because of an ask rule or because it could not be
    fully checked; full-auto mode still asks then."""


def _rule_matches(rule: str, words: list[str]) -> bool:
    pattern = rule.split()
    if not pattern:
        return False
    if pattern[-1] == "*":
        head = pattern[:-1]
        if len(words) < len(head):
            return False
        return all(fnmatch.fnmatchcase(w, p) for w, p in zip(words, head, strict=False))
    if len(words) != len(pattern):
        return False
    return all(fnmatch.fnmatchcase(w, p) for w, p in zip(words, pattern, strict=True))


def _normalise_rm_flags(words: list[str]) -> list[str]:
    """`rm -fr`, `rm -r -f`, `rm --recursive --force` all read as `rm -rf`."""
    if not words or words[0] != "rm":
        return words
    flags: set[str] = set()
    rest: list[str] = []
    for word in words[1:]:
        if word == "--recursive":
            flags.add("r")
        elif word == "--force":
            flags.add("f")
        elif word.startswith("-") and not word.startswith("--") and len(word) > 1:
            flags.update(word[1:].replace("R", "r"))
        else:
            rest.append(word)
    flag_word = ["-" + "".join(sorted(flags, key="rf".find))] if flags else []
    return ["rm", *flag_word, *rest]


class _Scanner:
    """Splits a line on list and pipe operators, keeping quotes, comments and redirections."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.i = 0
        self.parts: list[str] = []
        self.current: list[str] = []
        self.problems: list[str] = []

    def at_word_start(self) -> bool:
        return not self.current or self.current[-1] in " \t"

    def run(self) -> tuple[list[str], list[str]]:
        line = self.line
        quote: str | None = None
        while self.i < len(line):
            ch = line[self.i]
            if quote:
                self.current.append(ch)
                if ch == quote:
                    quote = None
                elif ch == "\\" and quote == '"' and self.i + 1 < len(line):
                    self.current.append(line[self.i + 1])
                    self.i += 1
            elif ch in ("'", '"'):
                quote = ch
                self.current.append(ch)
            elif ch == "\\" and self.i + 1 < len(line):
                self.current.append(line[self.i : self.i + 2])
                self.i += 1
            elif ch == "#" and self.at_word_start():
                # A comment runs to the end of the line; `a#b` inside a word is not one.
                while self.i < len(line) and line[self.i] != "\n":
                    self.i += 1
                continue
            elif ch == ">" or (ch == "&" and line[self.i + 1 : self.i + 2] == ">"):
                self.redirection()
                continue
            elif ch == "<":
                self.current.append(ch)
                self.problems.append("the line reads a file through a redirection")
            elif ch in ";|&\n()":
                self.parts.append("".join(self.current))
                self.current = []
                if ch in "()":
                    self.problems.append("the line uses a subshell, which is not checked yet")
            else:
                self.current.append(ch)
            self.i += 1
        if quote:
            self.problems.append("the line has an unclosed quote")
        self.parts.append("".join(self.current))
        return self.parts, self.problems

    def redirection(self) -> None:
        """Read `>`, `>>`, `>&`, `&>`, `>|` and the target; only safe targets pass."""
        line = self.line
        start = self.i
        while self.i < len(line) and line[self.i] in ">&|":
            self.i += 1
        operator = line[start : self.i]
        while self.i < len(line) and line[self.i] in " \t":
            self.i += 1
        target_start = self.i
        while self.i < len(line) and line[self.i] not in " \t;|&<>()\n":
            self.i += 1
        target = line[target_start : self.i]
        self.current.append(f"{operator}{target} ")
        duplicates = operator.endswith("&") and bool(_DUPLICATE_TARGET.match(target))
        if not (duplicates or target == "/dev/null"):
            self.problems.append(f"the line writes to `{target or '?'}` through a redirection")


def split_command_line(line: str) -> tuple[list[SubCommand], list[str]]:
    """Split a shell line into simple commands; also return what could not be accounted for."""
    problems: list[str] = []
    for marker, what in OPAQUE_FEATURES.items():
        if marker in line:
            problems.append(f"the line uses {what} ({marker}), which is not checked yet")
    parts, scan_problems = _Scanner(line).run()
    problems += scan_problems
    commands: list[SubCommand] = []
    for part in parts:
        text = part.strip()
        if not text:
            continue
        try:
            words = shlex.split(text, comments=False)
        except ValueError:
            problems.append(f"cannot split `{text}` into words")
            continue
        # Leading VAR=value assignments change the environment of the program.
        while words and "=" in words[0] and not words[0].startswith("="):
            problems.append(f"`{text}` sets environment variables, which is not checked yet")
            words = words[1:]
        if words:
            commands.append(SubCommand(text=text, words=words))
    if not commands and not problems:
        problems.append("the line holds no command")
    return commands, list(dict.fromkeys(problems))


class CommandPolicy:
    """Judges a shell line against deny, ask and allow rules (deny > ask > allow)."""

    def __init__(
        self,
        allow: list[str],
        ask: list[str],
        deny: list[str],
        protected_paths: list[str] | None = None,
    ) -> None:
        self.allow = allow
        self.ask = ask
        self.deny = deny
        self.protected_paths = protected_paths or []

    def decide(self, line: str) -> CommandDecision:
        commands, problems = split_command_line(line)
        result = CommandDecision(decision="allow", commands=[c.text for c in commands])
        verdicts: list[Verdict] = []
        for problem in problems:
            result.reasons.append(f"ask: {problem}")
            verdicts.append("ask")
            result.needs_person = True
        for sub in commands:
            verdict, reason, kind = self._judge(sub)
            verdicts.append(verdict)
            result.reasons.append(reason)
            if verdict == "ask" and kind != "no_rule":
                result.needs_person = True
        if "deny" in verdicts:
            result.decision = "deny"
        elif "ask" in verdicts or not verdicts:
            result.decision = "ask"
        return result

    def _judge(self, sub: SubCommand) -> tuple[Verdict, str, AskKind | None]:
        words = _normalise_rm_flags(sub.words)
        program = words[0]
        # Deny rules also see through a path: /usr/bin/curl is curl as far as deny goes.
        named = [program.rsplit("/", 1)[-1], *words[1:]]
        if named[0] in ALWAYS_DENY_PROGRAMS:
            why = ALWAYS_DENY_PROGRAMS[named[0]]
            return "deny", f"deny: `{sub.text}` {why} (built-in rule)", None
        for rule, why in BUILTIN_DENY_RULES:
            if _rule_matches(rule, words) or _rule_matches(rule, named):
                return "deny", f"deny: `{sub.text}` {why} (built-in rule `{rule}`)", None
        for rule in self.deny:
            if _rule_matches(rule, words) or _rule_matches(rule, named):
                return "deny", f"deny: `{sub.text}` matches the deny rule `{rule}`", None
        if named[0] in WRAPPERS or program.startswith("$"):
            reason = f"ask: `{sub.text}` runs another command, which is not checked yet"
            return "ask", reason, "unchecked"
        unsafe = UNSAFE_OPTIONS.get(program, ())
        if any(
            w == flag or w.startswith(flag + "=") or (flag == "-C" and w.startswith("-C"))
            for w in words[1:]
            for flag in unsafe
        ):
            reason = f"ask: `{sub.text}` passes options that can run programs or write files"
            return "ask", reason, "unchecked"
        for rule in self.ask:
            if _rule_matches(rule, words):
                return "ask", f"ask: `{sub.text}` matches the ask rule `{rule}`", "rule"
        for rule in self.allow:
            if _rule_matches(rule, words):
                return "allow", f"allow: `{sub.text}` matches the allow rule `{rule}`", None
        for rule in KNOWN_SAFE_RULES:
            if _rule_matches(rule, words):
                outside = self._sensitive_argument(words[1:])
                if outside:
                    return "ask", f"ask: `{sub.text}` {outside}", "unchecked"
                return "allow", f"allow: `{sub.text}` is a known read-only command", None
        return "ask", f"ask: no rule allows `{sub.text}`", "no_rule"

    def _sensitive_argument(self, arguments: list[str]) -> str:
        """Why reading these arguments needs a person, or "" when they look harmless."""
        for word in arguments:
            if word.startswith("-") and "=" not in word:
                continue
            value = word.split("=", 1)[1] if word.startswith("-") else word
            parts = value.split("/")
            if value.startswith(("/", "~")) or ".." in parts:
                return f"reads `{value}`, outside the workspace"
            while value.startswith("./"):
                value = value[2:]
            if any(protected_match(p, value) for p in self.protected_paths):
                return f"reads `{value}`, a protected file"
        return ""
