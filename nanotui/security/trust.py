"""Trusted folders: a folder's own config may loosen policy only once the user trusts it.

The list lives in `trusted.toml` under the config folder: `folders` holds the trusted ones,
`declined` those where the user answered "not now" (so that the first session in a folder
asks, and later ones do not ask again unless the folder's config asks for more). One
resolved path per entry.

The offline demo's copies of the sample project are never trusted: `trust` refuses them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w

from nanotui import paths
from nanotui.protocol.atomic_write import write_atomically
from nanotui.protocol.basics import UserFacingError

DEMO_COPY_REFUSAL = (
    "The offline demo's copy of the sample project is never trusted; trust is for your own folders."
)


class TrustRefused(UserFacingError):
    """The folder may not be trusted (the demo's copy of the sample project)."""


def _read() -> dict[str, list[Path]]:
    try:
        data = tomllib.loads(paths.trusted_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}  # unreadable or damaged: nothing is trusted (fail closed)
    lists: dict[str, list[Path]] = {}
    for key in ("folders", "declined"):
        entries = data.get(key, [])
        valid = isinstance(entries, list)
        lists[key] = [Path(p) for p in entries if isinstance(p, str)] if valid else []
    return lists


def trusted_folders() -> list[Path]:
    return _read()["folders"]


def is_trusted(folder: Path) -> bool:
    return folder.resolve() in trusted_folders()


def was_asked(folder: Path) -> bool:
    """Whether the user already answered the trust question for `folder`, either way."""
    lists = _read()
    return folder.resolve() in (*lists["folders"], *lists["declined"])


def is_demo_copy(folder: Path) -> bool:
    """Whether `folder` is one of the offline demo's copies of the sample project."""
    return folder.resolve().is_relative_to(paths.demo_projects_dir().resolve())


def trust(folder: Path) -> None:
    """Add `folder` to the trusted list (written atomically); a demo copy is refused."""
    if is_demo_copy(folder):
        raise TrustRefused(DEMO_COPY_REFUSAL)
    _record(folder, "folders")


def decline(folder: Path) -> None:
    """Remember that the user chose not to trust `folder` for now."""
    _record(folder, "declined")


def _record(folder: Path, key: str) -> None:
    folder = folder.resolve()
    lists = _read()
    if folder in lists[key]:
        return
    lists[key].append(folder)
    if key == "folders" and folder in lists["declined"]:
        lists["declined"].remove(folder)
    target = paths.trusted_file()
    paths.ensure_private_dir(target.parent)
    # The whole file is ours: written afresh, one path a line.
    body = {name: [str(p) for p in entries] for name, entries in lists.items()}
    write_atomically(target, tomli_w.dumps(body, indent=2))
