"""Checkpoint snapshot and restore time against the shadow-repository `git add -A` approach.

For generated repositories of 1k, 10k and 50k committed files (10 files then changed and 5
added), times nanotui's snapshot (a private index seeded from the repository's own, with
git's stat and untracked caches) and, side by side, the common approach: a shadow git
directory whose index is filled by `git add -A` and committed. Each is timed for the first
snapshot of a session and for an incremental one (10 more changed, 5 more added), then a
whole-checkpoint restore. Target: first and incremental snapshot under 0.2 s at 50k files,
untracked files included.

    python bench/checkpoint.py [--sizes 1000,10000,50000]

Prints one JSON object. Runs in temporary folders (NANOTUI_HOME among them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_S = 0.2
IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        env={**os.environ, **IDENTITY, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def generate(root: Path, count: int) -> None:
    """`count` small files in 100-file folders, committed."""
    root.mkdir(parents=True)
    git(root, "init", "-q")
    for n in range(count):
        folder = root / f"pkg{n // 100:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{n}.py").write_text(f"value = {n}\n" * 12)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated")


def change(root: Path, count: int, round_number: int) -> None:
    """10 files changed and 5 added, different ones each round."""
    for n in range(10):
        path = root / f"pkg{(n * 7 + round_number) % (count // 100):04d}" / f"module{n}.py"
        if path.exists():
            path.write_text(path.read_text() + f"# round {round_number}\n")
    for n in range(5):
        (root / f"added-{round_number}-{n}.txt").write_text(f"new file {n}\n")


class ShadowRepository:
    """The common approach: a separate git dir over the work tree, `add -A` and commit."""

    def __init__(self, root: Path, shadow: Path) -> None:
        self.root = root
        self.env = {"GIT_DIR": str(shadow), "GIT_WORK_TREE": str(root)}
        git(root, "init", "-q", "--bare", str(shadow))

    def snapshot(self) -> str:
        git(self.root, "add", "-A", env=self.env)
        git(self.root, "commit", "-q", "--allow-empty", "-m", "snapshot", env=self.env)
        return git(self.root, "rev-parse", "HEAD", env=self.env)

    def restore(self, commit: str) -> None:
        git(self.root, "checkout", "-q", commit, "--", ".", env=self.env)


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def measure(size: int, folder: Path) -> dict[str, Any]:
    from nanotui.vcs.checkpoints import Checkpoints

    root = folder / f"repo{size}"
    generate(root, size)
    change(root, size, 1)
    checkpoints = Checkpoints(root, f"bench{size}")
    shadow = ShadowRepository(root, folder / f"shadow{size}")
    ours_first, first = timed(lambda: checkpoints.snapshot("first"))
    theirs_first, shadow_first = timed(shadow.snapshot)
    change(root, size, 2)
    ours_next, _ = timed(lambda: checkpoints.snapshot("incremental"))
    theirs_next, _ = timed(shadow.snapshot)
    change(root, size, 3)
    ours_restore, _ = timed(lambda: checkpoints.restore(first))
    change(root, size, 4)
    theirs_restore, _ = timed(lambda: shadow.restore(shadow_first))
    checkpoints.close()
    result = {
        "files": size,
        "nanotui": {
            "first_snapshot_s": round(ours_first, 3),
            "incremental_snapshot_s": round(ours_next, 3),
            "restore_s": round(ours_restore, 3),
        },
        "shadow_add_all": {
            "first_snapshot_s": round(theirs_first, 3),
            "incremental_snapshot_s": round(theirs_next, 3),
            "restore_s": round(theirs_restore, 3),
        },
        "ratio_shadow_over_nanotui": {
            "first_snapshot": round(theirs_first / ours_first, 1),
            "incremental_snapshot": round(theirs_next / ours_next, 1),
            "restore": round(theirs_restore / ours_restore, 1),
        },
    }
    result["pass"] = max(ours_first, ours_next) < TARGET_S
    return result


def main(sizes: list[int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nanotui-checkpoint-bench-") as temporary:
        folder = Path(temporary)
        os.environ["NANOTUI_HOME"] = str(folder / "home")
        runs = [measure(size, folder) for size in sizes]
    largest = runs[-1]
    return {
        "target_s": TARGET_S,
        "runs": runs,
        "pass": largest["pass"],
        "note": "restore for nanotui includes its safety checkpoint; the shadow restore "
        "(checkout of the snapshot) takes none and deletes nothing",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    options = parser.parse_args()
    print(json.dumps(main([int(s) for s in options.sizes.split(",")])))
