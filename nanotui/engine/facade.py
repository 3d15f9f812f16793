"""The one object a front end holds for a session: commands go in, events come out.

The screens never reach past it into the agent's parts (its cost ledger, safety net, log,
provider). Everything it returns is an event or a plain value of `nanotui.protocol`, or an
engine object made for front ends (`CheckpointBrowsing`), so that a session running
elsewhere (the team server) can offer the same methods over HTTP and a stream of events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nanotui.engine import approvals
from nanotui.engine.checkpoint_browsing import CheckpointBrowsing
from nanotui.engine.past_sessions import conversation_events, summarize
from nanotui.engine.session_logs import session_ids, session_logs, verify_session_log
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.basics import MODE_ORDER, UserFacingError
from nanotui.protocol.events import (
    ApprovalRequested,
    CostUpdated,
    EventBase,
    Notice,
    parse_event,
)
from nanotui.protocol.log_verdict import Verdict
from nanotui.protocol.mcp_status import ServerStatus, ToolStatus
from nanotui.protocol.model_io import Usage
from nanotui.protocol.session_port import SessionSummary
from nanotui.protocol.setting_origins import SettingOrigins
from nanotui.protocol.spend import Spend, against_budget
from nanotui.security import trust
from nanotui.security.injection import find_injection, frame_untrusted
from nanotui.security.sandbox.choose import isolation_warning

if TYPE_CHECKING:
    from nanotui.engine.agent import Agent


class EngineSession:
    """One agent session as a front end sees it, running in this process (a `SessionPort`)."""

    def __init__(self, agent: Agent, origins: SettingOrigins | None = None) -> None:
        self._agent = agent
        self._origins = origins or SettingOrigins()

    @property
    def local_agent(self) -> Agent:
        """The agent behind a session that runs in this process, for tests to look inside.
        Front ends never use it: a session on a server has none."""
        return self._agent

    # ---- what the session is ------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self._agent.session_id

    @property
    def workspace(self) -> Path:
        return self._agent.workspace

    @property
    def workspace_is_local(self) -> bool:
        return True

    @property
    def runs_at(self) -> str:
        return "local"

    @property
    def model_label(self) -> str:
        """What the app shows for the model, e.g. "qwen2.5-coder:14b @ localhost:11434"."""
        return self._agent.provider.label

    @property
    def is_demo(self) -> bool:
        """True for the offline demo model (labelled as such everywhere)."""
        return self._agent.provider.is_demo

    @property
    def sandbox_backend(self) -> str:
        return self._agent.sandbox_backend

    @property
    def isolation_warning(self) -> str | None:
        """The sentence every front end shows when commands run without a sandbox."""
        return isolation_warning(self._agent.sandbox_backend, self._agent.sandbox_network)

    @property
    def log_path(self) -> Path | None:
        """Where this session is logged (None when it is not)."""
        return self._agent.log.path if self._agent.log else None

    @property
    def resumed(self) -> bool:
        """True when this session goes on with a logged one (`--continue`, `sessions resume`)."""
        return self._agent.resumed

    @property
    def message_count(self) -> int:
        """How many messages the model would see now."""
        return len(self._agent.conversation.messages)

    @property
    def busy(self) -> bool:
        """True while a turn runs."""
        return self._agent.busy

    @property
    def mode(self) -> str:
        return self._agent.mode

    @property
    def max_mode(self) -> str:
        return self._agent.options.max_mode

    def tool_kind(self, name: str) -> str | None:
        """What a tool of this session does: "read", "write" or "command"; None when the
        session has no tool of that name (the model made one up)."""
        tool = self._agent.tools.get(name)
        return str(tool.kind) if tool is not None else None

    # ---- commands -----------------------------------------------------------------------

    def turn(self, prompt: str) -> AsyncIterator[EventBase]:
        """Run one user turn, yielding every event as it happens."""
        return self._agent.turn(prompt)

    def cancel(self) -> None:
        """Interrupt the running turn; it then ends with TurnFinished(status="cancelled")."""
        self._agent.cancel()

    def resolve_approval(self, request: ApprovalRequested, answer: ApprovalAnswer) -> bool:
        """Answer a pending approval; False if it was answered already or abandoned."""
        return approvals.resolve(request, answer)

    def set_mode(self, new: str) -> Notice | None:
        """Change the approval mode between turns; the logged notice, or None if unchanged."""
        old = self._agent.mode
        if new == old:
            return None
        ceiling = self._agent.options.max_mode
        if MODE_ORDER.index(new) > MODE_ORDER.index(ceiling):
            raise UserFacingError(
                f"This session allows at most {ceiling} mode (approval.max_mode, which an "
                f"organisation's managed settings set); choose {ceiling} or a stricter one."
            )
        self._agent.mode = new
        # Logged, so the audit trail shows when more (or less) was allowed.
        change = Notice(text=f"Mode changed from {old} to {new}.")
        self.record(change)
        return change

    def switch_model(self, name: str) -> None:
        self._agent.switch_model(name)

    def clear_conversation(self) -> None:
        self._agent.clear_conversation()

    def resume_conversation(self, session_id: str) -> int:
        """Go on with an earlier session's conversation; how many messages it holds."""
        return self._agent.resume_conversation(session_id)

    def record(self, event: EventBase) -> EventBase:
        """Log an event that happened outside a turn (the front end shows it itself)."""
        return self._agent.record(event)

    def redacted(self, value: Any) -> Any:
        """`value` (text, or JSON-like data) with every secret the session knows of replaced,
        as its log and the model see it: for what a front end prints (stdout, a CI log)."""
        if isinstance(value, str):
            return self._agent.redactor.redact(value).text
        return self._agent.redactor.redact_nested(value)[0]

    def redacted_event(self, event: EventBase) -> EventBase:
        """`event` with every string redacted, for printing where others read (the event
        itself when nothing needed it: this runs for every streamed piece of a reply)."""
        data, kinds = self._agent.redactor.redact_nested(event.model_dump(mode="json"))
        return parse_event(data) if kinds else event

    def frame_untrusted(self, content: str) -> tuple[str, list[str]]:
        """Text from someone other than the user (a pull request's description), as the model
        gets a tool's output: closed by the session's untrusted-data note, with the lines
        that address the agent flagged. Returns it and the flags, for the log."""
        flags = find_injection(content)
        framed = frame_untrusted(content, flags, self._agent.output_marker)
        return framed, [flag.describe() + f" ({flag.label})" for flag in flags]

    def watch_workspace(self) -> AsyncIterator[EventBase]:
        """Events for changes made to the workspace by anyone but nanotui, until stopped."""
        return self._agent.watch_workspace()

    def stop_watching(self) -> None:
        self._agent.stop_watching()

    async def close(self) -> None:
        """End the session: a turn still running, its MCP servers, the model client's
        connections and the log."""
        await self._agent.end_turn()
        if self._agent.mcp is not None:
            await self._agent.mcp.aclose()
        await self._agent.provider.aclose()
        self._agent.close()

    # ---- cost ---------------------------------------------------------------------------

    def cost_status(self) -> CostUpdated:
        """The spending so far against the budgets and the rate limit, as the meter shows it."""
        return self._agent.cost_status()

    def cost_summary(self) -> str:
        """The sentence `/cost` shows: the session and today against their budgets, the tokens,
        and where the price came from."""
        cost = self._agent.cost
        usage = cost.usage
        spent = against_budget(cost.spend, cost.budget.session_usd, is_demo=self.is_demo)
        source = cost.price.source if cost.price else 'unpriced: set [prices."model"]'
        day = cost.spend_today()
        today = "" if day is None else f"today {against_budget(day, cost.budget.day_usd)}; "
        return (
            f"This session: {spent}; {today}"
            f"{usage.input_tokens:,} input tokens ({usage.cached_input_tokens:,} cached), "
            f"{usage.output_tokens:,} output ({usage.reasoning_tokens:,} reasoning); "
            f"price from {source}."
        )

    @property
    def spend(self) -> Spend:
        """What this session's requests cost so far (the money rule: unpriced ones counted)."""
        return self._agent.cost.spend

    @property
    def usage(self) -> Usage:
        """This session's tokens so far."""
        return self._agent.cost.usage

    # ---- checkpoints and trust ----------------------------------------------------------

    async def files_changed_in_turn(self) -> list[str]:
        """Files the last turn changed: those its file tools wrote, then those that differ from
        the checkpoint taken before it (what commands created, changed or deleted)."""
        agent = self._agent
        written = list(agent.conversation.files_changed)
        since = await agent.safety.changed_in_turn() if agent.safety else None
        return list(dict.fromkeys([*written, *(since or [])]))

    def turn_checkpoint(self) -> str | None:
        """The checkpoint taken before the last turn: restoring it undoes that turn."""
        first = self._agent.safety.first_of_turn if self._agent.safety else None
        return first.id if first else None

    def checkpoint_browsing(self) -> CheckpointBrowsing:
        """This session's checkpoints to browse, compare and restore from."""
        agent = self._agent
        safety = agent.safety
        return CheckpointBrowsing(
            agent.workspace,
            agent.session_id,
            safety.settings if safety else None,
            created_by_agent=sorted(safety.created) if safety else (),
            own_changes=agent.own_changes,
        )

    # ---- past sessions and logs ---------------------------------------------------------

    def past_sessions(self, limit: int) -> list[SessionSummary]:
        logs = [p for p in session_logs() if p.stem != self.session_id][:limit]
        return [summarize(path) for path in logs]

    def session_ids(self) -> list[str]:
        return session_ids()

    def earlier_events(self, session_id: str) -> list[EventBase]:
        return conversation_events(session_id)

    def verify_log(self, path: Path) -> Verdict:
        """The log's hash chain, held to the ledger's anchor as `nanotui audit verify` holds it."""
        return verify_session_log(path)

    def setting_origins(self) -> SettingOrigins:
        return self._origins

    def mcp_servers(self) -> list[ServerStatus]:
        return self._agent.mcp.status() if self._agent.mcp is not None else []

    def accept_mcp_tools(self, server: str, shown: list[ToolStatus]) -> Notice:
        hub = self._agent.mcp
        if hub is None:
            raise UserFacingError("This session has no MCP servers; `/mcp` says how to add one.")
        accepted = hub.accept(server, {tool.digest for tool in shown})
        # Logged: who let which definition reach the model is part of the session's record.
        notice = Notice(text=hub.acceptance(server, accepted))
        self.record(notice)
        return notice

    def workspace_trusted(self) -> bool:
        return trust.is_trusted(self._agent.workspace)

    def may_trust_workspace(self) -> None:
        """Raise UserFacingError when this workspace is one nanotui never trusts (the demo's)."""
        if self.is_demo or trust.is_demo_copy(self._agent.workspace):
            raise UserFacingError(trust.DEMO_COPY_REFUSAL)

    def trust_workspace(self) -> Notice:
        """Trust the workspace from the next start on, and log that it was (raises OSError or
        UserFacingError when it cannot be saved)."""
        workspace = self._agent.workspace
        self.may_trust_workspace()
        trust.trust(workspace)
        # Logged, so the audit trail shows when the folder's config was let loose.
        notice = Notice(
            text=f"Trusted {workspace}: its .nanotui/config.toml applies in full from the "
            "next start."
        )
        self.record(notice)
        return notice
