"""cgroup v2 delegated to nanotui: commands get memory and pids cgroups there too.

This machine runs cgroup v1, so the v2 folder is played by plain files in a temporary
folder; what is checked is the order of the moves v2 demands (no process in a folder that
hands a controller to its children), and the way back when the kernel refuses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nanotui.security.sandbox import cgroup as sandbox_cgroup


@pytest.fixture
def delegated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A v2 scope delegated to us with memory and pids, nanotui its only process."""
    scope = tmp_path / "user.slice" / "run-1.scope"
    scope.mkdir(parents=True)
    (scope / "cgroup.controllers").write_text("cpu memory pids\n")
    (scope / "cgroup.subtree_control").write_text("\n")
    (scope / "cgroup.procs").write_text(str(os.getpid()))
    monkeypatch.setattr(sandbox_cgroup, "CGROUP_ROOT", tmp_path)
    where = {"path": "/user.slice/run-1.scope"}

    def own_cgroups() -> list[str]:
        # Follow our own moves, as /proc/self/cgroup would: the last folder we wrote to.
        ours = [p for p in tmp_path.rglob("cgroup.procs") if p.read_text() == str(os.getpid())]
        if ours:
            last = max(ours, key=lambda procs: procs.stat().st_mtime_ns)
            where["path"] = "/" + str(last.parent.relative_to(tmp_path))
        return [f"0::{where['path']}"]

    monkeypatch.setattr(sandbox_cgroup, "_own_cgroups", own_cgroups)
    return scope


def test_a_delegated_v2_cgroup_takes_commands_after_nanotui_moves_into_a_leaf(
    delegated: Path,
) -> None:
    assert sandbox_cgroup._parent_dir("memory") == delegated
    leaf = delegated / f"nanotui-{os.getpid()}-self"
    assert (leaf / "cgroup.procs").read_text() == str(os.getpid())
    assert (delegated / "cgroup.subtree_control").read_text() == "+memory"
    # Asked again from inside the leaf (for pids): the same folder, no second move.
    assert sandbox_cgroup._parent_dir("pids") == delegated
    assert (delegated / "cgroup.subtree_control").read_text() == "+pids"


def test_a_v2_cgroup_shared_with_another_process_is_left_as_it_was(delegated: Path) -> None:
    # The kernel refuses to enable a controller while another process is in the folder;
    # played by a file that reads but refuses writes.
    refusing = Path("/sys/kernel/uevent_seqnum")
    if not refusing.exists():
        pytest.skip("no read-only file to play the refusal")
    (delegated / "cgroup.subtree_control").unlink()
    (delegated / "cgroup.subtree_control").symlink_to(refusing)
    assert sandbox_cgroup._parent_dir("memory") is None
    # Moved back: the command's cgroups would otherwise be made next to nanotui's leaf.
    leaf_procs = delegated / f"nanotui-{os.getpid()}-self" / "cgroup.procs"
    assert leaf_procs.read_text() == str(os.getpid())  # a plain file here keeps what it had
    assert (delegated / "cgroup.procs").stat().st_mtime_ns >= leaf_procs.stat().st_mtime_ns
    assert sandbox_cgroup._own_cgroups() == ["0::/user.slice/run-1.scope"]


def test_a_v2_cgroup_without_the_controller_is_not_used(delegated: Path) -> None:
    (delegated / "cgroup.controllers").write_text("cpu\n")
    assert sandbox_cgroup._parent_dir("memory") is None
    assert not (delegated / f"nanotui-{os.getpid()}-self").exists()
