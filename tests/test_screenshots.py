"""The screenshot script drives the real app through every view the README shows."""

from __future__ import annotations

import html
import importlib.util
import os
import re
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "screenshots" / "make_screenshots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_script():
    spec = importlib.util.spec_from_file_location("make_screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def svg_text(path: Path) -> str:
    """The words on screen: Textual's SVG spells spaces as &#160; inside <text> elements."""
    parts = re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text(encoding="utf-8"))
    return html.unescape("".join(parts)).replace("\xa0", " ")


def test_every_view_is_saved_as_svg_and_png(tmp_path: Path, capsys) -> None:
    script = load_script()
    environ = dict(os.environ)
    assert script.main([str(tmp_path)]) == 0
    assert dict(os.environ) == environ  # HOME and NANOTUI_HOME were put back

    for view in script.VIEWS:
        svg, png = tmp_path / f"{view}.svg", tmp_path / f"{view}.png"
        assert svg.read_text(encoding="utf-8").startswith("<svg"), view
        assert png.read_bytes()[:8] == PNG_SIGNATURE, view
        assert png.stat().st_size > 20_000, view  # a drawn screen, not an empty canvas
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{view}.{ext}" for view in script.VIEWS for ext in ("svg", "png")
    )

    # Each image shows what its name promises.
    promised = {
        "diff-approval": "Approval needed",
        "command-approval": "python3 -m unittest discover",
        "main-mid-session": "One test fails",
        "session-done": "The tests pass now.",
        "timeline-filtered": "“unittest”",
        "checkpoint-browser": "demo/1 → now",
        "restore-confirmation": "Restore demo/1?",
        "cost-meter-near-budget": "Spending has passed 75% of the session budget",
    }
    for view, words in promised.items():
        assert words in svg_text(tmp_path / f"{view}.svg"), view
    printed = capsys.readouterr().out.splitlines()
    assert sorted(printed) == sorted(f"{view}.svg  {view}.png" for view in script.VIEWS)
