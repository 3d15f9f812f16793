"""What one turn has seen of its tool results: the loop guards that stop a turn going round
in circles, and the status the turn ends with."""

from __future__ import annotations

from dataclasses import dataclass, field

from nanotui.engine.tool_calls import PreparedCall
from nanotui.protocol.events import ToolResult

MAX_SAME_FAILURES = 3
MAX_MALFORMED_RETRIES = 2


@dataclass
class TurnState:
    """What one turn has seen, for the loop guards and the final status."""

    failures: dict[str, int] = field(default_factory=dict)
    malformed_in_a_row: int = 0
    needed_approval: bool = False
    results_seen: int = 0
    last_refusal: int = -1
    """Index (among this turn's tool results) of the last refusal, -1 for none."""
    last_success: int = -1
    stop_hook_continuations: int = 0
    """Times a stop hook sent the model on this turn (`TurnHooks.at_stop`)."""

    def note(self, result: ToolResult, prepared: PreparedCall) -> None:
        self.results_seen += 1
        if result.ok:
            self.last_success = self.results_seen
            self.malformed_in_a_row = 0
            return
        key = prepared.loop_key
        self.failures[key] = self.failures.get(key, 0) + 1
        if prepared.malformed:
            self.malformed_in_a_row += 1
        if result.refused:
            self.last_refusal = self.results_seen

    def final_status(self) -> str:
        if self.needed_approval:
            return "needs_approval"
        if self.last_refusal > self.last_success:
            return "refused"
        return "done"

    def stop(self) -> tuple[str, str] | None:
        """The status and the reason when a loop guard stops the turn; None to go on."""
        for key, count in self.failures.items():
            if count >= MAX_SAME_FAILURES:
                tool = key.split("\0", 1)[0]
                reason = (
                    f"The same {tool} call failed {count} times, so the turn was stopped; "
                    "rephrase the request or fix the cause and ask again."
                )
                # A call refused over and over is still a refusal (exit 2 or 4), not a crash.
                status = self.final_status()
                return ("stuck" if status == "done" else status), reason
        if self.malformed_in_a_row > MAX_MALFORMED_RETRIES:
            reason = (
                "The model sent malformed tool arguments three times in a row, so the turn was "
                "stopped; a model with better tool support may help."
            )
            return "stuck", reason
        return None
