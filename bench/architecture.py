"""The shape of the code, as numbers: lines, big files, and imports that cross the layers.

    python bench/architecture.py [--root nanotui]

Prints one JSON object:
- `lines`, `files`: Python lines and files under the package;
- `files_over_400_lines`: each such file with its length (a file that long usually holds
  more than one idea);
- `tui_crossings`: every `import` in `nanotui/tui/` of a package other than the engine (and
  `client`, the same session served by `nanotui serve`), the protocol and the ground-floor
  modules (`config`, `config_loading`, `paths`): the screens should learn about the rest
  only through the engine's facade.

It reads the source with `ast`, so it imports nothing of the package and runs on any checkout.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

# What the app may import: the engine's facade, local or remote (the app opens a
# RemoteSession for --server), the shared vocabulary, and the ground floor.
TUI_MAY_IMPORT = ("nanotui.tui", "nanotui.engine", "nanotui.client", "nanotui.protocol")
GROUND_FLOOR = ("nanotui.config", "nanotui.config_loading", "nanotui.paths")
BIG_FILE_LINES = 400


def imported_modules(source: str) -> list[str]:
    """The nanotui modules a file imports, at any depth (lazy imports inside functions too)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "nanotui":
            found.extend(
                f"nanotui.{alias.name}" for alias in node.names
            )  # from nanotui import paths
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name == "nanotui" or name.startswith("nanotui.")]


def is_allowed_for_tui(module: str) -> bool:
    allowed = TUI_MAY_IMPORT + GROUND_FLOOR
    if module == "nanotui":  # the package itself: where it is installed, its version
        return True
    return any(module == prefix or module.startswith(prefix + ".") for prefix in allowed)


def measure(root: Path) -> dict:
    files = sorted(root.rglob("*.py"))
    files = [path for path in files if "sample_project" not in path.parts]
    lengths = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in files}
    crossings = []
    tui = root / "tui"
    for path in files:
        if tui not in path.parents:
            continue
        for module in imported_modules(path.read_text(encoding="utf-8")):
            if not is_allowed_for_tui(module):
                crossings.append(f"{path.relative_to(root.parent)} -> {module}")
    big = {
        str(path.relative_to(root.parent)): count
        for path, count in sorted(lengths.items(), key=lambda item: -item[1])
        if count > BIG_FILE_LINES
    }
    return {
        "lines": sum(lengths.values()),
        "files": len(files),
        "files_over_400_lines": big,
        "tui_crossings_count": len(crossings),
        "tui_crossings": crossings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).parent.parent / "nanotui")
    args = parser.parse_args()
    print(json.dumps(measure(args.root), indent=2))


if __name__ == "__main__":
    main()
