"""The hooks around a turn: session_start and user_prompt before the model sees the prompt,
stop when the model ends the turn on its own (the tools' hooks run in `dispatch`)."""

from __future__ import annotations

from nanotui.engine.hooks import Emit, HookRunner
from nanotui.engine.turn_guard import TurnState
from nanotui.protocol.basics import plural
from nanotui.protocol.events import ErrorEvent, TurnFinished, UserMessage

MAX_STOP_HOOK_CONTINUATIONS = 3
"""How many times stop hooks may send the model on in one turn before it ends as refused."""


class TurnHooks:
    """Asks a session's hooks whether a turn may start, and whether it may end."""

    def __init__(self, hooks: HookRunner | None, emit: Emit) -> None:
        self.hooks = hooks
        self.emit = emit
        self._session_started = False
        """The session_start hooks let the session start (they are asked until they do)."""

    async def refusal(self, prompt: str, *, mode: str, resumed: bool) -> TurnFinished | None:
        """A TurnFinished when a session_start or user_prompt hook blocks: the model never
        sees the prompt; None to go on."""
        if self.hooks is None:
            return None
        if not self._session_started:
            source = {"source": "resume" if resumed else "startup"}
            verdict = await self.hooks.run("session_start", source, self.emit, mode=mode)
            if verdict.blocked:
                return self._refused("The session was not started", verdict.reason)
            self._session_started = True
        said = {"prompt": prompt}
        verdict = await self.hooks.run("user_prompt", said, self.emit, mode=mode)
        if verdict.blocked:
            return self._refused("The prompt was refused", verdict.reason)
        return None

    async def at_stop(
        self, finished: TurnFinished, state: TurnState, last_reply: str, *, mode: str
    ) -> TurnFinished | None:
        """`finished` if the stop hooks let the model stop; None sends it on with their reason.

        As in Claude Code, a stop hook that blocks tells the model why it may not stop yet;
        after MAX_STOP_HOOK_CONTINUATIONS of those the turn ends as refused, not done.
        """
        if self.hooks is None or not self.hooks.matching("stop"):
            return finished
        fields = {
            "stop_hook_active": state.stop_hook_continuations > 0,
            "last_assistant_message": last_reply,
        }
        verdict = await self.hooks.run("stop", fields, self.emit, mode=mode)
        if not verdict.blocked:
            return finished
        if state.stop_hook_continuations >= MAX_STOP_HOOK_CONTINUATIONS:
            went_on = plural(state.stop_hook_continuations, "time")
            reason = f"A stop hook still blocked after the model went on {went_on}: "
            reason += verdict.reason
            self.emit(ErrorEvent(text=reason, kind="hook"))
            return TurnFinished(status="refused", reason=reason, steps=finished.steps)
        state.stop_hook_continuations += 1
        self.emit(UserMessage(text=f"A stop hook asks you to go on: {verdict.reason}"))
        return None

    def _refused(self, what: str, reason: str) -> TurnFinished:
        text = f"{what} by a hook: {reason}."
        self.emit(ErrorEvent(text=text, kind="hook"))
        return TurnFinished(status="refused", reason=text)
