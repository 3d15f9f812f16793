"""The C Landlock launcher for bwrap sandboxes (`landlock_launcher.c`), compiled once per
machine with its C compiler.

A Python launcher started inside every bwrap sandbox cost 16 ms of each command's 22; the
compiled one costs about a millisecond. It is compiled the first time a bwrap command needs
it and kept in nanotui's state folder under a name that holds the source's hash, so a new
version of the source is compiled again and two versions of nanotui do not share a binary.
It is compiled to a temporary name beside it and renamed into place, so no process ever
starts a half-written file. Where there is no C compiler, or compiling fails, bwrap keeps
the Python launcher (`landlock_exec.py`), which applies the same rights.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from nanotui import paths

SOURCE = Path(__file__).with_name("landlock_launcher.c")
COMPILERS = ("cc", "gcc", "clang")
COMPILE_TIMEOUT_S = 60

_known: dict[Path, Path | None] = {}
"""Where each state folder's launcher is, or None where it could not be made (this process
does not try again)."""
_digest: list[str] = []


def compiled_launcher() -> Path | None:
    """The compiled launcher, compiling it first if needed; None where that cannot be done."""
    folder = paths.state_dir() / "bin"
    if folder in _known:
        found = _known[folder]
        if found is None or found.is_file():
            return found
    target = folder / f"landlock-launcher-{_source_digest()}"
    if not target.is_file():
        made = _compile(target)
        if not made:
            _known[folder] = None
            return None
    _known[folder] = target
    return target


def _source_digest() -> str:
    if not _digest:
        _digest.append(hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16])
    return _digest[0]


def _compile(target: Path) -> bool:
    compiler = next((found for name in COMPILERS if (found := shutil.which(name))), None)
    if compiler is None:
        return False
    paths.ensure_private_dir(target.parent)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        done = subprocess.run(
            [compiler, "-O2", "-o", str(temporary), str(SOURCE)],
            capture_output=True,
            timeout=COMPILE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0 or not temporary.is_file():
            return False
        os.replace(temporary, target)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
