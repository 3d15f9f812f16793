"""The jail under a rename race: a folder swapped for a symlink to the outside, again and again.

A background thread exchanges a folder in the workspace with a symlink to an outside folder
(atomically, with renameat2 RENAME_EXCHANGE where the C library has it), while the tools read
and write through the jail. Every operation may be refused; none may touch the outside.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tools_support import call, make_ctx

from nanotui.security.jail.workspace import PathRefused
from nanotui.tools.base import ToolContext
from nanotui.tools.file_change import apply_change, make_change
from nanotui.tools.list_dir import ListDirTool
from nanotui.tools.read_file import ReadFileTool

MAX_ITERATIONS = 2000
MAX_SECONDS = 3.0
INSIDE = "inside content\n"
OUTSIDE = "OUTSIDE SECRET\n"
MARKER = "only-outside.txt"
"""A name only the outside folder holds, so a listing of it is recognised."""
RENAME_EXCHANGE = 2


def _exchange_function() -> Callable[[Path, Path], None]:
    """Swap two names atomically if the C library can; else rename them through a third."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    at_fdcwd = -100

    def exchange(a: Path, b: Path) -> None:
        if renameat2(at_fdcwd, bytes(a), at_fdcwd, bytes(b), RENAME_EXCHANGE) != 0:
            raise OSError(ctypes.get_errno(), "renameat2 failed")

    def three_renames(a: Path, b: Path) -> None:
        parked = a.with_name(a.name + ".parked")
        os.rename(a, parked)
        os.rename(b, a)
        os.rename(parked, b)

    return exchange if renameat2 is not None else three_renames


@pytest.fixture
def raced(tmp_path: Path) -> Iterator[tuple[Path, Path, list[int]]]:
    """A workspace whose folder `d` keeps trading places with a symlink to the outside."""
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_text(INSIDE)
    outside.mkdir()
    (outside / "f.txt").write_text(OUTSIDE)
    (outside / MARKER).write_text(OUTSIDE)
    (root / "d_swap").symlink_to(outside)
    exchange = _exchange_function()
    stop = threading.Event()
    swaps = [0]

    def swap_forever() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                exchange(root / "d", root / "d_swap")
                swaps[0] += 1

    thread = threading.Thread(target=swap_forever, daemon=True)
    thread.start()
    try:
        yield root, outside, swaps
    finally:
        stop.set()
        thread.join(timeout=5)


def _outside_untouched(outside: Path) -> bool:
    names = sorted(p.name for p in outside.iterdir())
    return names == ["f.txt", MARKER] and (outside / "f.txt").read_text() == OUTSIDE


async def test_reads_and_writes_never_reach_outside_while_a_folder_is_swapped(
    raced: tuple[Path, Path, list[int]],
) -> None:
    root, outside, swaps = raced
    ctx: ToolContext = make_ctx(root)
    read, listing = ReadFileTool(), ListDirTool()
    tally = {"read": 0, "wrote": 0, "refused": 0}
    deadline = time.monotonic() + MAX_SECONDS
    iterations = 0
    while iterations < MAX_ITERATIONS and time.monotonic() < deadline:
        iterations += 1
        out = await call(read, ctx, path="d/f.txt")
        assert "OUTSIDE" not in out.content
        tally["read" if out.ok else "refused"] += 1
        listed = await call(listing, ctx, path="d")
        assert MARKER not in listed.content
        tally["read" if listed.ok else "refused"] += 1
        try:
            change = make_change(ctx.workspace, f"d/new-{iterations}.txt", None, "x\n", None)
        except PathRefused:
            tally["refused"] += 1
            continue
        wrote = apply_change(change, ctx)
        tally["wrote" if wrote.ok else "refused"] += 1
        if iterations % 50 == 0:
            assert _outside_untouched(outside)
    assert _outside_untouched(outside)
    assert swaps[0] > 100, "the swapping thread hardly ran; the race was not exercised"
    assert tally["read"] > 0 and tally["wrote"] > 0
    assert tally["read"] + tally["wrote"] + tally["refused"] == 3 * iterations


def test_the_fd_api_never_returns_outside_bytes_while_a_folder_is_swapped(
    raced: tuple[Path, Path, list[int]],
) -> None:
    root, outside, swaps = raced
    ws = make_ctx(root).workspace
    seen: set[bytes] = set()
    deadline = time.monotonic() + MAX_SECONDS / 2
    for _ in range(MAX_ITERATIONS):
        if time.monotonic() > deadline:
            break
        try:
            with ws.open_for_read("d/f.txt") as opened:
                seen.add(opened.read_bytes())
        except (PathRefused, FileNotFoundError):
            seen.add(b"<refused>")
        try:
            with ws.open_dir_for_write("d/f.txt") as target:
                current = target.read_current()
                seen.add(current[0] if current else b"<missing>")
        except (PathRefused, FileNotFoundError):
            seen.add(b"<refused>")
    assert OUTSIDE.encode() not in seen
    assert INSIDE.encode() in seen
    assert _outside_untouched(outside)
    assert swaps[0] > 100
