"""Trusted folders: a folder's own config may loosen policy only once the user trusts it.

The list lives in `trusted.toml` under the config folder, one resolved path per entry.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from nanotui import paths


def trusted_folders() -> list[Path]:
    try:
        data = tomllib.loads(paths.trusted_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # unreadable or damaged: nothing is trusted (fail closed)
    folders = data.get("folders", [])
    return [Path(p) for p in folders if isinstance(p, str)] if isinstance(folders, list) else []


def is_trusted(folder: Path) -> bool:
    folder = folder.resolve()
    return any(folder == trusted for trusted in trusted_folders())


def trust(folder: Path) -> None:
    """Add `folder` to the trusted list (written atomically)."""
    folder = folder.resolve()
    folders = [str(p) for p in trusted_folders()]
    if str(folder) in folders:
        return
    folders.append(str(folder))
    target = paths.trusted_file()
    paths.ensure_private_dir(target.parent)
    body = "folders = [\n" + "".join(f"  {_toml_string(p)},\n" for p in folders) + "]\n"
    temp = target.with_suffix(".tmp")
    temp.write_text(body, encoding="utf-8")
    temp.replace(target)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
