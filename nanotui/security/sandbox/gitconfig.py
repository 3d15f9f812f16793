"""Copies of git's config files without the credentials they hold, which bwrap shows instead.

git must read its config to work, and config files carry credentials: a CI checkout leaves
the job's token in the repository's `.git/config` (`http.<url>.extraheader`), a clone made
with a token keeps it in `remote.origin.url`, and `~/.gitconfig` may rewrite URLs to ones
that carry a token (`url.<url with token>.insteadOf`). Each file is read by git itself
(`git config --list`) and written again without `credential` sections, without keys named
for a secret (`extraheader`, tokens, passwords) or for a URL that carries one (`url.<with
token>.insteadOf`), and without the user and password of any http(s) URL in a value. A
file git cannot read is shown empty. Files it includes are left to the mounts (a home is
hidden), and the config of a worktree or a submodule, which lives elsewhere in `.git`, is
shown as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

from nanotui.security.jail.git_runner import GitUnavailable, run_git_sync

SECRET_KEY = re.compile(r"extraheader|token|passw|secret", re.IGNORECASE)
URL_USERINFO = re.compile(r"(https?://)[^/@\s]+@", re.IGNORECASE)


def config_files(workspace: Path, shown: list[Path]) -> list[Path]:
    """The config files a command would see: the repository's and the home's shown ones."""
    # A home's may be a link (dotfiles): bwrap shows its target there, so it is copied too.
    repository = workspace / ".git" / "config"
    found = [repository] if repository.is_file() and not repository.is_symlink() else []
    homes = [e for e in shown if e.name == ".gitconfig" or e.match(".config/git/config")]
    return found + [entry for entry in homes if entry.is_file()]


_seen: dict[Path, tuple[tuple[int, ...], str | None]] = {}
"""Each file's answer, with the stamp of the file it was read from."""


def without_credentials(path: Path) -> str | None:
    """The file's settings minus what carries a credential, or None when nothing does.

    Asked for every command; git is asked again only when the file's stamp has changed
    (running git took 2 ms of each command's 10). A file rewritten in place, renamed over or
    touched has a new change time, so a credential added between two commands is seen.
    """
    try:
        info = path.stat()
        stamp = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    except OSError:
        stamp = ()
    known = _seen.get(path)
    if stamp and known is not None and known[0] == stamp:
        return known[1]
    try:
        answer = _read_without_credentials(path)
    except (OSError, GitUnavailable):
        return ""  # git could not be run (a timeout under load): nothing shown, asked again
    if stamp:
        _seen[path] = (stamp, answer)
    return answer


def _read_without_credentials(path: Path) -> str | None:
    done = run_git_sync(["config", "--file", path.name, "--list", "-z"], path.parent, timeout_s=10)
    if done.returncode != 0:
        return ""  # unreadable to git: nothing of it is shown
    listed = done.stdout.decode(errors="replace")
    entries = [item.partition("\n") for item in listed.split("\0") if item]
    kept = [
        (name, URL_USERINFO.sub(r"\1", value) if has else None)
        for name, has, value in entries
        if not _carries_secret(name)
    ]
    if kept == [(name, value if has else None) for name, has, value in entries]:
        return None
    return _render(kept)


def _carries_secret(name: str) -> bool:
    section, _, rest = name.partition(".")
    key = rest.rsplit(".", 1)[-1]
    secret_name = SECRET_KEY.search(key) or URL_USERINFO.search(rest)
    return section.lower() == "credential" or secret_name is not None


def _render(entries: list[tuple[str, str | None]]) -> str:
    """Settings written back in git's own syntax, one section header per run of keys."""
    lines: list[str] = []
    current: tuple[str, str | None] | None = None
    for name, value in entries:
        section, _, rest = name.partition(".")
        subsection, _, key = rest.rpartition(".")
        where = (section, subsection or None)
        if where != current:
            current = where
            quoted = f' "{_escape(subsection)}"' if subsection else ""
            lines.append(f"[{section}{quoted}]")
        lines.append(f"\t{key}" if value is None else f'\t{key} = "{_escape(value)}"')
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
