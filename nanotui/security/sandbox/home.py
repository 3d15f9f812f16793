"""What of the home folder a sandboxed command sees: nothing, except what toolchains need.

Home folders hold credential stores nobody can list in full (`~/.config/gh/hosts.yml`,
`~/.bash_history`, `~/.gnupg`, `~/.pgpass`, `~/.vault-token`, ...), so they are hidden as a
whole and only `[sandbox] home_allow` is shown, read-only: toolchains and their caches.
Hidden are /home and /root (every account's home), the home in $HOME and the account's own
home wherever they live, and nanotui's own config and state folders. The workspace stays
visible and writable even when it lies in a home folder.

bwrap puts an empty tmpfs over each hidden folder and binds the allowed entries back on top.
Landlock cannot hide, but it can leave reading out: `read_grants` lists what may be read
(everything but the hidden folders), and the launcher grants reading beneath those only.
A known credential store inside an allowed entry (`.cargo/credentials.toml` when `.cargo` is
allowed whole, uv's `credentials` under `.local/share/uv`) stays hidden, or unreadable.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import pwd
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nanotui import paths

ALL_HOMES = (Path("/home"), Path("/root"))
KNOWN_CREDENTIAL_STORES = (
    ".ssh",
    ".aws",
    ".config",
    ".azure",
    ".kube",
    ".docker",
    ".gnupg",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".pgpass",
    ".vault-token",
    ".terraform.d",
    ".m2",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".local/share/uv/credentials",
    ".local/share/python_keyring",
    ".local/share/keyrings",
)
"""Hidden one by one where a home cannot be hidden whole (it is the workspace), and where
an allowed entry holds one."""
MAX_ENTRIES_PER_FOLDER = 2000
"""A folder on the way to a hidden one, with more entries than this, is granted whole (the
hidden folder below it stays readable under Landlock) rather than rule by rule."""


@dataclass(frozen=True)
class HomeView:
    """The folders to hide and the entries to show again on top of them."""

    hidden: list[Path]
    """Real paths of the folders a command must not see."""
    shown: list[Path]
    """Allowed entries of the homes, as the command names them (home + entry), that exist."""
    exposed_homes: list[Path]
    """Homes that cannot be hidden because one is the workspace itself; their known
    credential stores are hidden one by one instead."""
    stores_in_shown: list[Path] = field(default_factory=list)
    """Real paths of known credential stores inside a shown entry, hidden again."""


def account_homes(env: Mapping[str, str]) -> list[Path]:
    """$HOME and the account's own home (they differ when $HOME is overridden)."""
    found: list[Path] = []
    candidates = [env.get("HOME") or ""]
    with contextlib.suppress(KeyError):
        candidates.append(_account_home(os.getuid()))
    for text in candidates:
        if text and os.path.isabs(text):
            home = Path(os.path.abspath(text))
            if home not in found and home != Path("/"):
                found.append(home)
    return found


@functools.lru_cache(maxsize=4)
def _account_home(uid: int) -> str:
    """The account's home in the password database (read once: every command asks)."""
    return pwd.getpwuid(uid).pw_dir


def _safe_entry(entry: str) -> str | None:
    """`entry` as a path below home, or None when it would leave it (`..`, absolute)."""
    normal = posixpath.normpath(entry.strip())
    if not entry.strip() or normal.startswith(("/", "..")) or normal == ".":
        return None
    return normal


Stamp = tuple[int, ...] | None
Looked = list[tuple[str, Callable[[str], Stamp], Stamp]]
_views_seen: dict[tuple[object, ...], tuple[HomeView, Looked]] = {}
"""home_view's last answer for each question, with the paths it looked at and their stamps:
each command asks again, and looking costs ten times more than stat-ing what was looked at."""


def home_view(env: Mapping[str, str], allow: Sequence[str], workspace: Path) -> HomeView:
    """What to hide and what to show again, for a command run with `env` in `workspace`.

    The last answer is reused while every folder on the way to a path it looked at is as it
    was and each such path leads where it led (`_stamps`): an entry created, removed,
    renamed or pointed elsewhere, through a link anywhere, changes one of them.
    """
    homes = account_homes(env)
    own = [paths.config_dir(), paths.state_dir()]
    workspace = workspace.resolve()
    key = (tuple(homes), tuple(own), tuple(allow), workspace)
    if key in _views_seen:
        view, looked = _views_seen[key]
        if all(stamp(path) == seen for path, stamp, seen in looked):
            return _copy(view)
    candidates = [*ALL_HOMES, *homes, *own]
    for home in homes:
        candidates += [home / entry for entry in allow if _safe_entry(entry)]
        candidates += [home / store for store in KNOWN_CREDENTIAL_STORES]
    # Stamped before looking, so that a change made while looking shows next time.
    looked = _stamps(candidates)
    view = _look(homes, own, allow, workspace)
    _views_seen[key] = (view, looked)
    return _copy(view)


def _copy(view: HomeView) -> HomeView:
    """A view whose lists the caller may change without changing the one kept."""
    return HomeView(
        list(view.hidden), list(view.shown), list(view.exposed_homes), list(view.stores_in_shown)
    )


def _stamps(candidates: Sequence[Path]) -> Looked:
    """What to look at again before reusing an answer about the candidates: each folder on
    the way to one, whose entries decide whether it exists (`_changed_at`), and each one
    itself, only for where it leads (`_leads_to`: its own entries do not matter, and
    nanotui's state folder changes all the time). A path that is not there is covered by
    the folder that would hold it; a link whose target is not there is looked at again
    (its target may appear where no folder here changes)."""
    folders: set[str] = set()
    ends: set[str] = set()
    for candidate in candidates:
        path = os.path.abspath(candidate)
        ends.add(path)
        while path != "/":
            path = os.path.dirname(path)
            folders.add(path)
    looked: Looked = []
    for path in folders:
        looked.append((path, _changed_at, _changed_at(path)))
    for path in ends - folders:
        looked.append((path, _leads_to, _leads_to(path)))
    return [(path, stamp, seen) for path, stamp, seen in looked if seen or os.path.islink(path)]


def _leads_to(path: str) -> tuple[int, int] | None:
    """The file or folder `path` leads to, following links (None if none)."""
    try:
        stats = os.stat(path)
    except OSError:
        return None
    return (stats.st_dev, stats.st_ino)


def _look(homes: list[Path], own: list[Path], allow: Sequence[str], workspace: Path) -> HomeView:
    """home_view's answer, found by looking at the folders themselves (`workspace` resolved)."""
    hidden: list[Path] = []
    exposed: list[Path] = []
    for folder in [*ALL_HOMES, *homes, *own]:
        if not folder.exists():
            continue
        real = folder.resolve()
        if real == Path("/") or real in hidden:
            continue
        if real == workspace:
            # Hiding it would hide the workspace; one inside the workspace is hidden.
            if folder in homes:
                exposed.append(folder)
            continue
        hidden.append(real)
    shown: list[Path] = []
    stores: list[Path] = []
    for home in homes:
        home_stores: list[Path] | None = None  # looked up once per home, when first needed
        for entry in allow:
            relative = _safe_entry(entry)
            candidate = home / relative if relative else None
            if candidate is not None and candidate.exists() and candidate not in shown:
                shown.append(candidate)
                real = candidate.resolve()
                if home_stores is None:
                    home_stores = known_stores(home)
                stores += [s for s in home_stores if real in s.parents and s not in stores]
    return HomeView(hidden, shown, exposed, stores)


def known_stores(home: Path) -> list[Path]:
    """The known credential stores of a home that exist, as real paths."""
    found = []
    for name in KNOWN_CREDENTIAL_STORES:
        candidate = home / name
        if candidate.exists():
            found.append(candidate.resolve())
    return found


def shown_grants(view: HomeView) -> list[str]:
    """Paths beneath which reading covers the shown entries except the stores inside them."""
    if not view.stores_in_shown:  # the usual case: no store inside, no path to resolve
        return [str(entry) for entry in view.shown]
    grants: list[str] = []
    for entry in view.shown:
        real = entry.resolve()
        inside = [store for store in view.stores_in_shown if real in store.parents]
        grants += read_grants(inside, real) if inside else [str(entry)]
    return grants


_grants_seen: dict[tuple[tuple[Path, ...], Path], tuple[list[str], list[tuple[str, Stamp]]]] = {}
"""read_grants' last answer for each question, with the folders it listed and their change
times: each Landlock command asks again, and listing `/` costs more than stat-ing it."""


def read_grants(hidden: Sequence[Path], start: Path = Path("/")) -> list[str]:
    """Paths beneath which reading covers `start` (the whole machine) except the hidden ones.

    Landlock grants are recursive, so the folders on the way down to a hidden one are not
    granted themselves, only their other entries are (listing `/` or `/home` is refused
    then, opening what lies beneath them is not). Symbolic links are left out: what they
    point to is granted, or not, where it lives. The last answer is reused while none of
    the folders it listed has changed (an entry added or removed changes a folder's time).
    """
    targets = [Path(os.path.abspath(h)) for h in hidden]
    key = (tuple(targets), start)
    if key in _grants_seen:
        grants, listed = _grants_seen[key]
        if all(_changed_at(folder) == stamp for folder, stamp in listed):
            return list(grants)
    grants = []
    listed: list[tuple[str, Stamp]] = []

    def visit(folder: Path) -> None:
        listed.append((str(folder), _changed_at(str(folder))))
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        if len(entries) > MAX_ENTRIES_PER_FOLDER:
            grants.append(str(folder))
            return
        for entry in entries:
            path = Path(entry.path)
            if path in targets:
                continue
            if entry.is_symlink():
                continue
            if any(path in target.parents for target in targets) and entry.is_dir():
                visit(path)
            else:
                grants.append(entry.path)

    visit(start)
    _grants_seen[key] = (grants, listed)
    return list(grants)


def _changed_at(folder: str) -> Stamp:
    """What changes when the folder's entries or its permissions do, or when its path leads
    elsewhere (None if it is gone), taken before it is listed so that a change made during
    the listing shows next time."""
    try:
        stats = os.stat(folder)
    except OSError:
        return None
    return (stats.st_mtime_ns, stats.st_ctime_ns, stats.st_ino, stats.st_dev)
