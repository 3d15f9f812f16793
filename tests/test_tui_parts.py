"""The TUI's small pure parts: mode cycling, cost wording, diff colours, briefs, styles."""

from __future__ import annotations

from nanotui.tui.modes import is_raise, next_mode
from nanotui.tui.resources import styles_dir
from nanotui.tui.widgets.cost_meter import format_cost
from nanotui.tui.widgets.diff_view import diff_line_style
from nanotui.tui.widgets.tool_call_block import brief


def test_modes_cycle_plan_ask_auto_edit_full_auto_and_back() -> None:
    assert [next_mode(m) for m in ("plan", "ask", "auto-edit", "full-auto")] == [
        "ask",
        "auto-edit",
        "full-auto",
        "plan",
    ]
    assert is_raise("ask", "auto-edit")
    assert not is_raise("full-auto", "plan")


def test_cost_is_never_shown_as_zero_dollars_for_an_unpriced_model() -> None:
    assert format_cost(0.0, priced=False, is_demo=False) == "unpriced"
    assert format_cost(0.0, priced=True, is_demo=True) == "free (offline demo)"
    assert format_cost(0.01234, priced=True, is_demo=False) == "$0.0123"


def test_diff_lines_are_coloured_by_kind() -> None:
    assert diff_line_style("+added") == "$text-success"
    assert diff_line_style("-removed") == "$text-error"
    assert diff_line_style("@@ -1 +1 @@") == "cyan"
    assert diff_line_style("--- a/x.py") == "bold"
    assert diff_line_style(" context") == ""


def test_brief_keeps_the_start_and_says_how_much_was_left_out() -> None:
    text = "\n".join(f"line {i}" for i in range(30))
    shown = brief(text, lines=3)
    assert shown.splitlines() == ["line 0", "line 1", "line 2", "… (27 more lines)"]
    assert brief("short") == "short"


def test_styles_are_found_in_the_source_tree_or_the_wheel() -> None:
    assert (styles_dir() / "app.tcss").is_file()
