"""How fast the chat absorbs a streamed Markdown reply, and the longest event-loop stall.

A headless Textual app hosts the real `ChatView` (anchored to the bottom, styled by
`styles/app.tcss`, beside an empty side column as on the main screen) and streams a long
reply of realistic Markdown into it the way the main screen does: one message per fragment,
each handled by `ChatView.stream_text`, then `ChatView.end_reply`. A fragment is a token of
about four characters. The producer posts one fragment per turn of the event loop, so it goes
exactly as fast as the app takes them (the queue never holds more than a few). Timing runs from
the first fragment to the first frame after the reply is finished.

A monitor task sleeps 5 ms in a loop; its largest overshoot is the longest stall, the longest
time the UI could not react. Full garbage collections are timed too, because on a slow
machine they are the longest stalls of any Textual app; `max_stall_without_gc_ms` is the
longest stall that no collection took part in. The reply is streamed with the app's own
collection schedule (`nanotui.tui.collector`, as the main screen runs it: start-up objects
frozen, collections on a timer between frames), then again with the interpreter's default
collection for comparison; the old way (one `Markdown` fed through `MarkdownStream`) is run
on a smaller count: ratios measured in one run are what count on a shared machine.

    python bench/tui_stream.py [--tokens 20000] [--naive-tokens 2000]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownStream

from nanotui.tui import collector
from nanotui.tui.resources import styles_dir
from nanotui.tui.widgets.chat_view import ChatView

TARGET_TOKENS_PER_S = 2000
TARGET_MAX_STALL_MS = 50
CHARS_PER_TOKEN = 4
MONITOR_SLEEP_S = 0.005
SIZE = (120, 40)
WARM_UP_TOKENS = 400

PROSE = (
    "the agent reads each file before it edits and keeps every change small enough to review "
    "a checkpoint is taken before the turn so nothing the model does is beyond recall while "
    "the sandbox has no network and a read-only root the command still sees the workspace "
    "tests run after each edit and their output returns to the model as a tool result which "
    "it uses to decide the next step budget limits apply per request and per day"
)
WORDS = PROSE.split()
IDENTIFIERS = ("Ledger.spent_today()", "CommandPolicy.decide", "--mode", "NANOTUI_HOME", "y")
CODE = (
    "def restock(item: Item, quantity: int) -> None:",
    '    """Add stock; a non-positive quantity is a caller error."""',
    "    if quantity <= 0:",
    '        raise ValueError(f"quantity must be positive, got {quantity}")',
    "",
    "    item.quantity += quantity",
    "    for watcher in item.watchers:",
    "        watcher.notify(item)",
)


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"`{rng.choice(IDENTIFIERS)}`")
    if rng.random() < 0.2:
        at = rng.randrange(len(words))
        words[at] = f"**{words[at]}**"
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def markdown_block(rng: random.Random, index: int) -> str:
    """One block of the kind a coding model writes: mostly prose, some lists and code."""
    kind = rng.choices(
        ("paragraph", "bullets", "numbers", "code", "heading", "table"),
        weights=(10, 3, 2, 3, 1, 1),
    )[0]
    if kind == "paragraph":
        return " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
    if kind == "bullets":
        return "\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(2, 6)))
    if kind == "numbers":
        return "\n".join(f"{n}. {sentence(rng)}" for n in range(1, rng.randint(3, 6)))
    if kind == "code":
        lines = [rng.choice(CODE) for _ in range(rng.randint(4, 16))]
        return "```python\n" + "\n".join(lines) + "\n```"
    if kind == "heading":
        return f"## Step {index}: {rng.choice(WORDS)} {rng.choice(WORDS)}"
    rows = [f"| {rng.choice(WORDS)} | {rng.randint(1, 999)} | {rng.choice(WORDS)} |" for _ in "abc"]
    return "| name | count | note |\n|---|---:|---|\n" + "\n".join(rows)


def reply_fragments(tokens: int, seed: int = 3) -> list[str]:
    """`tokens` fragments of four characters each, cut from a long Markdown reply."""
    rng = random.Random(seed)
    blocks: list[str] = []
    size = 0
    while size < tokens * CHARS_PER_TOKEN:
        block = markdown_block(rng, len(blocks))
        blocks.append(block)
        size += len(block) + 2
    text = "\n\n".join(blocks)
    step = CHARS_PER_TOKEN
    return [text[at : at + step] for at in range(0, tokens * step, step)]


class NaiveReply(Markdown):
    """The old way, for comparison: one Markdown widget fed through `MarkdownStream`."""

    def __init__(self) -> None:
        super().__init__()
        self.stream: MarkdownStream | None = None

    async def append_fragment(self, fragment: str) -> None:
        if self.stream is None:
            self.stream = Markdown.get_stream(self)
        await self.stream.write(fragment)

    async def finish(self) -> None:
        if self.stream is not None:
            await self.stream.stop()


class Fragment(Message):
    """One streamed fragment; `last` ends the reply (like TextDelta, then AssistantMessage)."""

    def __init__(self, text: str, last: bool) -> None:
        super().__init__()
        self.text = text
        self.last = last


@dataclass
class Pauses:
    """Stalls seen by the monitor and full collections, as (start, end) times."""

    stalls: list[tuple[float, float]] = field(default_factory=list)
    collections: list[tuple[float, float]] = field(default_factory=list)
    _started: float = 0.0

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections.append((self._started, time.perf_counter()))

    def longest(self, *, without_gc: bool = False) -> float:
        def overlaps(start: float, end: float) -> bool:
            return any(s < end and e > start for s, e in self.collections)

        return max(
            (
                end - start - MONITOR_SLEEP_S
                for start, end in self.stalls
                if not (without_gc and overlaps(start, end))
            ),
            default=0.0,
        )


class StreamBench(App[None]):
    """The chat column beside an empty side column, as on the main screen."""

    CSS_PATH = str(styles_dir() / "app.tcss")

    def __init__(self, naive: bool) -> None:
        super().__init__()
        self.naive = naive
        self.naive_reply: NaiveReply | None = None
        self.text = ""
        self.done = asyncio.Event()
        self.ended = 0.0
        self.text_complete = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield ChatView(id="chat")
            yield Vertical(id="side")

    async def on_fragment(self, message: Fragment) -> None:
        chat = self.query_one(ChatView)
        if self.naive:
            if self.naive_reply is None:
                self.naive_reply = NaiveReply()
                await chat.mount(self.naive_reply)
            await self.naive_reply.append_fragment(message.text)
            if message.last:
                await self.naive_reply.finish()
                self.text_complete = self.naive_reply.source == self.text
                self.naive_reply = None
        else:
            await chat.stream_text(message.text)
            if message.last:
                reply = chat._reply
                await chat.end_reply(self.text)
                self.text_complete = reply is not None and reply.text == self.text
        if message.last:
            # Settled: the first frame after the finished reply has been laid out and drawn.
            self.call_after_refresh(self._settled)

    def _settled(self) -> None:
        self.ended = time.perf_counter()
        self.done.set()

    async def stream(self, fragments: list[str]) -> float:
        """Post every fragment, yielding after each as a read from the network would; the
        seconds until the finished reply is on the screen."""
        self.text = "".join(fragments)
        self.done.clear()
        started = time.perf_counter()
        last = len(fragments) - 1
        for index, fragment in enumerate(fragments):
            self.post_message(Fragment(fragment, index == last))
            await asyncio.sleep(0)
        await self.done.wait()
        return self.ended - started


async def monitor(pauses: Pauses, stop: asyncio.Event) -> None:
    """Sleep 5 ms at a time and note every time the loop came back late."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(MONITOR_SLEEP_S)
        after = time.perf_counter()
        if after - before > MONITOR_SLEEP_S + 0.001:
            pauses.stalls.append((before, after))


async def measure(tokens: int, *, naive: bool, schedule: bool) -> dict[str, Any]:
    """Stream a short reply first (the first code block imports its lexer, and so on: a
    one-time cost of the session, not of streaming), then the measured one."""
    app = StreamBench(naive)
    pauses = Pauses()
    stop = asyncio.Event()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.stream(reply_fragments(WARM_UP_TOKENS, seed=1))
        await pilot.pause()
        if schedule:
            collector.start(app.screen)
        gc.callbacks.append(pauses.on_gc)
        watcher = asyncio.create_task(monitor(pauses, stop))
        seconds = await app.stream(reply_fragments(tokens))
        stop.set()
        await watcher
        gc.callbacks.remove(pauses.on_gc)
        collector.stop()
    return {
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds),
        "max_stall_ms": round(pauses.longest() * 1000, 1),
        "max_gc_pause_ms": round(max((e - s for s, e in pauses.collections), default=0) * 1000, 1),
        "full_collections": len(pauses.collections),
        "max_stall_without_gc_ms": round(pauses.longest(without_gc=True) * 1000, 1),
        "text_complete": app.text_complete,
    }


def passed(result: dict[str, Any]) -> bool:
    return (
        result["text_complete"]
        and result["tokens_per_s"] >= TARGET_TOKENS_PER_S
        and result["max_stall_ms"] <= TARGET_MAX_STALL_MS
    )


def run_variant(variant: str, tokens: int) -> dict[str, Any]:
    """One measurement in a fresh interpreter, as the app runs: no state left by another."""
    command = [sys.executable, __file__, "--variant", variant, "--tokens", str(tokens)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def main(tokens: int, naive_tokens: int) -> dict[str, Any]:
    summary = run_variant("reply", tokens)
    summary |= {
        "target_tokens_per_s": TARGET_TOKENS_PER_S,
        "target_max_stall_ms": TARGET_MAX_STALL_MS,
        "pass": passed(summary),
    }
    default = run_variant("reply-default-gc", tokens)
    summary["default_gc"] = default | {"pass": passed(default)}
    if naive_tokens:
        summary["naive"] = run_variant("naive", naive_tokens)
    return summary


VARIANTS = {
    "reply": {"naive": False, "schedule": True},
    "reply-default-gc": {"naive": False, "schedule": False},
    "naive": {"naive": True, "schedule": False},
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--naive-tokens", type=int, default=2_000)
    parser.add_argument("--variant", choices=list(VARIANTS), help="run one measurement only")
    args = parser.parse_args()
    if args.variant:
        result = asyncio.run(measure(args.tokens, **VARIANTS[args.variant]))
    else:
        result = main(args.tokens, args.naive_tokens)
    print(json.dumps(result))
