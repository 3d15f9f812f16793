"""Which git command lines can print what a committed file holds.

bwrap hides the workspace's credential files from every program (`sandbox/credentials.py`), but
a file git tracks also lives in `.git/objects`: `git show HEAD:.env`, `git cat-file -p`,
`git log -p` print it from there. When the repository tracks a credential file, the policy
asks before a git line that can print file contents, even in full-auto; lines that only name
files, count them or move between commits run as before.

Kept to an allowlist: a sub-command not listed below as content-free, a global option that
points git elsewhere or sets its config (`-C`, `-c`, `--git-dir`, ...), a patch option, an
option that searches contents (`-S`, `-G`: yes or no, asked often enough, spells a secret out)
or one that runs a command (`rebase -x`) is taken to print contents. What this does not
stop: a program other than git reading `.git/objects` itself (decompressing a blob takes a few
lines of Python), and files only in history that the current index no longer tracks.
"""

from __future__ import annotations

from collections.abc import Sequence

CONTENT_FREE = frozenset(
    {
        *("status", "add", "rm", "mv", "init", "commit", "branch", "switch", "checkout"),
        *("fetch", "pull", "push", "remote", "tag", "merge", "rebase", "reset", "clean"),
        *("rev-parse", "rev-list", "ls-files", "ls-tree", "merge-base", "describe"),
        *("shortlog", "count-objects", "log", "reflog", "stash", "diff", "show-ref"),
    }
)
"""Sub-commands that print no file contents, unless a patch option below asks them to."""
PATCH_OPTIONS = (
    *("-p", "--patch", "-L", "--cc", "-c", "--dd", "--remerge-diff", "--binary"),
    *("--word-diff", "--check"),
)
"""Options that make log, reflog, stash and diff print contents (`-L` a line range, `--check`
the lines it finds fault with); `-u` only where it means a unified diff (not `add -u`)."""
UNIFIED_DIFF = frozenset({"log", "reflog", "diff"})
VERBOSE_SHOWS_DIFF = frozenset({"commit", "status"})
"""`commit -v` and `status -v` print the staged diff; elsewhere `-v` only says more."""
CONTENT_SEARCHES = ("-S", "-G", "--pickaxe")
"""Pickaxe options: which commits add or remove a string is an oracle on the contents."""
RUNS_COMMANDS = ("-x", "--exec")
"""`rebase -x CMD` runs CMD after each commit, out of the policy's sight."""
DIFF_SUMMARIES = ("--stat", "--numstat", "--shortstat", "--name-only", "--name-status")
"""With one of these (and no patch option), `git diff` names or counts, it does not print."""
REDIRECTING = (
    *("-C", "-c", "--git-dir", "--work-tree", "--exec-path", "--namespace"),
    "--config-env",
)


def prints_file_contents(words: Sequence[str]) -> bool:
    """Whether `git ...` (the words, program first) can print what a tracked file holds."""
    args = list(words[1:])
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option.split("=", 1)[0] in REDIRECTING:
            return True  # another repository, work tree or config: judge it as unknown
    if not args:
        return False  # `git --version`, `git --help`
    sub, rest = args[0], args[1:]
    if sub not in CONTENT_FREE:
        return True
    patch = any(
        word in PATCH_OPTIONS
        or word.startswith(("-L", "-U", "--unified", "--patch", "--word-diff", *CONTENT_SEARCHES))
        or (sub == "rebase" and word.split("=", 1)[0].startswith(RUNS_COMMANDS))
        or (sub in UNIFIED_DIFF and word == "-u")
        or (sub in VERBOSE_SHOWS_DIFF and word in ("-v", "--verbose", "-vv"))
        for word in rest
    )
    if sub == "diff":
        return patch or not any(word.startswith(DIFF_SUMMARIES) for word in rest)
    if sub == "stash":
        return patch or (rest[:1] == ["show"] and "--stat" not in rest)
    return patch
