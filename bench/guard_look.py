"""What the look for nested repositories adds to each command in a big work tree.

Every command runs between two looks at the whole work tree for repositories and `.envrc`
files (`command_guard`), each one listing every folder. The sandbox benchmark runs in an
empty folder, where they cost nothing; here the tree is the size of a JavaScript project
with its dependencies installed (default 10,000 folders of 6 files: 60,000 files).

Two ways are timed, taking turns in blocks of ten commands, in one run:

- `whole_looks`: every look lists the whole tree (the runner's looks never start the
  kernel's watch), as nanotui did before `watched_scan`;
- `watched`: the runner's looks as they ship: the first look starts the kernel's watch and
  the others are answered by it while nothing that could change them happened.

Each way runs the landlock backend's `run("true")` through the guarded runner (the command as
the agent runs it: the look before, the command, the look after), and `guard_ms` times the
guard alone (`Guard(...)` and its `finish()`, no command) for a command that edited a file.
A third figure, `after_new_folder_ms`, is the guard around a command that made a folder
(the watched look lists that folder alone; whole looks list the tree twice, as always). The
anchor, `empty_folder`, is the same runner in an empty folder, where the looks cost next to
nothing, timed in the same turns; `bare_ms` is `true` spawned bare, and `command_extra_ms`
each way's command over it.

    python bench/guard_look.py [--folders 10000] [--runs 100]

Prints one JSON object. Target: in the big tree, a command (watched) costs at most 1 ms more
than in the empty folder (`tree_adds_ms`), whatever the size of the tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from nanotui.config import SandboxConfig
from nanotui.security.jail import watched_scan
from nanotui.security.jail.command_guard import Guard
from nanotui.security.sandbox.choose import make_runner, probe_backends

BLOCK = 10
TARGET_TREE_ADDS_MS = 1.0
FILES_PER_FOLDER = 6


def make_tree(root: Path, folders: int) -> None:
    """`folders` folders, nested as packages are: 100 top folders, each holding packages of
    a few levels, every folder with a few small files."""
    for number in range(folders):
        top, package = number % 100, number // 100
        folder = root / f"node_modules/pkg{top}" / f"lib{package % 10}" / f"part{package}"
        folder.mkdir(parents=True, exist_ok=True)
        for name in range(FILES_PER_FOLDER):
            (folder / f"f{name}.js").write_text("module.exports = 1;\n")


def runner(root: Path, watched: bool) -> Any:
    made = make_runner(SandboxConfig(backend="landlock"), root)
    made.looks.watch_after_s = watched_scan.WATCH_AFTER_S if watched else math.inf
    return made


async def time_command(made: Any, root: Path) -> float:
    started = time.perf_counter()
    result = await made.run("true", cwd=root, timeout_s=30, max_output_bytes=10_000)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.stderr
    return elapsed


async def time_bare() -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await process.communicate()
    return time.perf_counter() - started


def time_guard(made: Any, root: Path, change: Any) -> float:
    started = time.perf_counter()
    guard = Guard(root, made.looks)
    change(root)
    guard.finish()
    return time.perf_counter() - started


async def measure(folders: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nanotui-guard-bench-") as temporary:
        root, empty = Path(temporary) / "tree", Path(temporary) / "empty"
        empty.mkdir()
        (empty / "index.js").write_text("module.exports = 1;\n")
        started = time.perf_counter()
        make_tree(root, folders)
        made_s = time.perf_counter() - started
        ways = {
            "whole_looks": runner(root, False),
            "watched": runner(root, True),
            "empty_folder": runner(empty, True),
        }
        roots = {"whole_looks": root, "watched": root, "empty_folder": empty}
        edited = {path: next(path.glob("**/*.js")) for path in (root, empty)}
        counter = iter(range(10**9))

        def edit(where: Path) -> None:
            edited[where].write_text(f"module.exports = {next(counter)};\n")

        def new_folder(where: Path) -> None:
            (where / f"build-{next(counter)}").mkdir()

        first_ms = {
            name: await time_command(made, roots[name]) * 1000 for name, made in ways.items()
        }
        samples: dict[str, list[float]] = {"bare": []}
        for name in ways:
            samples.update({name: [], f"{name}_guard": [], f"{name}_new_folder": []})
        for block in range(math.ceil(runs / BLOCK)):
            order = list(ways) if block % 2 == 0 else list(ways)[::-1]
            for _ in range(BLOCK):
                samples["bare"].append(await time_bare())
            for name in order:
                made, where = ways[name], roots[name]
                for _ in range(BLOCK):
                    samples[name].append(await time_command(made, where))
                    samples[f"{name}_guard"].append(time_guard(made, where, edit))
                samples[f"{name}_new_folder"].append(time_guard(made, where, new_folder))
        ms = {key: statistics.median(values) * 1000 for key, values in samples.items()}
        result: dict[str, Any] = {
            "folders": folders,
            "files": folders * FILES_PER_FOLDER,
            "tree_made_s": round(made_s, 1),
            "bare_ms": round(ms["bare"], 2),
        }
        for name, made in ways.items():
            result[name] = {
                "command_ms": round(ms[name], 2),
                "command_extra_ms": round(ms[name] - ms["bare"], 2),
                "guard_ms": round(ms[f"{name}_guard"], 2),
                "after_new_folder_ms": round(ms[f"{name}_new_folder"], 2),
                "first_command_ms": round(first_ms[name], 1),
                "whole_looks": made.looks.whole_looks,
            }
        result["guard_whole_over_watched"] = round(ms["whole_looks_guard"] / ms["watched_guard"], 1)
        adds = round(ms["watched"] - ms["empty_folder"], 2)
        result["tree_adds_ms"] = adds
        result["target"] = {"tree_adds_ms": TARGET_TREE_ADDS_MS, "met": adds <= TARGET_TREE_ADDS_MS}
        return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100)
    options = parser.parse_args()
    problem = probe_backends()["landlock"]
    if problem:
        raise SystemExit(f"The landlock backend does not start here: {problem}")
    print(json.dumps(asyncio.run(measure(options.folders, options.runs))))
