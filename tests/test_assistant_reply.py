"""AssistantReply: a streamed reply freezes finished blocks yet reads like the whole text."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.pilot import Pilot

from nanotui.tui.widgets import assistant_reply, markdown_code, markdown_lines
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.markdown_blocks import parse_blocks

SAMPLE = """\
# Plan for the fix

The failing test is `test_restock_rejects_zero`. It expects a **ValueError** when the
quantity is *not positive*; see <https://example.com/docs>. `List<T>` keeps its `<T>`.

## Steps

1. Read `inventory.py` and find `restock`.

2. Add the guard:
   - reject zero
   - reject negatives

3. Run the tests.

```python
def restock(item: Item, quantity: int) -> None:
    \"\"\"Add stock.\"\"\"


    if quantity <= 0:
        raise ValueError(f"quantity must be positive, got {quantity}")
```

| file | change | lines |
|------|:------:|------:|
| inventory.py | guard added | 3 |
| test_inventory.py | none | 0 |

> The sandbox has no network.

---

Done: **2** files checked, `pytest -q` passes.
"""

SIZE = (90, 80)


class ReplyApp(App[None]):
    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="chat")


@pytest.fixture
def flush_every_fragment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw after every fragment, so each possible freezing point is exercised."""
    monkeypatch.setattr(assistant_reply, "MIN_FLUSH_INTERVAL_S", 0.0)
    monkeypatch.setattr(assistant_reply, "FLUSH_COST_FACTOR", 0.0)


async def mount_reply(pilot: Pilot[None], reply: AssistantReply) -> AssistantReply:
    await pilot.app.query_one("#chat").mount(reply)
    await pilot.pause()
    return reply


async def stream(pilot: Pilot[None], reply: AssistantReply, fragments: list[str]) -> None:
    for fragment in fragments:
        await reply.append_fragment(fragment)
        await pilot.pause()


def random_fragments(text: str, seed: int = 7) -> list[str]:
    """Cut `text` into fragments of 1 to 9 characters, as a model's tokens would."""
    rng = random.Random(seed)
    fragments, at = [], 0
    while at < len(text):
        size = rng.randint(1, 9)
        fragments.append(text[at : at + size])
        at += size
    return fragments


def screen_lines(reply: AssistantReply) -> list[tuple[str, list[Style | None]]]:
    """What the reply shows: each line's text and its segments' styles."""
    width, height = reply.size
    strips = reply.render_lines(Region(0, 0, width, height))
    return [(strip.text, [segment.style for segment in strip]) for strip in strips]


def frozen_sources(reply: AssistantReply) -> list[str]:
    return [block.source for block in reply._frozen]


async def test_streamed_reply_reads_the_same_as_the_whole_text_drawn_at_once(
    flush_every_fragment: None,
) -> None:
    async with ReplyApp().run_test(size=SIZE) as pilot:
        streamed = await mount_reply(pilot, AssistantReply())
        await stream(pilot, streamed, random_fragments(SAMPLE))
        assert len(streamed._frozen) > 5  # blocks were frozen along the way
        await streamed.finish()
        whole = await mount_reply(pilot, AssistantReply(SAMPLE))
        await pilot.pause()

        assert streamed.size == whole.size
        assert screen_lines(streamed) == screen_lines(whole)
        text = "\n".join(line for line, _ in screen_lines(whole))
        for shown in ("Plan for the fix", "List<T> keeps its <T>", "1. Read", "3. Run"):
            assert shown in text
        assert "raise ValueError" in text
        assert "inventory.py      │ guard added │     3" in text


async def test_a_code_fence_with_blank_lines_is_never_split(flush_every_fragment: None) -> None:
    fence = "```python\ndef f():\n\n\n    return 1\n\n\nx = f()\n```\n"
    text = f"Before the code.\n\n{fence}\nAfter the code.\n"
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        for fragment in random_fragments(text, seed=3):
            await stream(pilot, reply, [fragment])
            for source in frozen_sources(reply):
                if source.startswith("```"):
                    assert source.rstrip("\n").endswith("```"), source
                assert len(parse_blocks(source)) == 1
        assert frozen_sources(reply)[:2] == ["Before the code.\n\n", fence + "\n"]
        await reply.finish()
        await pilot.pause()
        shown = [line.strip() for line, _ in screen_lines(reply)]
        start = shown.index("def f():")
        assert shown[start : start + 7] == ["def f():", "", "", "return 1", "", "", "x = f()"]


async def test_a_loose_list_streamed_line_by_line_stays_one_list(
    flush_every_fragment: None,
) -> None:
    # A line "1" alone is a paragraph that would end the list; once it reads "1. second"
    # it continues the list. Freezing the list early would number every item 1.
    text = "1. first\n\n1. second\n\n1. third\n\nafter\n"
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        await stream(pilot, reply, list(text))
        await reply.finish()
        await pilot.pause()
        shown = [line.rstrip() for line, _ in screen_lines(reply)]
        assert shown[:5] == [" 1. first", "", " 2. second", "", " 3. third"]


async def test_text_holds_the_whole_reply_as_written() -> None:
    fragments = ["Line one\r", "\nline two\r\n", "\r", "\n\n- item", "\r"]
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        await stream(pilot, reply, fragments)
        assert reply.text == "".join(fragments)
        await reply.finish()
        await pilot.pause()
        assert reply.text == "".join(fragments)
        shown = [line.rstrip() for line, _ in screen_lines(reply)]
        assert shown == ["Line one line two", "", "• item"]


async def test_a_reply_given_whole_keeps_its_text() -> None:
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply(SAMPLE))
        assert reply.text == SAMPLE
        assert reply.size.height > 30


async def test_finish_interrupted_marks_the_reply() -> None:
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        await stream(pilot, reply, ["Half a sen", "tence"])
        await reply.finish(interrupted=True)
        await pilot.pause()
        assert reply.has_class("-interrupted")
        assert reply.text == "Half a sentence"
        assert screen_lines(reply)[0][0].rstrip() == "Half a sentence"


async def test_a_long_fence_highlighted_a_little_at_a_time_ends_like_the_whole(
    flush_every_fragment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time for highlighting: each drawing highlights one chunk and draws the rest plain,
    # then draws again; in the end every chunk is highlighted, as when drawn at once.
    monkeypatch.setattr(markdown_lines, "HIGHLIGHT_BUDGET_S", 0.0)
    body = "\n".join(f'    total += price[{n}]  # "item {n}"' for n in range(120))
    text = (
        f"Code:\n\n```python\ndef f(price):\n    total = 0\n{body}\n    return total\n```\n\nEnd.\n"
    )
    async with ReplyApp().run_test(size=SIZE) as pilot:
        streamed = await mount_reply(pilot, AssistantReply())
        await stream(pilot, streamed, [text[at : at + 300] for at in range(0, len(text), 300)])
        await streamed.finish()
        whole = await mount_reply(pilot, AssistantReply(text))

        def highlighted(reply: AssistantReply) -> bool:
            code = [styles for line, styles in screen_lines(reply) if "total +=" in line]
            colours = [{style.color for style in styles if style} for styles in code]
            return len(code) == 120 and all(len(line) >= 3 for line in colours)

        for _ in range(200):
            if highlighted(streamed) and highlighted(whole):
                break
            await pilot.pause(0.02)
        assert highlighted(streamed) and highlighted(whole)
        assert screen_lines(streamed) == screen_lines(whole)


@pytest.fixture
def slow_lexers(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """No lexer made yet in this process, and making one waits until the event is set."""
    made = threading.Event()
    make = markdown_code._make_lexer
    monkeypatch.setattr(markdown_code, "_lexers_ready", set())
    monkeypatch.setattr(markdown_code, "_lexers_asked", set())
    monkeypatch.setattr(markdown_code, "_make_lexer", lambda lang: (made.wait(10), make(lang)))
    return made


def code_colours(reply: AssistantReply, marker: str) -> list[set[object]]:
    """The colours on each shown line that holds `marker`."""
    lines = [styles for line, styles in screen_lines(reply) if marker in line]
    return [{style.color for style in styles if style} for styles in lines]


async def test_a_language_seen_first_while_streaming_is_drawn_plain_until_its_lexer_is_made(
    flush_every_fragment: None, slow_lexers: threading.Event
) -> None:
    # Making a lexer compiles its rules (Python's take about 20 ms): done on the loop, it froze
    # the stream at its first fence. Now the code shows plain, then highlighted.
    text = "Code:\n\n```python\ndef f(price):\n    return price  # the total\n```\n\nMore"
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        await stream(pilot, reply, [text[at : at + 7] for at in range(0, len(text), 7)])
        plain = code_colours(reply, "return price")
        assert len(plain) == 1 and len(plain[0]) <= 2, "highlighted before the lexer was made"
        assert reply.streaming
        slow_lexers.set()
        await wait_until(pilot, lambda: len(code_colours(reply, "return price")[0]) >= 3)
        await reply.finish()
        whole = await mount_reply(pilot, AssistantReply(text))
        assert screen_lines(reply) == screen_lines(whole)


async def test_a_finished_reply_is_highlighted_at_once_even_if_its_lexer_was_not_ready(
    flush_every_fragment: None, slow_lexers: threading.Event
) -> None:
    text = "```python\nwhile True:\n    pass  # loop\n```\n"
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        await stream(pilot, reply, [text[:20], text[20:]])
        await reply.finish()  # the lexer's thread is still waiting: made here instead
        await pilot.pause()
        assert len(code_colours(reply, "pass  # loop")[0]) >= 3
        slow_lexers.set()


async def wait_until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    for _ in range(250):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("timed out")


async def test_a_lexer_that_fails_to_be_made_leaves_its_code_plain_and_the_others_coming(
    flush_every_fragment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broken Pygments plugin: making its lexer raises. The code stays plain, and the one
    # thread that makes lexers goes on to the next language.
    from pygments import lexers

    real = lexers.get_lexer_by_name

    def broken(name: str, **options: object) -> object:
        if name == "brokenlang":
            raise RuntimeError("a broken plugin")
        return real(name, **options)

    monkeypatch.setattr(lexers, "get_lexer_by_name", broken)
    monkeypatch.setattr(markdown_code, "_lexers_ready", set())
    monkeypatch.setattr(markdown_code, "_lexers_asked", set())
    text = "```brokenlang\nx = 1\n```\n\n```python\ndef f():\n    return 2  # two\n```\n\nMore"
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        await stream(pilot, reply, [text[at : at + 9] for at in range(0, len(text), 9)])
        await wait_until(pilot, lambda: len(code_colours(reply, "return 2")[0]) >= 3)
        assert "brokenlang" in markdown_code._lexers_ready


async def test_words_added_to_the_last_line_repaint_the_reply_without_a_layout(
    flush_every_fragment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A layout redraws every widget of the screen: at a model's pace (100 tokens/s) the
    # app spent 41% of a core streaming; words that keep the reply's height need a repaint.
    async with ReplyApp().run_test(size=SIZE) as pilot:
        reply = await mount_reply(pilot, AssistantReply())
        await stream(pilot, reply, ["Hello"])
        layouts: list[bool] = []
        refresh = reply.refresh

        def spy(*regions: object, layout: bool = False, **kwargs: object) -> object:
            layouts.append(layout)
            return refresh(*regions, layout=layout, **kwargs)

        monkeypatch.setattr(reply, "refresh", spy)
        await stream(pilot, reply, [" world", ", and more"])
        assert layouts and not any(layouts)
        assert screen_lines(reply)[0][0].rstrip() == "Hello world, and more"
        await stream(pilot, reply, ["\n\nA second paragraph."])
        assert layouts[-1] is True  # taller: laid out again
        assert [line.rstrip() for line, _ in screen_lines(reply)][:3] == [
            "Hello world, and more",
            "",
            "A second paragraph.",
        ]


def test_code_drawn_plain_for_now_never_waits_for_the_lexer_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # While the thread makes Python's lexer, a fence waiting for it is drawn plain at once:
    # drawing it through Pygments' plain-text lexer had to wait its turn (a 58 ms stall).
    import time

    from nanotui.tui.widgets.markdown_code import HighlightBudget, render_code

    class LexerThreadBusy:
        def __enter__(self) -> None:
            raise AssertionError("waited for the lexer thread")

        def __exit__(self, *exc_info: object) -> None:
            return None

    monkeypatch.setattr(markdown_code, "_lexers_ready", set())
    monkeypatch.setattr(markdown_code, "_lexers_asked", {"python"})  # asked already
    monkeypatch.setattr(markdown_code, "_making", LexerThreadBusy())
    budget = HighlightBudget(time.monotonic() + 1, lexers_later=True)
    lines = render_code("def f():\n    return 1\n", "python", 40, {}, budget)
    assert budget.refused == 1 and any("return 1" in line.plain for line in lines)


def test_the_commonest_lexers_are_made_once_the_app_has_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Made at a reply's first fence, Python's lexer competed with the stream's drawing: the
    longest silences of a streamed reply began there. The app has it made while the user
    types the first prompt."""
    from nanotui.tui import launch

    monkeypatch.setattr(markdown_code, "_lexers_ready", set())
    monkeypatch.setattr(markdown_code, "_lexers_asked", set())
    launch.warm_up_lexers()  # as the main screen opens
    assert "python" in launch.WARM_LANGUAGES
    deadline = time.monotonic() + 10
    while not all(lang in markdown_code._lexers_ready for lang in launch.WARM_LANGUAGES):
        assert time.monotonic() < deadline, "the lexers were not made"
        time.sleep(0.01)
