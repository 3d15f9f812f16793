"""A restore killed with SIGKILL at any moment loses nothing: the state before it is recoverable.

Each round puts a prepared repository back as it was, starts a restore in a subprocess,
kills it at a random moment, then checks that the pre-restore state is either still on disk or held,
byte for byte, by some checkpoint (the safety checkpoint), and that every file on disk is
whole: as it was, or as the checkpoint has it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_checkpoints_helpers import IDENTITY, git, isolate, make_repo, read_state, write_files

from nanotui.vcs.checkpoints import Checkpoints

ROUNDS = 22
RESTORE_SCRIPT = """
import json, sys
from nanotui.vcs.checkpoints import Checkpoints
workspace, checkpoint, created = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with Checkpoints(workspace, "killtest") as checkpoints:
    checkpoints.restore(checkpoint, created_by_agent=created)
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


def prepared_repository(root: Path) -> tuple[Checkpoints, str, list[str]]:
    """A repository with a checkpoint, then a turn's worth of writes, creations, deletions."""
    files = {f"pkg{n % 7}/module{n}.py": f"value = {n}\n" * (50 + n) for n in range(240)}
    make_repo(root, files)
    checkpoints = Checkpoints(root, "killtest")
    checkpoint = checkpoints.snapshot("before the turn")
    write_files(
        root, {f"pkg{n % 7}/module{n}.py": f"changed = {n}\n" * 60 for n in range(0, 240, 2)}
    )
    created = [f"generated/out{n}.txt" for n in range(40)]
    write_files(root, {path: f"made by the agent {path}\n" * 30 for path in created})
    for n in range(1, 240, 9):
        (root / f"pkg{n % 7}/module{n}.py").unlink()
    checkpoints.close()
    return checkpoints, checkpoint.id, created


def tree_of_work_tree(root: Path, scratch_index: Path) -> str:
    """The tree `git add -A` would record for `root` now, in a throw-away index (not nanotui's)."""
    env = {**os.environ, **IDENTITY, "GIT_INDEX_FILE": str(scratch_index)}
    scratch_index.unlink(missing_ok=True)
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
    done = subprocess.run(
        ["git", "write-tree"], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    scratch_index.unlink(missing_ok=True)
    return done.stdout.strip()


def checkpoint_trees(root: Path) -> set[str]:
    out = git(root, "for-each-ref", "--format=%(objectname)", "refs/nanotui/")
    return {git(root, "rev-parse", f"{commit}^{{tree}}").strip() for commit in out.split()}


def run_restore(root: Path, checkpoint: str, created: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RESTORE_SCRIPT, str(root), checkpoint, json.dumps(created)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_restore_killed_at_random_moments_never_loses_the_state_before_it(
    tmp_path: Path,
) -> None:
    work = tmp_path / "repo"
    _, checkpoint_id, created = prepared_repository(work)
    original_refs = git(work, "for-each-ref", "--format=%(refname)", "refs/nanotui/").split()
    before = read_state(work)
    before_tree = tree_of_work_tree(work, tmp_path / "scratch-index")
    at_checkpoint, full_run_s = _state_after_full_restore(work, checkpoint_id, created)

    rng = random.Random(20260101)
    rounds_run = killed_mid_way = 0
    for _ in range(ROUNDS):
        _reset(work, before, original_refs)
        process = run_restore(work, checkpoint_id, created)
        try:
            # Most of a run is the interpreter starting; aim the kills at the restore itself.
            time.sleep(rng.uniform(full_run_s * 0.4, full_run_s))
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=10)
        rounds_run += 1
        now = read_state(work)
        if now not in (before, at_checkpoint):
            killed_mid_way += 1
        _assert_nothing_lost(work, now, before, before_tree, at_checkpoint)

    assert rounds_run == ROUNDS
    assert killed_mid_way > 0, "no kill landed while files were being written"


def _reset(work: Path, state: dict, keep_refs: list[str]) -> None:
    """Put the files back as `state` has them and drop the checkpoints the last round made.

    Plain file writes and update-ref, so the check does not lean on the code under test.
    """
    for path in set(read_state(work)) - set(state):
        (work / path).unlink()
    for path, (_, data, executable) in state.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        target.chmod(0o755 if executable else 0o644)
    for ref in git(work, "for-each-ref", "--format=%(refname)", "refs/nanotui/").split():
        if ref not in keep_refs:
            git(work, "update-ref", "-d", ref)


def _state_after_full_restore(
    work: Path, checkpoint_id: str, created: list[str]
) -> tuple[dict, float]:
    """The state a finished restore leaves, and how long one takes from process start."""
    started = time.monotonic()
    process = run_restore(work, checkpoint_id, created)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    elapsed = time.monotonic() - started
    return read_state(work), elapsed


def _assert_nothing_lost(
    work: Path, now: dict, before: dict, before_tree: str, at_checkpoint: dict
) -> None:
    # Every byte of the state before the restore: still on disk, or in some checkpoint.
    assert now == before or before_tree in checkpoint_trees(work)
    # Each file is whole: as it was before, or as the checkpoint has it.
    for path, value in now.items():
        assert value in (before.get(path), at_checkpoint.get(path)), path
