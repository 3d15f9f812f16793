"""Assembles an Agent from settings: provider, tools, jail, runner, policy, cost and log.

Every front end (TUI, `nanotui run`, `nanotui tool`) builds its agent here, so they all
take exactly the same decision path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanotui import paths
from nanotui.config import Settings, resolve_api_key
from nanotui.engine.agent import Agent, AgentOptions
from nanotui.engine.approvals import os_user
from nanotui.engine.conversation import Conversation
from nanotui.engine.facade import EngineSession
from nanotui.engine.hooks import HookRunner
from nanotui.engine.output_marker import marker_for
from nanotui.engine.prompt import build_system_prompt
from nanotui.engine.session import load_conversation
from nanotui.governance.audit import SessionLog, session_path
from nanotui.governance.cost import SessionCost, find_price
from nanotui.governance.ledger import Ledger
from nanotui.governance.ratelimit import RequestRateLimiter, RetryPolicy
from nanotui.governance.retention import prune_sessions
from nanotui.protocol.basics import new_session_id
from nanotui.protocol.model_io import Usage
from nanotui.providers.base import Provider, provider_layers
from nanotui.providers.factory import build_provider, warm_up_requests
from nanotui.security.external_rules import ExternalToolRules, command_rules
from nanotui.security.injection import new_output_marker
from nanotui.security.jail.git_runner import head_commit, tracked_files
from nanotui.security.jail.workspace import Workspace, protected_match
from nanotui.security.network.allowlist import DomainAllowlist
from nanotui.security.network.proxy import AllowlistProxy
from nanotui.security.policy import ActionPolicy
from nanotui.security.sandbox.choose import isolation_warning, make_runner
from nanotui.security.secrets.redaction import Redactor, session_redactor
from nanotui.security.shell.commands import CommandPolicy
from nanotui.telemetry.switch import session_observer
from nanotui.tools.base import Tool, ToolContext
from nanotui.tools.mcp.hub import McpHub
from nanotui.tools.registry import default_tools


@dataclass
class ToolEnvironment:
    """The parts of the decision path that do not involve a model."""

    workspace: Workspace
    context: ToolContext
    policy: ActionPolicy
    backend: str
    proxy: AllowlistProxy | None = None
    """With [sandbox] network = "allowlist": the proxy commands reach listed names through."""


def build_tool_environment(settings: Settings, workspace: Path) -> ToolEnvironment:
    jail = Workspace(workspace, settings.policy.protected_paths)
    proxy = None
    if settings.sandbox.network == "allowlist":
        proxy = AllowlistProxy(DomainAllowlist(settings.sandbox.allowed_domains))
        if not settings.managed.ask_unlisted_domains:  # nobody is asked: say why not
            proxy.unlisted_advice = "your organisation's managed settings fix that list"
    runner = make_runner(settings.sandbox, workspace, settings.policy.protected_paths, proxy)
    context = ToolContext(
        workspace=jail,
        runner=runner,
        command_timeout_s=settings.sandbox.timeout_s,
        max_output_bytes=settings.sandbox.max_output_bytes,
    )
    commands = command_policy(settings, workspace)
    external = ExternalToolRules.from_lists(
        settings.policy.allow, settings.policy.ask, settings.policy.deny
    )
    policy = ActionPolicy(commands, external=external)
    return ToolEnvironment(jail, context, policy, runner.backend, proxy)


def session_hooks(
    settings: Settings,
    env: ToolEnvironment,
    session_id: str,
    redactor: Redactor,
    transcript_path: Path | None = None,
) -> HookRunner | None:
    """The `[[hooks]]` of the settings, run in the sandbox the model's commands run in; None
    when there are none."""
    if not settings.hooks:
        return None
    return HookRunner(
        settings.hooks,
        env.context.runner,
        env.workspace.root,
        session_id,
        redactor,
        transcript_path=transcript_path,
    )


def command_policy(settings: Settings, workspace: Path) -> CommandPolicy:
    """How shell lines are judged in this workspace (the agent's and `nanotui policy check`)."""
    jail = Workspace(workspace, settings.policy.protected_paths)
    readable = settings.sandbox.readable_credentials

    def tracked_credentials() -> list[str]:
        """Credential files git tracks now, minus those passed to commands on purpose."""
        return [
            path
            for path in tracked_files(workspace)
            if jail.is_credential(path) and not any(protected_match(p, path) for p in readable)
        ]

    return CommandPolicy(
        command_rules(settings.policy.allow),
        command_rules(settings.policy.ask),
        command_rules(settings.policy.deny),
        settings.policy.protected_paths,
        workspace=workspace,
        tracked_credentials=tracked_credentials,
        default=settings.policy.default,
        read_only_builtin=settings.policy.read_only_builtin,
    )


def build_agent(
    settings: Settings,
    workspace: Path,
    *,
    provider: Provider | None = None,
    session_id: str | None = None,
    max_steps: int = 40,
    conversation: Conversation | None = None,
    log: bool = True,
    resume: str | None = None,
    checkpoints: bool | None = None,
    ledger: Ledger | None = None,
    user: str | None = None,
    extra_tools: Sequence[Tool] = (),
) -> Agent:
    """An agent for `workspace`; `resume` (a session id) goes on with that session's
    conversation, in its own log. `checkpoints` (default: as `log`) turns the safety net on
    when the settings allow it. The team service names the `ledger` its user's spending is
    kept in (default: this machine's user's) and the `user`, whom the log's header names.
    `extra_tools` are offered besides the built-in ones (a review's `report_finding`)."""
    workspace = workspace.resolve()
    # What can fail (a missing key or model, a session not found) fails before anything
    # is changed: no session log is pruned for a start that cannot happen.
    provider = provider or build_provider(settings.provider)
    if resume is not None:
        session_id, conversation = resume, load_conversation(resume)
    if log:
        prune_sessions(settings.sessions.retention_days, keep=session_id)
    env = build_tool_environment(settings, workspace)
    session_id = session_id or new_session_id()
    endpoint = _endpoint_of(provider)
    price = find_price(provider.model, settings.prices, is_demo=provider.is_demo, api_url=endpoint)
    # The demo is free and spends nothing worth a line in the shared ledger.
    spending = (ledger or Ledger(paths.ledger_file())) if log and not provider.is_demo else None
    options = AgentOptions(
        mode=settings.approval.mode,
        max_mode=settings.approval.max_mode,
        max_steps=max_steps,
        max_output_tokens=settings.provider.max_output_tokens,
        temperature=settings.provider.temperature,
        retry=RetryPolicy.from_config(settings.rate_limit),
        limiter=RequestRateLimiter.for_endpoint(
            endpoint,
            settings.rate_limit.requests_per_minute,
            settings.rate_limit.tokens_per_minute,
        ),
    )
    # The mark on the notes that end tool output: random per session, so no file can forge it;
    # a resumed session keeps the one its logged results carry.
    marker = marker_for(conversation.messages) if conversation else new_output_marker()
    # The key, literally: it may sit in a variable whose name says nothing of secrets. One
    # redactor for what the model reads and what the log keeps, so neither misses it.
    redactor = redactor_for(settings)
    agent = Agent(
        session_id=session_id,
        workspace=workspace,
        provider=provider,
        tools=default_tools() | {tool.name: tool for tool in extra_tools},
        tool_context=env.context,
        policy=env.policy,
        cost=SessionCost(
            settings.budget,
            price,
            Usage(),
            prices=settings.prices,
            ledger=spending,
            session=session_id,
            model=provider.model,
            api_url=endpoint,
        ),
        system_prompt=lambda mode: build_system_prompt(workspace, mode, marker),
        output_marker=marker,
        redactor=redactor,
        options=options,
        log=open_session_log(settings, workspace, session_id, provider, env, redactor, user)
        if log
        else None,
        conversation=conversation,
        sandbox_backend=env.backend,
        sandbox_network=settings.sandbox.network,
        checkpoints=settings.checkpoints
        if settings.checkpoints.enabled and (log if checkpoints is None else checkpoints)
        else None,
        hooks=session_hooks(
            settings, env, session_id, redactor, session_path(session_id) if log else None
        ),
        mcp=McpHub(settings.mcp, workspace, env.context.runner)
        if settings.mcp.servers or settings.mcp.untrusted
        else None,
    )
    if env.proxy is not None:
        env.proxy.on_connection = agent.record_connection
        if settings.managed.ask_unlisted_domains:  # else no answer may reach past the list
            env.proxy.ask = agent.allow_unlisted_host
    agent.resumed = resume is not None
    _attach_telemetry(agent, settings, user)
    # What the first request would do on the event loop, done here (the app builds the agent
    # on a thread): the imports of httpx's first request and the tools' schemas.
    warm_up_requests()
    for tool in agent.tools.values():
        tool.spec()
    return agent


def _attach_telemetry(agent: Agent, settings: Settings, user: str | None) -> None:
    """Telemetry watches the session's events, when it is wanted (nothing is imported else)."""
    log = agent.log

    def chain_position() -> tuple[int, str] | None:
        return (log.seq, log.last_hash) if log is not None else None

    observer = session_observer(
        settings.telemetry,
        session_id=agent.session_id,
        user=user or os_user() or "unknown",
        redactor=agent.redactor,
        chain_position=chain_position,
    )
    if observer is not None:
        agent.observers.append(observer)


def redactor_for(settings: Settings) -> Redactor:
    """The session's one redactor: credentials in the environment, the patterns, and the
    provider's key itself, which may sit in a variable whose name says nothing of secrets."""
    key = resolve_api_key(settings.provider)
    return session_redactor([key] if key else [])


def open_session_log(
    settings: Settings,
    workspace: Path,
    session_id: str,
    provider: Provider,
    env: ToolEnvironment,
    redactor: Redactor,
    user: str | None = None,
) -> SessionLog:
    """The session's log; a new one starts with a header that says what the session ran on
    (and, on the team service, for whom)."""
    policy = json.dumps(settings.policy.model_dump(mode="json"), sort_keys=True)
    header = {
        "session": session_id,
        "workspace": str(workspace),
        "provider": provider.kind,
        "model": provider.model,
        "sandbox": env.backend,
        "sandbox_isolates": isolation_warning(env.backend) is None,
        "policy_digest": hashlib.sha256(policy.encode()).hexdigest(),
        "git_head": head_commit(workspace, timeout_s=5),
    }
    if user is not None:
        header["user"] = user
    return SessionLog(session_id, redactor=redactor, header=header)


def _endpoint_of(provider: Provider) -> str:
    """The endpoint a provider talks to, looking through wrappers (text tool calling)."""
    for layer in provider_layers(provider):
        if hasattr(layer, "base_url"):
            return str(layer.base_url)
    return provider.kind


def build_session(*args: Any, **kwargs: Any) -> EngineSession:
    """`build_agent`, wrapped as the one object a front end holds."""
    return EngineSession(build_agent(*args, **kwargs))
