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
import shlex
from dataclasses import dataclass, field
from typing import Literal

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
NEVER_ALLOW_PROGRAMS = {"eval", "source", ".", "exec", "builtin", "command", "xargs", "env"}
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
GIT_UNSAFE_FLAGS = ("-c", "--output", "--ext-diff", "--textconv", "--exec-path", "-C")


@dataclass
class SubCommand:
    text: str
    words: list[str]


@dataclass
class CommandDecision:
    decision: Verdict
    reasons: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


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
        if word in ("--recursive",):
            flags.add("r")
        elif word == "--force":
            flags.add("f")
        elif word.startswith("-") and not word.startswith("--") and len(word) > 1:
            flags.update(word[1:].replace("R", "r"))
        else:
            rest.append(word)
    flag_word = ["-" + "".join(sorted(flags, key="rf".find))] if flags else []
    return ["rm", *flag_word, *rest]


def split_command_line(line: str) -> tuple[list[SubCommand], list[str]]:
    """Split a shell line into simple commands; also return what could not be accounted for."""
    problems: list[str] = []
    for marker, what in OPAQUE_FEATURES.items():
        if marker in line:
            problems.append(f"the line uses {what} ({marker}), which is not checked yet")
    parts: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"' and i + 1 < len(line):
                current.append(line[i + 1])
                i += 1
        elif ch in ("'", '"'):
            quote = ch
            current.append(ch)
        elif ch == "\\" and i + 1 < len(line):
            current.append(line[i : i + 2])
            i += 1
        elif ch == ">" or (ch == "&" and (line[i - 1 : i] == ">" or line[i + 1 : i + 2] == ">")):
            # Redirections stay part of their command; writing to a file is not read-only.
            current.append(ch)
            target = line[i + 1 :].lstrip()
            if ch == ">" and not target.startswith(("&1", "&2", "/dev/null", ">")):
                problems.append("the line writes to a file through a redirection")
        elif ch in ";|&\n()":
            parts.append("".join(current))
            current = []
            if ch in "()":
                problems.append("the line uses a subshell, which is not checked yet")
        else:
            current.append(ch)
        i += 1
    if quote:
        problems.append("the line has an unclosed quote")
    parts.append("".join(current))
    commands: list[SubCommand] = []
    for part in parts:
        text = part.strip()
        if not text:
            continue
        try:
            words = shlex.split(text, comments=True)
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

    def __init__(self, allow: list[str], ask: list[str], deny: list[str]) -> None:
        self.allow = allow
        self.ask = ask
        self.deny = deny

    def decide(self, line: str) -> CommandDecision:
        commands, problems = split_command_line(line)
        result = CommandDecision(decision="allow", commands=[c.text for c in commands])
        verdicts: list[Verdict] = []
        for problem in problems:
            result.reasons.append(f"ask: {problem}")
            verdicts.append("ask")
        for sub in commands:
            verdict, reason = self._judge(sub)
            verdicts.append(verdict)
            result.reasons.append(reason)
        if "deny" in verdicts:
            result.decision = "deny"
        elif "ask" in verdicts or not verdicts:
            result.decision = "ask"
        return result

    def _judge(self, sub: SubCommand) -> tuple[Verdict, str]:
        words = _normalise_rm_flags(sub.words)
        program = words[0]
        if program in ALWAYS_DENY_PROGRAMS:
            return "deny", f"deny: `{sub.text}` {ALWAYS_DENY_PROGRAMS[program]} (built-in rule)"
        for rule, why in BUILTIN_DENY_RULES:
            if _rule_matches(rule, words):
                return "deny", f"deny: `{sub.text}` {why} (built-in rule `{rule}`)"
        for rule in self.deny:
            if _rule_matches(rule, words):
                return "deny", f"deny: `{sub.text}` matches the deny rule `{rule}`"
        if program in NEVER_ALLOW_PROGRAMS or program.startswith("$"):
            return "ask", f"ask: `{sub.text}` runs another command that is not checked yet"
        for rule in self.ask:
            if _rule_matches(rule, words):
                return "ask", f"ask: `{sub.text}` matches the ask rule `{rule}`"
        for rule in self.allow:
            if _rule_matches(rule, words):
                return "allow", f"allow: `{sub.text}` matches the allow rule `{rule}`"
        if program == "git" and any(w.startswith(GIT_UNSAFE_FLAGS) for w in words[1:]):
            return "ask", f"ask: `{sub.text}` passes git options that can run programs"
        for rule in KNOWN_SAFE_RULES:
            if _rule_matches(rule, words):
                return "allow", f"allow: `{sub.text}` is a known read-only command"
        return "ask", f"ask: no rule allows `{sub.text}`"
