"""nanotui: a full-screen terminal coding agent you can trust with a real repository."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nanotui")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
