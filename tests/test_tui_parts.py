"""The TUI's small parts: mode cycling, cost wording, diff colours, briefs, styles, and the
classes a tool block wears."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.color import Color
from textual.dom import DOMNode

from nanotui.tui.modes import is_raise, next_mode
from nanotui.tui.resources import styles_dir
from nanotui.tui.widgets.cost_meter import format_cost
from nanotui.tui.widgets.diff_view import diff_line_style
from nanotui.tui.widgets.tool_call_block import (
    STATUS_LABELS,
    ToolCallBlock,
    brief,
    preview,
    preview_content,
)


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


def test_brief_says_one_more_line_in_the_singular() -> None:
    assert brief("a\nb\nc", lines=2).splitlines()[-1] == "… (1 more line)"


def test_preview_keeps_the_first_and_last_two_lines_and_counts_the_rest() -> None:
    text = "\n".join(f"line {i}" for i in range(10)) + "\n"
    assert preview(text) == (["line 0", "line 1"], 6, ["line 8", "line 9"])
    # Five lines come whole: "1 more line" would take the room of the line it hides.
    five = "a\nb\nc\nd\ne"
    assert preview(five) == (["a", "b", "c", "d", "e"], 0, [])
    assert preview("\n\nonly\n\n") == (["only"], 0, [])
    assert preview("") == ([], 0, [])


def test_preview_shows_markup_in_the_output_as_text() -> None:
    text = "[bold red]alarm[/]\n[link=https://x.example]click[/link]\n3\n4\n5\n6"
    shown = preview_content(text)
    assert shown.plain.splitlines() == [
        "[bold red]alarm[/]",
        "[link=https://x.example]click[/link]",
        "… 2 more lines",
        "5",
        "6",
    ]
    # Nothing is styled but the count: no colour, bold or link came from the output.
    assert [shown.plain[span.start : span.end] for span in shown.spans] == ["… 2 more lines"]


def test_a_write_previews_its_summary_and_changed_lines_in_colour() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-old = 1\n+new = 2\n keep\n"
    shown = preview_content(f"Wrote x.py (+1 -1 lines)\n\n{diff}", diff)
    assert shown.plain.splitlines() == ["Wrote x.py (+1 -1 lines)", "-old = 1", "+new = 2"]
    styles = {shown.plain[span.start : span.end]: str(span.style) for span in shown.spans}
    assert styles["-old = 1"] == "$text-error"
    assert styles["+new = 2"] == "$text-success"


def test_styles_are_found_in_the_source_tree_or_the_wheel() -> None:
    assert (styles_dir() / "app.tcss").is_file()


async def test_a_tool_block_s_title_wears_the_class_of_its_status_only() -> None:
    class Host(App[None]):
        CSS_PATH = str(styles_dir() / "app.tcss")
        AUTO_FOCUS = None  # a focused title wears the cursor's colour, whatever its status

        def compose(self) -> ComposeResult:
            yield ToolCallBlock("call_1", "write_file", "write_file a.py", "{}")

    async with Host().run_test() as pilot:
        block = pilot.app.query_one(ToolCallBlock)
        title = block.title_widget

        def status_classes() -> list[str]:
            return sorted(c for c in title.classes if c[1:] in STATUS_LABELS)

        seen = [status_classes()]
        # Each change restyles the title alone, once: a restyle is a pass of the app's style
        # rules over a node and all below it, and a batch's changes queue in front of the
        # next reply's words.
        restyled: list[object] = []
        restyle = pilot.app.update_styles

        def counted(node: DOMNode, animate: bool = True) -> None:
            restyled.append(node)
            restyle(node, animate)

        pilot.app.update_styles = counted  # type: ignore[method-assign]
        for status in ("running", "ok", "failed"):
            block.status = status
            await pilot.pause()
            seen.append(status_classes())
        assert seen == [["-proposed"], ["-running"], ["-ok"], ["-failed"]]
        assert restyled.count(title) == 3 and block not in restyled
        preview = block.query_one(".tool-preview")
        assert preview.styles.display == "none"  # nothing to show yet
        block.set_result("one\ntwo\n")
        await pilot.pause()
        assert block not in restyled  # a result restyles its preview row, not the block
        assert preview.styles.display == "block"  # shown while the block is folded
        # The colour the status gives the title, from the app's stylesheet.
        assert title.styles.color == Color.parse(pilot.app.get_css_variables()["text-error"])
