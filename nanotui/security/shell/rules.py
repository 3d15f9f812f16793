"""Rule matching and the built-in deny list.

Rule syntax: words separated by spaces; a final `*` matches any remaining words (or none);
`*` or `?` inside a word is a glob on that word. Rules and commands are both normalised
first, so that `rm -rf *` also catches `rm -fr`, `rm -r -f` and `rm --recursive --force`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from functools import lru_cache

from nanotui.security.shell.paths import PathJudge
from nanotui.security.shell.words import Word, basename

_SHORT_FLAGS = re.compile(r"^-[A-Za-z]+$")
# Long options spelled as the short letter they stand for, per program.
_LONG_FLAGS = {
    "rm": {"--recursive": "r", "--force": "f", "--dir": "d", "--verbose": "v"},
    "cp": {"--recursive": "r", "--force": "f"},
    "mv": {"--force": "f"},
    "chmod": {"--recursive": "R"},
    "chown": {"--recursive": "R"},
    "chgrp": {"--recursive": "R"},
    "git": {"--force": "f"},
}
# For these, -R and -r mean the same thing.
_CASE_FOLDED = {"rm", "cp"}
# Programs whose second word names a sub-command that flags must not move in front of.
_SUB_COMMAND_PROGRAMS = {"git", "npm", "pnpm", "yarn", "cargo", "docker", "kubectl", "go", "pip"}
DOWNLOADERS = {"curl", "wget", "fetch", "aria2c", "http", "https", "xh"}
POWER_PROGRAMS = {"shutdown", "reboot", "halt", "poweroff"}
POWER_TARGETS = {"reboot.target", "poweroff.target", "halt.target", "kexec.target"}
SYSTEMCTL_POWER = {"reboot", "poweroff", "halt", "kexec", "soft-reboot", "rescue", "emergency"}
# Programs that may name a disk device without writing it; any other is refused one.
DISK_READERS = {"ls", "lsblk", "blkid", "stat", "file", "udevadm", "smartctl", "findmnt"}
GIT_GLOBAL_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env"}


def normalise(words: list[str]) -> list[str]:
    """Short flags split, merged and sorted right after the program (or its sub-command)."""
    return list(_normalise(tuple(words))) if words else words


@lru_cache(maxsize=4096)
def _normalise(words: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: a line's words are normalised once per rule list and layer.
    program = basename(words[0])
    head = 2 if program in _SUB_COMMAND_PROGRAMS and len(words) > 1 else 1
    long_flags = _LONG_FLAGS.get(program, {})
    letters: set[str] = set()
    rest: list[str] = []
    for index, word in enumerate(words[head:], start=head):
        if word == "--":
            rest += words[index:]
            break
        letter = _long_flag_letter(word, long_flags)
        if letter:
            letters.add(letter)
        elif _SHORT_FLAGS.match(word):
            letters.update(word[1:])
        else:
            rest.append(word)
    if program in _CASE_FOLDED:
        letters = {letter.lower() if letter == "R" else letter for letter in letters}
    flags = ["-" + "".join(sorted(letters))] if letters else []
    return (*words[:head], *flags, *rest)


def _long_flag_letter(word: str, long_flags: dict[str, str]) -> str | None:
    """The short letter a long option stands for, abbreviations included.

    GNU programs take any unambiguous prefix of a long option: `rm --rec --f` is
    `rm --recursive --force`. A prefix of several known options that mean different letters
    stays as it is (the program rejects it).
    """
    if not word.startswith("--") or len(word) < 3 or "=" in word:
        return None
    if word in long_flags:
        return long_flags[word]
    letters = {letter for flag, letter in long_flags.items() if flag.startswith(word)}
    return letters.pop() if len(letters) == 1 else None


def rule_matches(rule: list[str], words: list[str], *, superset_flags: bool = False) -> bool:
    """Whether normalised `rule` matches normalised `words`.

    With `superset_flags` (deny and ask rules), `-rf` in a rule also matches `-rfv`: a
    stricter rule should not be dodged by adding a harmless flag.
    """
    if not rule:
        return False
    if rule[-1] == "*":
        head = rule[:-1]
        if len(words) < len(head):
            return False
        pairs = zip(words, head, strict=False)
    else:
        if len(words) != len(rule):
            return False
        pairs = zip(words, rule, strict=True)
    return all(_word_matches(w, p, superset_flags) for w, p in pairs)


def _word_matches(word: str, pattern: str, superset_flags: bool) -> bool:
    if fnmatch.fnmatchcase(word, pattern):
        return True
    return (
        superset_flags
        and bool(_SHORT_FLAGS.match(pattern))
        and bool(_SHORT_FLAGS.match(word))
        and set(pattern[1:]) <= set(word[1:])
    )


def git_view(words: list[Word]) -> tuple[list[Word], list[str]]:
    """`git` words without its global options, and the global options that were dropped."""
    index = 1
    dropped: list[str] = []
    while index < len(words) and words[index].value.startswith("-"):
        option = words[index].value
        dropped.append(option)
        if option in GIT_GLOBAL_WITH_VALUE:
            index += 1
        index += 1
    return [words[0], *words[index:]], dropped


DenyCheck = Callable[[list[Word], list[str], PathJudge], str | None]


def _flags(normal: list[str]) -> set[str]:
    return {ch for w in normal[1:3] if _SHORT_FLAGS.match(w) for ch in w[1:]}


def _positionals(words: list[Word]) -> list[Word]:
    return [w for w in words[1:] if not (w.literal and w.value.startswith("-"))]


def _deny_recursive_removal(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    if basename(normal[0]) != "rm" or "r" not in _flags(normal):
        return None
    for target in _positionals(words):
        place = paths.place(target)
        if _is_file_system_root(target):
            return "removes the whole file system"
        if place == "home":
            return "removes your home folder"
        if place in ("root", "outside", "disk"):
            return f"removes `{target.value}`, outside the workspace"
    return None


def _deny_formatting(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    name = basename(normal[0])
    if fnmatch.fnmatchcase(name, "mkfs*") or name in ("mke2fs", "wipefs"):
        return "formats a disk"
    if name in POWER_PROGRAMS:
        return "stops or restarts the machine"
    arguments = [w.value for w in words[1:] if not w.value.startswith("-")]
    if name == "systemctl" and arguments[:1] and arguments[0] in SYSTEMCTL_POWER:
        return "stops or restarts the machine"
    if name in ("init", "telinit") and arguments[:1] and arguments[0] in ("0", "6"):
        return "stops or restarts the machine"
    if name == "systemctl" and any(a in POWER_TARGETS for a in arguments):
        return "stops or restarts the machine"
    if name == "loginctl" and arguments[:1] and arguments[0] in SYSTEMCTL_POWER:
        return "stops or restarts the machine"
    # `kill -1 PID` sends signal 1; a -1 after the first word is the pid meaning "all".
    if name == "kill" and any(w.value == "-1" for w in words[2:]):
        return "signals every process the user may signal (`kill -1`)"
    return None


def _deny_find_delete(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    if not any(w.value == "-delete" for w in words[1:]):
        return None
    for word in words[1:]:
        if word.value == "--":
            continue
        if word.value.startswith(("-", "(", "!")) and word.value not in ("-L", "-H", "-P"):
            break
        if paths.place(word) in ("root", "home", "outside", "disk"):
            return f"deletes files under `{word.value}`, outside the workspace"
    return None


def os_home() -> str:
    return os.path.expanduser("~").rstrip("/")


def _deny_move_away(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    """`mv ~ /tmp/x` or `mv / x` takes the home folder or the system away whole."""
    for source in _positionals(words)[:-1]:  # the last one is where they go
        if _is_file_system_root(source):
            return "moves the whole file system"
        if source.literal and source.value.rstrip("/") in ("~", os_home()):
            return "moves your home folder"
    return None


def _deny_disk_copy(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    if basename(normal[0]) != "dd":
        return None
    for word in words[1:]:
        if word.value.startswith("of="):
            place = paths.place(Word(word.value[3:], word.literal))
            if place in ("disk", "root", "outside", "home", "protected"):
                return f"writes `{word.value[3:]}` directly"
    return None


def _deny_open_permissions(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    name = basename(normal[0])
    if name not in ("chmod", "chown", "chgrp"):
        return None
    for target in _positionals(words)[1:]:
        place = paths.place(target)
        if _is_file_system_root(target):
            return "changes permissions of the whole file system"
        if place in ("root", "outside", "home", "disk"):
            return f"changes permissions of `{target.value}`, outside the workspace"
    return None


def _deny_force_push(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    if basename(normal[0]) != "git":
        return None
    view, _ = git_view(words)
    if len(view) < 2 or view[1].value != "push":
        return None
    for word in view[2:]:
        value = word.value
        if value.startswith(("--force", "--mirror")) or (
            _SHORT_FLAGS.match(value) and "f" in value
        ):
            return "force-push rewrites shared history"
        if value.startswith("+") and len(value) > 1:
            return "force-push (`+refspec`) rewrites shared history"
    return None


def _deny_tee_outside(words: list[Word], normal: list[str], paths: PathJudge) -> str | None:
    if basename(normal[0]) != "tee":
        return None
    for target in _positionals(words):
        place = paths.place(target)
        if place in ("disk", "root", "outside", "home", "protected"):
            return f"writes `{target.value}`, which is {_place_words(place)}"
    return None


def _is_file_system_root(word: Word) -> bool:
    return word.literal and word.value.startswith("/") and word.value.rstrip("/*") == ""


def _place_words(place: str) -> str:
    return "a protected path" if place == "protected" else "outside the workspace"


# Each check looks at one program; the table skips the rest without normalising.
BUILT_IN_DENY_CHECKS: dict[str, DenyCheck] = {
    "rm": _deny_recursive_removal,
    "mke2fs": _deny_formatting,
    "wipefs": _deny_formatting,
    **dict.fromkeys(POWER_PROGRAMS, _deny_formatting),
    **dict.fromkeys(("systemctl", "init", "telinit", "loginctl", "kill"), _deny_formatting),
    "find": _deny_find_delete,
    "mv": _deny_move_away,
    "dd": _deny_disk_copy,
    "chmod": _deny_open_permissions,
    "chown": _deny_open_permissions,
    "chgrp": _deny_open_permissions,
    "git": _deny_force_push,
    "tee": _deny_tee_outside,
}


def built_in_denial(words: list[Word], paths: PathJudge) -> str | None:
    """Why the built-in deny list refuses this command, or None."""
    if not words or not words[0].literal:
        return None
    name = basename(words[0].value)
    if name not in DISK_READERS:
        for word in words[1:]:
            if paths.place(word) == "disk":
                return f"writes `{word.value}`, a disk, directly"
    check = _deny_formatting if name.startswith("mkfs") else BUILT_IN_DENY_CHECKS.get(name)
    if check is None:
        return None
    return check(words, normalise([w.value for w in words]), paths)
