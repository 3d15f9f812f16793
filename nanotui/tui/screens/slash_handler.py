"""What each slash command does on the main screen (/help, /mode, /model, /clear, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nanotui.basics import MODE_ORDER, UserFacingError
from nanotui.engine.events import Notice
from nanotui.governance.audit import list_sessions
from nanotui.security.trust import DEMO_COPY_REFUSAL, is_demo_copy, is_trusted, trust
from nanotui.tui import collector
from nanotui.tui.modes import MODE_MEANINGS
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.cost_meter import format_cost
from nanotui.tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from pathlib import Path

    from nanotui.tui.screens.main import MainScreen

BETWEEN_TURNS = {"mode", "model", "clear", "resume"}


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
        await handler(argument.strip())

    async def do_help(self, argument: str) -> None:
        self.screen.app.action_help()  # type: ignore[attr-defined]

    async def do_quit(self, argument: str) -> None:
        await self.screen.app.action_quit()  # type: ignore[attr-defined]

    async def do_mode(self, argument: str) -> None:
        agent = self.screen.agent
        if not argument:
            modes = ", ".join(MODE_ORDER)
            await self.chat.add_notice(
                f"Mode {agent.mode}: {MODE_MEANINGS[agent.mode]}. Choose with /mode NAME "
                f"({modes}) or shift+tab."
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
        spent = format_cost(
            cost.spent_usd,
            priced=cost.price is not None,
            is_demo=self.screen.agent.provider.is_demo,
        )
        source = cost.price.source if cost.price else 'unpriced: set [prices."model"]'
        day_usd = self.screen.agent.cost_status().day_usd
        today = "" if day_usd is None else f"today ${day_usd:.4f} of ${cost.budget.day_usd:.2f}; "
        await self.chat.add_notice(
            f"This session: {spent} of ${cost.budget.session_usd:.2f}; {today}"
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
            others = [p.stem for p in list_sessions() if p.stem != agent.session_id][:5]
            listing = ", ".join(others) or "none yet"
            await self.chat.add_notice(f"Recent sessions: {listing}. Resume one with /resume ID.")
            return
        matches = [p.stem for p in list_sessions() if p.stem.startswith(argument)]
        if len(matches) != 1:
            problem = "No session matches" if not matches else "More than one session matches"
            await self.chat.add_notice(f"{problem} {argument!r}; /resume lists them.", "warning")
            return
        count = agent.resume_conversation(matches[0])
        await self.chat.add_notice(
            f"Resumed {matches[0]}: the model sees its {count} messages from here on."
        )

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
