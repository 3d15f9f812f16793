"""The engine and everything beside it import without textual (it is one front end of many)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import nanotui

BLOCKER = """
import importlib, importlib.abc, sys

class NoTextual(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "textual" or name.startswith("textual."):
            raise ImportError("textual is blocked in this test")
        return None

sys.meta_path.insert(0, NoTextual())
for name in sys.argv[1:]:
    importlib.import_module(name)
print("imported", len(sys.argv) - 1)
"""


def non_ui_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(nanotui.__path__, prefix="nanotui."):
        if info.name.startswith(("nanotui.tui", "nanotui.sample_project")):
            continue
        names.append(info.name)
    return names


def test_every_module_outside_tui_imports_without_textual() -> None:
    modules = non_ui_modules()
    assert "nanotui.engine.agent" in modules and "nanotui.cli.main" in modules
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, *modules], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported {len(modules)}"


def test_the_blocker_really_blocks_textual() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, "nanotui.tui.app"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "textual is blocked" in done.stderr
