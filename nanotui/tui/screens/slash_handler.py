"""What each slash command does on the main screen (/help, /mode, /model, /clear, ...)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from nanotui.engine.past_sessions import summarize
from nanotui.governance.audit import list_sessions
from nanotui.protocol.basics import MODE_ORDER, UserFacingError
from nanotui.protocol.events import Notice
from nanotui.security.trust import DEMO_COPY_REFUSAL, is_demo_copy, is_trusted, trust
from nanotui.tui import collector
from nanotui.tui.cost_figures import against_budget
from nanotui.tui.modes import MODE_MEANINGS
from nanotui.tui.replay_chat import show_earlier_conversation
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from pathlib import Path

    from nanotui.tui.screens.main import MainScreen

BETWEEN_TURNS = {"mode", "model", "clear", "resume"}
PICKER_SESSIONS = 50
"""`/resume` offers at most this many recent sessions."""


class SlashHandler:
    """Runs slash commands for one screen; every outcome is a line in the chat or a notice."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen

    @property
    def chat(self) -> ChatView:
        return self.screen.query_one(ChatView)

    async def run(self, name: str, argument: str) -> None:
        handler = getattr(self, f"do_{name}", None)
        if handler is None:
            await self.chat.add_notice(f"Unknown command /{name}; /help lists them.", "warning")
            return
        if name in BETWEEN_TURNS and self.screen.busy:
            await self.chat.add_notice(
                f"/{name} works between turns; press Esc to interrupt this one first.", "warning"
            )
            return
        chat = self.chat
        last = chat.children[-1] if chat.children else None
        await handler(argument.strip())
        # The user asked: what the command printed is shown even if the chat was scrolled up.
        if chat.children and chat.children[-1] is not last:
            chat.scroll_end(animate=False)

    async def do_help(self, argument: str) -> None:
        self.screen.app.action_help()  # type: ignore[attr-defined]

    async def do_quit(self, argument: str) -> None:
        await self.screen.app.action_quit()  # type: ignore[attr-defined]

    async def do_mode(self, argument: str) -> None:
        agent = self.screen.agent
        if not argument:
            # Names only, so that the rows do not wrap in a narrow chat; the current one says
            # what it means (the completion of `/mode ` shows the meaning of each).
            rows = [
                f"▸ {mode} (current): {MODE_MEANINGS[mode]}" if mode == agent.mode else f"  {mode}"
                for mode in MODE_ORDER
            ]
            await self.chat.add_notice(
                "Modes (choose with /mode NAME or shift+tab):\n" + "\n".join(rows)
            )
            return
        if argument not in MODE_ORDER:
            await self.chat.add_notice(
                f"There is no mode {argument!r}; choose one of {', '.join(MODE_ORDER)}.", "warning"
            )
            return
        self.screen.set_mode(argument)

    async def do_model(self, argument: str) -> None:
        provider = self.screen.agent.provider
        if not argument:
            await self.chat.add_notice(
                f"Model: {provider.label}. Change it for this session with /model NAME, or for "
                "good with [provider] model in config.toml."
            )
            return
        if provider.is_demo:
            await self.chat.add_notice("The offline demo has only one model.", "warning")
            return
        self.screen.agent.switch_model(argument)
        self.screen.refresh_model_label()
        await self.chat.add_notice(f"Model set to {argument} for the rest of this session.")

    async def do_clear(self, argument: str) -> None:
        self.screen.agent.clear_conversation()
        await self.chat.remove_children()
        collector.release()
        await self.chat.add_notice(
            "Cleared: the model starts afresh (the session log keeps everything)."
        )

    async def do_cost(self, argument: str) -> None:
        cost = self.screen.agent.cost
        usage = cost.usage
        is_demo = self.screen.agent.provider.is_demo
        spent = against_budget(cost.spend, cost.budget.session_usd, is_demo=is_demo)
        source = cost.price.source if cost.price else 'unpriced: set [prices."model"]'
        day = cost.spend_today()
        today = "" if day is None else f"today {against_budget(day, cost.budget.day_usd)}; "
        await self.chat.add_notice(
            f"This session: {spent}; {today}"
            f"{usage.input_tokens:,} input tokens ({usage.cached_input_tokens:,} cached), "
            f"{usage.output_tokens:,} output ({usage.reasoning_tokens:,} reasoning); "
            f"price from {source}."
        )

    async def do_checkpoints(self, argument: str) -> None:
        self.screen.action_checkpoints()

    async def do_audit(self, argument: str) -> None:
        agent = self.screen.agent
        where = str(agent.log.path) if agent.log else "not logged"
        await self.chat.add_notice(
            f"Session {agent.session_id} is logged to {where}; `nanotui audit show "
            f"{agent.session_id}` prints its timeline; /timeline (ctrl+t) shows every event."
        )

    async def do_timeline(self, argument: str) -> None:
        self.screen.action_timeline()

    async def do_resume(self, argument: str) -> None:
        agent = self.screen.agent
        if not argument:
            await self._pick_session()
            return
        ids = [p.stem for p in list_sessions()]
        matches = [argument] if argument in ids else [i for i in ids if i.startswith(argument)]
        if len(matches) != 1:
            problem = "No session matches" if not matches else "More than one session matches"
            await self.chat.add_notice(f"{problem} {argument!r}; /resume lists them.", "warning")
            return
        count = agent.resume_conversation(matches[0])
        await show_earlier_conversation(self.chat, matches[0], count)

    async def _pick_session(self) -> None:
        """Recent sessions to pick from; the one picked is resumed as `/resume ID` would."""
        # Imported here: the picker uses the main screen's helpers, and that screen this module.
        from nanotui.tui.screens.session_picker import SessionPickerScreen

        current = self.screen.agent.session_id
        logs = [p for p in list_sessions() if p.stem != current][:PICKER_SESSIONS]
        summaries = await asyncio.to_thread(lambda: [summarize(p) for p in logs])
        if not summaries:
            await self.chat.add_notice("There is no earlier session to resume yet.")
            return

        async def picked(session: str | None) -> None:
            if session is not None:
                await self.run("resume", session)

        self.screen.app.push_screen(SessionPickerScreen(summaries), picked)

    async def do_trust(self, argument: str) -> None:
        """Ask first (trusting loosens what the folder's config may do), then log it."""
        # Imported here: the trust screens import the main screen, which imports this module.
        from nanotui.tui.screens.trust import TrustConfirmScreen

        agent = self.screen.agent
        workspace = agent.workspace
        if agent.provider.is_demo or is_demo_copy(workspace):
            await self.chat.add_notice(DEMO_COPY_REFUSAL, "warning")
            return
        if is_trusted(workspace):
            await self.chat.add_notice(f"{workspace} is trusted already.")
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._trust(workspace)
            else:
                await self.chat.add_notice(f"{workspace} stays untrusted.")

        self.screen.app.push_screen(TrustConfirmScreen(workspace), answered)

    async def _trust(self, workspace: Path) -> None:
        try:
            trust(workspace)
        except (OSError, UserFacingError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            await self.chat.add_notice(f"Could not trust {workspace}: {reason}", "warning")
            return
        # Logged, so the audit trail shows when the folder's config was let loose.
        event = self.screen.agent.record(
            Notice(
                text=f"Trusted {workspace}: its .nanotui/config.toml applies in full from the "
                "next start."
            )
        )
        self.screen.query_one(Timeline).add_event(event)
        self.screen.mark_trusted()
        await self.chat.add_notice(event.text)
