"""Shared by the watching tests: a folder the watches cannot list, as a user's unreadable one."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanotui.protocol import folder_watch


def refuse_listing(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Listing `folder` fails with EACCES, as an unreadable folder does (root reads any)."""
    listing = folder_watch.os.scandir

    def scandir(path: Path) -> object:
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied")
        return listing(path)

    monkeypatch.setattr(folder_watch.os, "scandir", scandir)
