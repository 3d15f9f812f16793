"""nanotui: a full-screen terminal coding agent you can trust with a real repository."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # `__version__` is looked up on first use: importlib.metadata costs tens of milliseconds
    # at start-up, and the full-screen app should draw its first frame before paying them.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("nanotui")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0+source"
    raise AttributeError(f"module 'nanotui' has no attribute {name!r}")
