"""The C Landlock launcher for bwrap sandboxes (`landlock_launcher.c`), compiled once per
machine with its C compiler.

A Python launcher started inside every bwrap sandbox cost 16 ms of each command's 22; the
compiled one costs about a millisecond. Where it is not there, bwrap keeps the Python launcher
(`landlock_exec.py`), which applies the same rights, so the compiled one is only ever a
speed-up, and every doubt about it falls back:

- It is compiled on a thread the first time a bwrap command asks for it (the commands
  meanwhile take the Python launcher), from the system's own compiler (`/usr/bin`, `/bin`)
  with a bare environment, in its own folder: nothing of the workspace's PATH or files.
- It is kept in nanotui's state folder under a name holding the machine's architecture and
  the hash of the exact source bytes compiled (fed to the compiler on stdin), so another
  version of the source or another machine sharing the home makes its own.
- It is written to a unique temporary name and renamed into place: no process starts a
  half-written file.
- It is trusted only in a folder and a file owned by this user that nobody else may write,
  and only once it has run a command under Landlock in this process.
- Any error (a read-only state folder, no compiler, a compiler error, a binary that does not
  run) leaves it out for the rest of the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

from nanotui import paths

SOURCE = Path(__file__).with_name("landlock_launcher.c")
COMPILERS = ("cc", "gcc", "clang")
SYSTEM_PATH = "/usr/bin:/bin"
COMPILE_TIMEOUT_S = 60

_known: dict[Path, Path | None] = {}
"""Each launcher folder's tested launcher, or None where it cannot be had in this process."""
_compiling: dict[Path, threading.Thread] = {}
_lock = threading.Lock()


def launcher_folder() -> Path:
    return paths.state_dir() / "bin"


def compiled_launcher(*, wait: bool = False) -> Path | None:
    """The compiled launcher, tested; None while it is being compiled (unless `wait`) and
    where it cannot be had. Never raises."""
    try:
        folder = launcher_folder()
    except OSError:
        return None
    with _lock:
        if folder in _known:
            return _known[folder]
        thread = _compiling.get(folder)
        if thread is None:
            thread = threading.Thread(
                target=_settle, args=(folder,), name="compile-launcher", daemon=True
            )
            _compiling[folder] = thread
            thread.start()
    if not wait:
        return None
    thread.join()
    return _known.get(folder)


def _settle(folder: Path) -> None:
    found: Path | None = None
    try:
        found = _find_or_compile(folder)
    except (OSError, subprocess.SubprocessError):
        found = None
    finally:
        with _lock:
            _known[folder] = found
            _compiling.pop(folder, None)


def _find_or_compile(folder: Path) -> Path | None:
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = folder / f"landlock-launcher-{platform.machine()}-{digest}"
    if not target.exists():
        compiler = _system_compiler()
        if compiler is None:
            return None
        paths.ensure_private_dir(folder)
        if not _only_ours(folder) or not _compile(compiler, source, target):
            return None
    if not (_only_ours(folder) and _only_ours(target) and _runs(target)):
        return None
    return target


def _system_compiler() -> str | None:
    for name in COMPILERS:
        for directory in SYSTEM_PATH.split(":"):
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def _only_ours(path: Path) -> bool:
    """Owned by this user and writable by nobody else: a planted launcher could skip Landlock."""
    info = path.stat()
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _compile(compiler: str, source: bytes, target: Path) -> bool:
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        done = subprocess.run(
            [compiler, "-O2", "-x", "c", "-o", temporary, "-"],
            input=source,
            capture_output=True,
            cwd=target.parent,
            env={"PATH": SYSTEM_PATH, "LC_ALL": "C"},
            timeout=COMPILE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            return False
        os.chmod(temporary, 0o700)
        os.replace(temporary, target)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _runs(launcher: Path) -> bool:
    """It puts Landlock on a command and runs it (a file from another machine would not)."""
    done = subprocess.run(
        [str(launcher), "--write", str(launcher.parent), "--", "/bin/sh", "-c", "exit 0"],
        capture_output=True,
        env={"PATH": SYSTEM_PATH},
        timeout=COMPILE_TIMEOUT_S,
        check=False,
    )
    return done.returncode == 0
