"""Where the TUI finds its stylesheets, installed or in a source tree."""

from __future__ import annotations

from pathlib import Path

import nanotui


def styles_dir() -> Path:
    """The `styles/` folder: shipped in the wheel as `nanotui/styles`, else the repo's own."""
    package = Path(nanotui.__file__).resolve().parent
    for candidate in (package / "styles", package.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FileNotFoundError(
        f"nanotui's styles are missing (looked in {package / 'styles'} and "
        f"{package.parent / 'styles'}); reinstall nanotui."
    )
