"""What each slash command does on the main screen (/help, /mode, /model, /clear, ...)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from nanotui.protocol.basics import MODE_ORDER, UserFacingError
from nanotui.tui import collector
from nanotui.tui.mcp_listing import ACCEPT_USAGE, acceptance_view, mcp_listing
from nanotui.tui.modes import MODE_MEANINGS
from nanotui.tui.policy_listing import policy_listing
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
        try:
            await handler(argument.strip())
        except UserFacingError as exc:  # refused (by a server, say): one sentence, no traceback
            await self.chat.add_notice(str(exc), "warning")
        # The user asked: what the command printed is shown even if the chat was scrolled up.
        if chat.children and chat.children[-1] is not last:
            chat.scroll_end(animate=False)

    async def do_help(self, argument: str) -> None:
        self.screen.app.action_help()  # type: ignore[attr-defined]

    async def do_quit(self, argument: str) -> None:
        await self.screen.app.action_quit()  # type: ignore[attr-defined]

    async def do_mode(self, argument: str) -> None:
        session = self.screen.session
        if not argument:
            # Names only, so that the rows do not wrap in a narrow chat; the current one says
            # what it means (the completion of `/mode ` shows the meaning of each).
            rows = [
                f"▸ {mode} (current): {MODE_MEANINGS[mode]}"
                if mode == session.mode
                else f"  {mode}"
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
        await self.screen.set_mode(argument)

    async def do_model(self, argument: str) -> None:
        session = self.screen.session
        if not argument:
            await self.chat.add_notice(
                f"Model: {session.model_label}. Change it for this session with /model NAME, "
                "or for good with [provider] model in config.toml."
            )
            return
        if session.is_demo:
            await self.chat.add_notice("The offline demo has only one model.", "warning")
            return
        await self.screen.on_session(session.switch_model, argument)
        self.screen.refresh_model_label()
        await self.chat.add_notice(f"Model set to {argument} for the rest of this session.")

    async def do_clear(self, argument: str) -> None:
        await self.screen.on_session(self.screen.session.clear_conversation)
        await self.chat.clear()
        collector.release()
        await self.chat.add_notice(
            "Cleared: the model starts afresh (the session log keeps everything)."
        )

    async def do_cost(self, argument: str) -> None:
        # On a thread: it reads the ledger, or asks the server.
        await self.chat.add_notice(await asyncio.to_thread(self.screen.session.cost_summary))

    async def do_policy(self, argument: str) -> None:
        await self.chat.add_notice(policy_listing(self.screen.session.setting_origins()))

    async def do_mcp(self, argument: str) -> None:
        session = self.screen.session
        servers = session.mcp_servers()
        match argument.split():
            case []:
                await self.chat.add_notice(mcp_listing(servers))
            case ["accept", server]:
                # Shown first, then exactly what was shown is accepted.
                waiting = [t for s in servers if s.name == server for t in s.tools if t.unapproved]
                if waiting:
                    await self.chat.add_notice(acceptance_view(server, waiting))
                await self.chat.add_notice(session.accept_mcp_tools(server, waiting).text)
            case _:
                raise UserFacingError(ACCEPT_USAGE)

    async def do_checkpoints(self, argument: str) -> None:
        self.screen.action_checkpoints()

    async def do_audit(self, argument: str) -> None:
        session = self.screen.session
        where = str(session.log_path) if session.log_path else "not logged"
        await self.chat.add_notice(
            f"Session {session.session_id} is logged to {where}; `nanotui audit show "
            f"{session.session_id}` prints its timeline; /timeline (ctrl+t) shows every event."
        )

    async def do_timeline(self, argument: str) -> None:
        self.screen.action_timeline()

    async def do_resume(self, argument: str) -> None:
        if not argument:
            await self._pick_session()
            return
        ids = await asyncio.to_thread(self.screen.session.session_ids)
        matches = [argument] if argument in ids else [i for i in ids if i.startswith(argument)]
        if len(matches) != 1:
            problem = "No session matches" if not matches else "More than one session matches"
            await self.chat.add_notice(f"{problem} {argument!r}; /resume lists them.", "warning")
            return
        count = await self.screen.on_session(self.screen.session.resume_conversation, matches[0])
        await show_earlier_conversation(
            self.chat, matches[0], count, self.screen.session.earlier_events
        )

    async def _pick_session(self) -> None:
        """Recent sessions to pick from; the one picked is resumed as `/resume ID` would."""
        # Imported here: the picker uses the main screen's helpers, and that screen this module.
        from nanotui.tui.screens.session_picker import SessionPickerScreen

        summaries = await asyncio.to_thread(self.screen.session.past_sessions, PICKER_SESSIONS)
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

        session = self.screen.session
        workspace = session.workspace
        try:
            session.may_trust_workspace()
        except UserFacingError as exc:
            await self.chat.add_notice(str(exc), "warning")
            return
        if session.workspace_trusted():
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
            event = self.screen.session.trust_workspace()
        except (OSError, UserFacingError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            await self.chat.add_notice(f"Could not trust {workspace}: {reason}", "warning")
            return
        self.screen.query_one(Timeline).add_event(event)
        self.screen.mark_trusted()
        await self.chat.add_notice(event.text)
