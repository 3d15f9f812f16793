"""The offline demo's script: what the scripted model says next, read off the conversation.

The next step is decided only from the current turn's messages (the tool calls made since the
last user message and their results), never from a counter kept on the side, so the demo
behaves the same after a resume and reacts to refusals, rejections and surprising results.
Every path ends in a text reply with no tool calls within `MAX_STEPS` replies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from nanotui.protocol.model_io import Message, ToolCall

TEST_COMMAND = "python3 -m unittest discover -s tests -q"
MODULE = "inventory.py"
TEST_FILE = "tests/test_inventory.py"
MAX_STEPS = 8
"""Replies with tool calls after which the demo always closes, whatever happened."""

# The improvement: document `restock` (AGENTS.md asks for docstrings) and validate its input
# like `add_item` does. A single-line old_string still matches when read_file numbers lines.
IMPROVE_OLD = "def restock(stock: dict[str, Item], name: str, quantity: int) -> int:"
IMPROVE_NEW = (
    IMPROVE_OLD + "\n"
    '    """Add `quantity` units of an item we already hold and return the new count."""\n'
    "    if quantity <= 0:\n"
    '        raise ValueError(f"cannot restock {quantity} units; the quantity must be positive")'
)
# The sample's one bug: the docstring of `low_stock` says "at or below" but the code says `<`.
FIX_OLD = "item.quantity < threshold"
FIX_NEW = "item.quantity <= threshold"

INTRO = (
    "Offline demo: this scripted session walks through the sample project, whatever you asked. "
    "First, a look at what is here."
)
CLOSING = (
    "This was nanotui's offline demo, a scripted model. Connect a real one (--provider, "
    "--base-url, --model) to ask for anything you like."
)


@dataclass(frozen=True)
class DemoReply:
    """One scripted reply: text to stream, then tool calls as (name, arguments)."""

    text: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """One tool call of this turn with its result (None if the engine sent none back)."""

    call: ToolCall
    args: dict[str, Any]
    result: Message | None

    @property
    def ok(self) -> bool:
        return self.result is not None and not self.result.is_error

    @property
    def output(self) -> str:
        return self.result.content if self.result is not None else "no result came back"


@dataclass(frozen=True)
class TestRun:
    """What a run of the test command showed; `passed` is None when no tests ran at all."""

    passed: bool | None
    count: int | None = None
    failing: tuple[str, ...] = ()


def next_reply(messages: list[Message], tools: set[str] | None = None) -> DemoReply:
    """Decide the next scripted reply from the conversation; `tools` None means all offered."""
    turn = _current_turn(messages)
    if turn and turn[-1].role == "assistant" and not turn[-1].tool_calls:
        # The walk already closed; being asked again must not restart it mid-turn.
        return DemoReply("The scripted walk is finished. " + CLOSING)
    replies = _steps_by_reply(turn)
    history = [step for reply in replies for step in reply]
    if len(replies) >= MAX_STEPS:
        return _finish("I have taken as many steps as this demo allows.", history)
    reply = _decide(replies, history)
    for name, _ in reply.calls:
        if tools is not None and name not in tools:
            return _finish(
                reply.text + f"\n\nThis session does not offer the `{name}` tool (plan mode "
                "offers only the read-only ones), so I stop here.",
                history,
            )
    return reply


def _decide(replies: list[list[Step]], history: list[Step]) -> DemoReply:
    if not replies:
        return DemoReply(INTRO, [("list_dir", {"path": "."})])
    last = replies[-1]
    names = [step.call.name for step in last]
    if names == ["list_dir"]:
        return _after_listing(last[0], history)
    if names and all(name == "read_file" for name in names):
        return _after_reading(last, history)
    if names == ["edit_file"]:
        new_string = last[0].args.get("new_string")
        if new_string == IMPROVE_NEW:
            return _after_edit(last[0], history, "the change to `restock`")
        if new_string == FIX_NEW:
            return _after_edit(last[0], history, "the fix to `low_stock`")
    if names == ["run_command"]:
        return _after_tests(last[0], history)
    return _finish("That result is not part of this demo's script.", history)


def _after_listing(step: Step, history: list[Step]) -> DemoReply:
    if not step.ok:
        return _finish(f"I could not list the folder: {_sentence(step.output)}", history)
    if MODULE not in step.output:
        return _finish(
            f"This folder has no `{MODULE}`, so it is not nanotui's sample project and the "
            "scripted demo has nothing to do here. Run `nanotui --demo` to try it on a fresh copy.",
            history,
        )
    return DemoReply(
        "A small stock-keeping module with its tests and an AGENTS.md. "
        "I'll read the module and its tests together.",
        [("read_file", {"path": MODULE}), ("read_file", {"path": TEST_FILE})],
    )


def _after_reading(steps: list[Step], history: list[Step]) -> DemoReply:
    failed = [step for step in steps if not step.ok]
    if failed:
        path = failed[0].args.get("path", "a file")
        return _finish(f"I could not read `{path}`: {_sentence(failed[0].output)}", history)
    if not _needs_docstring(_module_text(history)):
        return DemoReply(
            "Every function here is documented already, so there is nothing to tidy. "
            "Let me run the tests with the command from AGENTS.md.",
            [("run_command", {"command": TEST_COMMAND})],
        )
    return DemoReply(
        "AGENTS.md asks for every public function to be documented, and `restock` is the one "
        "without a docstring. Unlike `add_item` it also accepts a negative quantity, which "
        "would quietly shrink the stock. I'll document it and make it refuse quantities that "
        "are not positive.",
        [("edit_file", {"path": MODULE, "old_string": IMPROVE_OLD, "new_string": IMPROVE_NEW})],
    )


def _after_edit(step: Step, history: list[Step], what: str) -> DemoReply:
    if not step.ok:
        reason = _rejection_reason(step.output)
        if reason is None:
            opening = (
                f"{what.capitalize()} was not applied: {_sentence(step.output)} I'll stop here."
            )
        elif reason:
            opening = f'You rejected {what}: "{reason}". Understood; I\'ll leave it and stop here.'
        else:
            opening = f"You rejected {what}. Understood; I'll leave it and stop here."
        return _finish(opening, history)
    if step.args.get("new_string") == FIX_NEW:
        return DemoReply(
            "Fixed. Running the tests again to check.",
            [("run_command", {"command": TEST_COMMAND})],
        )
    return DemoReply(
        "Done. Now the tests, with the command from AGENTS.md.",
        [("run_command", {"command": TEST_COMMAND})],
    )


def _after_tests(step: Step, history: list[Step]) -> DemoReply:
    run = parse_test_output(step.output)
    if run.passed is None:
        return _finish(f"I could not run the tests: {_sentence(step.output)}", history)
    if _fix_applied(history):
        return _finish("The tests pass now." if run.passed else "The tests still fail.", history)
    if run.passed:
        passing = passing_tests(run.count)
        return _finish(f"{passing[0].upper()}{passing[1:]}, so there is no bug to fix.", history)
    module = _module_text(history)
    if "test_low_stock_includes_items_at_threshold" not in run.failing or (
        module.count(FIX_OLD) != 1
    ):
        failing = ", ".join(f"`{name}`" for name in run.failing) or "some tests"
        return _finish(
            f"The tests fail ({failing}), but not in a way this scripted demo knows how to fix.",
            history,
        )
    return DemoReply(
        "One test fails: `test_low_stock_includes_items_at_threshold`. It holds exactly 3 nuts "
        "and expects them on the reorder list at a threshold of 3. The docstring of `low_stock` "
        'agrees ("at or below"), but the code compares with `<`. The function is wrong, not '
        "the test, so I'll change `<` to `<=`.",
        [("edit_file", {"path": MODULE, "old_string": FIX_OLD, "new_string": FIX_NEW})],
    )


def passing_tests(count: int | None) -> str:
    """`all 7 tests pass`, `the one test passes`, or `all the tests pass` (count unknown)."""
    if count == 1:
        return "the one test passes"
    return f"all {count or 'the'} tests pass"


def _finish(opening: str, history: list[Step]) -> DemoReply:
    """Close the walk: say what happened, list what changed and how the tests stand."""
    lines = [opening, "", "Summary:"]
    if _edit_applied(history, IMPROVE_NEW):
        lines.append("- `restock` is documented and refuses quantities that are not positive.")
    if _fix_applied(history):
        lines.append("- `low_stock` now includes items exactly at the threshold (`<` -> `<=`).")
    if len(lines) == 3:
        lines.append("- No files were changed.")
    runs = [step for step in history if step.call.name == "run_command"]
    if not runs:
        lines.append("- The tests were not run.")
    else:
        run = parse_test_output(runs[-1].output)
        if run.passed is None:
            lines.append(f"- The tests could not be run: {_sentence(runs[-1].output)}")
        elif run.passed:
            lines.append(f"- `{TEST_COMMAND}`: {passing_tests(run.count)}.")
        else:
            lines.append(f"- `{TEST_COMMAND}`: {len(run.failing) or 'some'} failing.")
    lines += ["", CLOSING]
    return DemoReply("\n".join(lines))


# ---- reading the conversation ----------------------------------------------------------


def _current_turn(messages: list[Message]) -> list[Message]:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return messages[index + 1 :]
    return list(messages)


def _steps_by_reply(turn: list[Message]) -> list[list[Step]]:
    results = {m.tool_call_id: m for m in turn if m.role == "tool" and m.tool_call_id}
    replies: list[list[Step]] = []
    for message in turn:
        if message.role == "assistant" and message.tool_calls:
            replies.append(
                [Step(call, _args(call), results.get(call.id)) for call in message.tool_calls]
            )
    return replies


def _args(call: ToolCall) -> dict[str, Any]:
    try:
        parsed = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _module_text(history: list[Step]) -> str:
    for step in history:
        if step.call.name == "read_file" and step.ok and step.args.get("path") == MODULE:
            return step.output
    return ""


def _needs_docstring(module: str) -> bool:
    """Whether `restock` is still undocumented (the line after its `def` opens no docstring)."""
    if module.count(IMPROVE_OLD) != 1:
        return False
    after = module.split(IMPROVE_OLD, 1)[1].splitlines()
    # read_file may number lines, so look for the quotes anywhere on the next line.
    return len(after) < 2 or '"""' not in after[1]


def _edit_applied(history: list[Step], new_string: str) -> bool:
    return any(
        step.call.name == "edit_file" and step.ok and step.args.get("new_string") == new_string
        for step in history
    )


def _fix_applied(history: list[Step]) -> bool:
    return _edit_applied(history, FIX_NEW)


# Not anchored at line starts: the run_command tool may label or indent the streams it returns.
_RAN = re.compile(r"\bRan (\d+) tests? in ")
_OK = re.compile(r"(?:^|\s)OK(?: \([^)]*\))?\s*$", re.MULTILINE)
_FAILED = re.compile(r"\bFAILED \(")
_FAILING = re.compile(r"\b(?:FAIL|ERROR): (\w+)")


def parse_test_output(output: str) -> TestRun:
    """Read unittest's summary lines; anything else (a refusal, no python3) ran no tests."""
    ran = _RAN.search(output)
    count = int(ran.group(1)) if ran else None
    if _FAILED.search(output):
        return TestRun(False, count, tuple(dict.fromkeys(_FAILING.findall(output))))
    if ran and _OK.search(output):
        return TestRun(True, count)
    return TestRun(None)


def _rejection_reason(output: str) -> str | None:
    """None if the edit failed for another reason; "" if rejected without a reason."""
    if "reject" not in output.lower():
        return None
    match = re.search(r"rejected[^:]*:\s*(.+)", output, re.DOTALL)
    return _clip(match.group(1).strip()) if match else ""


def _sentence(text: str) -> str:
    """The first line of a tool result, clipped, ending with a full stop."""
    line = _clip(text.strip().splitlines()[0] if text.strip() else "no output")
    return line if line.endswith((".", "!", "?")) else line + "."


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
