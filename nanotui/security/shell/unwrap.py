"""Sees through programs that run another program: `timeout 5 pytest` is judged as `pytest`.

A wrapper is only unwrapped when it is the system one (a bare name or a system folder):
`./timeout 5 ls` runs a local script, not `ls`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nanotui.security.shell.words import Word, basename

RUN_AS_ANOTHER_USER = {"sudo", "su", "doas", "pkexec", "runuser", "run0"}
SHELLS = {"bash", "sh", "zsh", "dash", "ksh", "ash", "mksh"}
# Programs that run code the policy cannot read (a string, a file, another root).
OPAQUE_RUNNERS = {
    "exec": "replaces the shell with another program",
    "eval": "runs a string as shell code",
    "source": "runs a script file in the shell",
    ".": "runs a script file in the shell",
    "trap": "runs a string as shell code later",
    "alias": "redefines a command name",
    "unalias": "redefines a command name",
    "hash": "changes where a command name resolves",
    "enable": "changes the shell's built-in commands",
    "fc": "runs commands from the history",
    "let": "evaluates arithmetic, which can run commands",
    "coproc": "runs a command in the background",
    "watch": "runs a string as shell code",
    "parallel": "runs commands built from its input",
    "script": "runs a shell session",
    "chroot": "runs a command under another root",
    "unshare": "runs a command in new namespaces",
    "nsenter": "runs a command in other namespaces",
    "flock": "runs a command under a lock",
    "setsid": "runs a command in a new session",
    "ionice": "runs another command",
    "taskset": "runs another command",
    "chrt": "runs another command",
    "strace": "runs another command",
    "ltrace": "runs another command",
    "systemd-run": "runs a command as a system unit",
    "busybox": "runs one of many built-in programs",
    "fish": "runs shell code the policy cannot parse",
    "csh": "runs shell code the policy cannot parse",
    "tcsh": "runs shell code the policy cannot parse",
}
FIND_RUNNERS = {"-exec", "-execdir", "-ok", "-okdir"}
SYSTEM_FOLDERS = {"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"}
XARGS_INPUT = Word("<arguments read from input>", literal=False)


@dataclass(frozen=True)
class Wrapper:
    """How to find the wrapped command: options that take a value, then fixed arguments."""

    takes_value: frozenset[str] = frozenset()
    positional: int = 0
    assignments: bool = False
    opaque_options: frozenset[str] = frozenset()


WRAPPERS = {
    "env": Wrapper(
        frozenset({"-u", "--unset"}),
        assignments=True,
        # -C changes the folder, so later relative paths would be judged from the wrong one.
        opaque_options=frozenset({"-S", "--split-string", "-C", "--chdir"}),
    ),
    "timeout": Wrapper(frozenset({"-s", "--signal", "-k", "--kill-after"}), positional=1),
    "nice": Wrapper(frozenset({"-n", "--adjustment"})),
    "nohup": Wrapper(),
    "time": Wrapper(frozenset({"-f", "--format"}), opaque_options=frozenset({"-o", "--output"})),
    "stdbuf": Wrapper(frozenset({"-i", "-o", "-e", "--input", "--output", "--error"})),
    "command": Wrapper(),
    "builtin": Wrapper(),
    "xargs": Wrapper(
        frozenset(
            {"-I", "-n", "-P", "-L", "-s", "-d", "-E", "-a", "--max-args", "--max-procs"}
            | {"--delimiter", "--arg-file", "--max-lines", "--max-chars", "--replace", "--eof"}
        )
    ),
}


@dataclass
class Unwrapped:
    """The chain of programs a command runs, outermost first."""

    layers: list[list[Word]] = field(default_factory=list)
    assignments: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    """`bash -c` strings, to be parsed and judged in turn."""
    run_as_other_user: str | None = None
    opaque: str | None = None
    """Why the innermost command cannot be followed, if it cannot."""
    reads_stdin_as_script: bool = False

    @property
    def innermost(self) -> list[Word]:
        return self.layers[-1]


def _system_name(word: Word) -> str | None:
    """The program's name when it is the system one (bare, or in a system folder)."""
    folder, _, name = word.value.rpartition("/")
    return name if not folder or folder in SYSTEM_FOLDERS else None


def unwrap(words: list[Word]) -> Unwrapped:
    """Follow wrappers down to the command that does the work."""
    result = Unwrapped(layers=[words])
    while words and words[0].literal:
        name = basename(words[0].value)
        if name in RUN_AS_ANOTHER_USER:
            result.run_as_other_user = name
            return result
        system_name = _system_name(words[0])
        if system_name in OPAQUE_RUNNERS:
            result.opaque = f"uses `{name}`, which {OPAQUE_RUNNERS[name]}"
            _expose_opaque(system_name, words, result)
        elif system_name == "find":
            _unwrap_find(words, result)
        elif system_name in SHELLS:
            _unwrap_shell(words, result)
        elif system_name in WRAPPERS:
            inner = _wrapped_words(name, words, result)
            if inner:
                words = inner
                result.layers.append(words)
                continue
        return result
    return result


def _expose_opaque(name: str, words: list[Word], result: Unwrapped) -> None:
    """What an opaque runner may run, so that the deny list still sees it.

    The line is never allowed (it stays opaque), so guessing generously costs nothing: every
    tail that starts at a plain word is a command it might run (`ionice -c 3 rm -rf ~` holds
    `3 rm -rf ~` and `rm -rf ~`), and `eval`'s arguments, when all are literal, are joined
    with spaces and parsed as the shell code they are.
    """
    arguments = words[1:]
    if name == "eval":
        if arguments and all(word.literal for word in arguments):
            result.scripts.append(" ".join(word.value for word in arguments))
        return
    for index, word in enumerate(arguments):
        if word.literal and not word.value.startswith("-"):
            result.layers.append(arguments[index:])


def _wrapped_words(name: str, words: list[Word], result: Unwrapped) -> list[Word] | None:
    spec = WRAPPERS[name]
    index = 1
    while index < len(words):
        word = words[index]
        value = word.value
        if not word.literal:
            result.opaque = f"gives `{name}` an argument that is only known when the line runs"
            return None
        glued = value[:2] if len(value) > 2 and not value.startswith("--") else value
        if {value, value.split("=", 1)[0], glued} & spec.opaque_options:
            result.opaque = f"uses `{name} {value}`, which runs a command the policy cannot follow"
            return None
        if value == "--":
            index += 1
            break
        if spec.assignments and "=" in value and not value.startswith("-"):
            result.assignments.append(value.split("=", 1)[0])
        elif name == "command" and value in ("-v", "-V"):
            return None  # `command -v git` only looks the name up.
        elif not value.startswith("-") or value == "-":
            break
        elif value in spec.takes_value:
            index += 1
        index += 1
    index += spec.positional
    inner = words[index:]
    if name == "xargs":
        return [*(inner or [Word("echo")]), XARGS_INPUT]
    return inner


def _unwrap_find(words: list[Word], result: Unwrapped) -> None:
    """`find -exec CMD ;` runs CMD per file: never allowed, but CMD still meets the deny list."""
    starts = [i for i, w in enumerate(words) if w.value in FIND_RUNNERS]
    if not starts:
        return
    result.opaque = f"uses `find {words[starts[0]].value}`, which runs a command for each file"
    for start in starts:
        end = start + 1
        while end < len(words) and words[end].value not in (";", "+"):
            end += 1
        if end > start + 1:
            result.layers.append(words[start + 1 : end])


def _unwrap_shell(words: list[Word], result: Unwrapped) -> None:
    """`bash -c STRING` is judged by parsing STRING; a script file or stdin is opaque."""
    name = basename(words[0].value)
    index = 1
    runs_string = False
    while index < len(words) and words[index].value[:1] in ("-", "+"):
        option = words[index].value
        if option in ("-o", "+o", "-O", "+O"):
            index += 1
        elif option in ("--rcfile", "--init-file"):
            result.opaque = f"uses `{name} {option}`, which runs a startup file"
            return
        elif not option.startswith("--") and "c" in option:
            runs_string = True
        index += 1
    rest = words[index:]
    if runs_string:
        if not rest:
            result.opaque = f"gives `{name} -c` no command string"
        elif not rest[0].literal:
            result.opaque = f"gives `{name} -c` a string that is only known when the line runs"
        else:
            result.scripts.append(rest[0].value)
    elif rest:
        result.opaque = f"runs the script `{rest[0].value}` with `{name}`"
    else:
        result.reads_stdin_as_script = True
        result.opaque = f"runs commands that `{name}` reads from its input"
