"""Known read-only commands, and options that make an ordinary program run or write things.

`known_safe_problem` answers whether a command is on the built-in read-only list and, if so,
what (if anything) it reads that a person should see first. `hidden_effect` names options and
scripts that run other programs or write files behind the command's back.
"""

from __future__ import annotations

import itertools
import posixpath
import re

from nanotui.security.shell.paths import PathJudge
from nanotui.security.shell.rules import git_view
from nanotui.security.shell.words import Word, basename

GIT_READ_ONLY = {"status", "log", "diff", "show"}
GIT_HARMLESS_GLOBAL = {"--no-pager", "-P", "--no-optional-locks"}
GIT_UNSAFE_OPTIONS = (
    "--output",
    "--ext-diff",
    "--textconv",
    "-O",
    "--open-files-in-pager",
    "--exec-path",
    "-c",
    "-C",
    "--git-dir",
    "--work-tree",
    "--config-env",
)
# Options that run a program or a pager, whatever the git sub-command.
GIT_RUNNING_OPTIONS = (
    "--open-files-in-pager",
    "-O",
    "--ext-diff",
    "--textconv",
    "--exec-path",
    "--upload-pack",
    "--receive-pack",
    "--exec",
    "--config",
)
RG_UNSAFE_OPTIONS = ("--pre", "--pre-glob", "--search-zip", "-z", "--hostname-bin")
# Options that take the names of files to read from a file, out of the policy's sight.
FILE_LIST_OPTIONS = ("--files0-from", "-files0-from", "--file-list")
FIND_UNSAFE_ACTIONS = ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fls")
READ_ONLY_PROGRAMS = {"ls", "cat", "head", "tail", "wc", "grep", "rg", "find", "git", "sed", "cd"}
# Programs that show file names, not contents: naming a protected file is harmless.
LISTS_NAMES_ONLY = {"ls", "find"}
AWKS = {"awk", "gawk", "mawk", "nawk"}
# Options whose next word is a value, not a path, per known read-only program.
_VALUE_OPTIONS = {
    "grep": {"-e", "-m", "-A", "-B", "-C", "--regexp", "--max-count", "-d", "-D"},
    "rg": {"-e", "-m", "-A", "-B", "-C", "-g", "-t", "-T", "-M", "-j", "--glob", "--type"},
    "head": {"-n", "-c", "--lines", "--bytes"},
    "tail": {"-n", "-c", "--lines", "--bytes", "-s", "--pid", "--sleep-interval"},
    "sed": {"-e", "--expression", "-l", "--line-length"},
    "git": {"-n", "--max-count", "--skip", "--format", "--pretty", "--author", "--grep"},
}
# sed commands that only print or move text around in memory.
_SED_READ_ONLY = set("pPl=qQnNdDhHgGxbtT{}!;,$~+ \t\n0123456789")
_AWK_HIDDEN = re.compile(r"system|\||print[f]?[^;}]*>")


def hidden_effect(words: list[Word]) -> str | None:
    """Why this command may run a program or write a file that its words do not show."""
    name = basename(words[0].value)
    if name == "git":
        return _git_hidden_effect(words)
    if name == "rg" and any(_has_option(w.value, RG_UNSAFE_OPTIONS) for w in words[1:]):
        return "passes an option that runs a program on each file"
    if any(_has_option(w.value, FILE_LIST_OPTIONS) for w in words[1:]):
        return "reads the names of the files to open from a file"
    if name == "find":
        action = next((w.value for w in words[1:] if w.value.startswith(FIND_UNSAFE_ACTIONS)), "")
        return f"uses `{action}`, which runs or writes things" if action else None
    if name == "sed" and any(
        w.value in ("-f", "--file") or w.value.startswith("--file=") for w in words
    ):
        return "runs a sed script from a file the policy cannot read"
    if name == "sed" and _sed_script(words) is not None and not _sed_read_only(words):
        return "runs a sed script that can write files or run commands"
    if name in AWKS and any(_AWK_HIDDEN.search(w.value) for w in words[1:]):
        return "runs an awk program that can run commands or write files"
    return None


def _git_hidden_effect(words: list[Word]) -> str | None:
    view, dropped = git_view(words)
    unsafe_global = [o for o in dropped if o not in GIT_HARMLESS_GLOBAL]
    if unsafe_global:
        return f"passes `{unsafe_global[0]}` to git, which can run programs or change the repo"
    read_only = len(view) > 1 and view[1].value in GIT_READ_ONLY
    unsafe = GIT_UNSAFE_OPTIONS if read_only else GIT_RUNNING_OPTIONS
    if len(view) > 1 and view[1].value == "rebase":
        unsafe += ("-x",)  # `rebase -x CMD` is `--exec CMD`; elsewhere -x means other things
    for word in view[2:]:
        if _has_option(word.value, unsafe):
            return f"passes `{word.value}` to git, which can run programs or write files"
    return None


def _has_option(value: str, options: tuple[str, ...]) -> bool:
    for option in options:
        if value == option or value.startswith(option + "="):
            return True
        if len(option) == 2 and value.startswith(option) and not value.startswith("--"):
            return True  # `-C.` or `-Ofile`: a short option glued to its value.
    return False


def known_safe_problem(words: list[Word], paths: PathJudge) -> str | None:
    """None when not on the read-only list; "" when safe; else what a person should see."""
    program = words[0]
    if not program.literal or "/" in program.value:
        return None  # Allow never sees through a path: `./cat` is not `cat`.
    name = program.value
    if name in READ_ONLY_PROGRAMS:
        # A word known only when the line runs may split into options (`find . ${x:--delete}`,
        # `rg $y` with y='--pre=x'): the checks below read literal words only.
        dynamic = next((w for w in words[1:] if not w.literal), None)
        if dynamic is not None:
            return f"passes `{dynamic.value}`, which is only known when the line runs"
    if name == "pwd" and len(words) == 1:
        return ""
    if name in ("cd", "pushd"):
        return _folder_change_problem(words, paths)
    if name in ("ls", "cat", "head", "tail", "wc", "grep", "rg", "find"):
        return _reading_problem(name, words, paths)
    if name == "git":
        view, dropped = git_view(words)
        if dropped or len(view) < 2 or view[1].value not in GIT_READ_ONLY:
            return None
        for word in view[2:]:
            # `git show HEAD:.env` reads a protected file out of the history.
            _, colon, path = word.value.partition(":")
            if colon and path and paths.place(Word(path, word.literal)) == "protected":
                return f"reads `{word.value}`, a protected file, from git"
        return _reading_problem(name, view[1:], paths)
    if name == "sed" and _sed_prints_only(words):
        return _reading_problem(name, words, paths)
    return None


def _folder_change_problem(words: list[Word], paths: PathJudge) -> str:
    # Later relative paths are judged from the workspace root, so leaving it must be seen.
    targets = [
        w for w in words[1:] if not (w.literal and w.value.startswith("-") and w.value != "-")
    ]
    if not targets:
        return "goes to the home folder"
    target = targets[0]
    if target.literal and target.value == "-":
        return "goes back to the previous folder, which may be outside the workspace"
    place = paths.place(target)
    if place == "unknown":
        return f"goes to `{target.value}`, which is only known when the line runs"
    if place in ("root", "outside", "home", "disk"):
        return f"goes to `{target.value}`, outside the workspace"
    # Paths after it are judged from the workspace root: `cd .aws && cat credentials` would
    # read a protected file under an innocent name.
    folder = posixpath.normpath(target.value.rstrip("/")).removeprefix("./")
    inside = Word(folder + "/credentials", target.literal)
    holds_protected = any(p.startswith(folder + "/") for p in paths.protected_paths)
    if place == "protected" or holds_protected or paths.place(inside) == "protected":
        return f"goes into `{target.value}`, a protected folder"
    return ""


def _reading_problem(name: str, words: list[Word], paths: PathJudge) -> str:
    for word in _read_paths(name, words):
        place = paths.place(word)
        if place == "unknown":
            return f"reads `{word.value}`, which is only known when the line runs"
        if place == "protected" and name not in LISTS_NAMES_ONLY:
            if any(ch in word.value for ch in "*?["):
                return f"reads `{word.value}`, which may match a protected file"
            return f"reads `{word.value}`, a protected file"
        if place in ("root", "outside", "home", "disk"):
            return f"reads `{word.value}`, outside the workspace"
    return ""


def _read_paths(name: str, words: list[Word]) -> list[Word]:
    """The words of a read-only command that name files it reads."""
    value_options = _VALUE_OPTIONS.get(name, set())
    positionals: list[Word] = []
    paths: list[Word] = []
    pattern_given = False
    skip_next = False
    after_dashes = False
    for word in words[1:]:
        value = word.value
        if skip_next:
            skip_next = False
        elif after_dashes or not word.literal or not value.startswith("-") or value == "-":
            positionals.append(word)
        elif value == "--":
            after_dashes = True
        elif value in ("-f", "--file"):
            pattern_given = True
            skip_next = False
        elif value in value_options:
            pattern_given = pattern_given or value in ("-e", "--regexp", "--expression")
            skip_next = True
        elif "=" in value:
            paths.append(Word(value.split("=", 1)[1], word.literal))
    if name == "find":
        positionals = _find_start_points(words)
    elif name in ("grep", "rg", "sed") and not pattern_given and positionals:
        positionals = positionals[1:]  # The pattern or the script, not a file.
    return paths + positionals


FIND_LEADING_OPTIONS = {"-H", "-L", "-P", "-O0", "-O1", "-O2", "-O3"}


def _find_start_points(words: list[Word]) -> list[Word]:
    points = []
    rest = words[1:]
    # find's own options (-L, -H, -P, -D debug, -O level) come before its start points.
    while rest and (rest[0].value in FIND_LEADING_OPTIONS or rest[0].value == "-D"):
        rest = rest[2:] if rest[0].value == "-D" else rest[1:]
    if rest and rest[0].value == "--":
        rest = rest[1:]
    for word in rest:
        if word.value.startswith(("-", "(", "!")):
            break
        points.append(word)
    return points


SED_QUIET = {"--quiet", "--silent"}
SED_HARMLESS_LONG = SED_QUIET | {
    "--expression",
    "--regexp-extended",
    "--null-data",
    "--zero-terminated",
    "--separate",
    "--posix",
    "--sandbox",
    "--line-length",
    "--debug",
    "--unbuffered",
}
SED_WRITING_LONG = {"--in-place", "--file", "--follow-symlinks"}


def _sed_prints_only(words: list[Word]) -> bool:
    # Short flags up to the first non-letter: `-i.bak` is -i with a suffix, `-ni` is -n -i.
    flags = "".join(
        match.group(1)
        for w in words[1:]
        if not w.value.startswith("--") and (match := re.match(r"^-([A-Za-z]+)", w.value))
    )
    quiet = "n" in flags
    for word in words[1:]:
        if not word.value.startswith("--") or word.value == "--":
            continue
        # GNU sed takes any unambiguous prefix: `--in-pl` is --in-place, `--qu` is --quiet.
        name = word.value.split("=", 1)[0]
        meant = {o for o in SED_HARMLESS_LONG | SED_WRITING_LONG if o.startswith(name)}
        if not meant or meant & SED_WRITING_LONG:
            return False
        quiet = quiet or meant <= SED_QUIET
    edits = "i" in flags or "f" in flags
    return quiet and not edits and _sed_read_only(words)


def _sed_script(words: list[Word]) -> list[Word] | None:
    """The script words of a sed command (after -e, or the first positional)."""
    scripts = [b for a, b in itertools.pairwise(words) if a.value in ("-e", "--expression")]
    if scripts:
        return scripts
    rest = [w for w in words[1:] if not w.value.startswith("-")]
    return rest[:1] or None


def _sed_read_only(words: list[Word]) -> bool:
    script = _sed_script(words) or []
    return all(w.literal and _sed_commands_read_only(w.value) for w in script)


def _sed_commands_read_only(script: str) -> bool:
    """True when every command in the sed script only prints; regexes are skipped over."""
    index = 0
    while index < len(script):
        char = script[index]
        if char == "/":
            index = _skip_delimited(script, index + 1, "/")
        elif char in ("s", "y"):
            if index + 1 >= len(script):
                return False
            delimiter = script[index + 1]
            index = _skip_delimited(script, index + 2, delimiter)
            index = _skip_delimited(script, index, delimiter)
            while index < len(script) and script[index].isalnum():
                if script[index] in "weWE" and char == "s":
                    return False
                index += 1
        elif char == ":":
            index = _skip_to_line_end(script, index)
        elif char in _SED_READ_ONLY:
            index += 1
        else:
            return False
    return True


def _skip_delimited(script: str, index: int, delimiter: str) -> int:
    while index < len(script) and script[index] != delimiter:
        index += 2 if script[index] == "\\" else 1
    return index + 1


def _skip_to_line_end(script: str, index: int) -> int:
    while index < len(script) and script[index] not in ";\n":
        index += 1
    return index
