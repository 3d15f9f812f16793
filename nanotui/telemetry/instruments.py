"""The metrics nanotui exports: the GenAI conventions' two, and the governance ones of its own.

Names, units and buckets follow the OpenTelemetry GenAI semantic conventions where they say
something (`gen_ai.client.*`); everything else is in the `nanotui.` namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""The conventions' advised boundaries for `gen_ai.client.token.usage`."""
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""The conventions' advised boundaries for `gen_ai.client.operation.duration`, in seconds."""
WAIT_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
"""How long a person took to answer an approval, in seconds: from a glance to a coffee."""
RETRY_WAIT_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)
"""How long a retry waited, in seconds: from a jittered backoff to the longest Retry-After
nanotui honours by default (60 s) and what a configuration may allow beyond it."""


@dataclass
class Instruments:
    """Every instrument, made once per meter (a process's sessions share them)."""

    token_usage: Any
    operation_duration: Any
    cost: Any
    unpriced_requests: Any
    budget_remaining: Any
    tool_decisions: Any
    policy_denials: Any
    sandbox_sessions: Any
    approvals: Any
    approval_wait: Any
    hunks: Any
    checkpoints: Any
    restores: Any
    retries: Any
    retry_wait: Any
    turns: Any

    @classmethod
    def on(cls, meter: Any) -> Instruments:
        return cls(
            token_usage=meter.create_histogram(
                "gen_ai.client.token.usage",
                unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
            ),
            operation_duration=meter.create_histogram(
                "gen_ai.client.operation.duration",
                unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            ),
            cost=meter.create_counter(
                "nanotui.cost", unit="USD", description="What priced model requests cost."
            ),
            unpriced_requests=meter.create_counter(
                "nanotui.cost.unpriced_requests",
                unit="{request}",
                description="Model requests with no price known (their cost is not counted).",
            ),
            budget_remaining=meter.create_gauge(
                "nanotui.budget.remaining",
                unit="USD",
                description="What is left of a budget (scope: session or day).",
            ),
            tool_decisions=meter.create_counter(
                "nanotui.tool.decisions",
                unit="{decision}",
                description="Decisions on tool calls: allow, ask or deny, and who decided.",
            ),
            policy_denials=meter.create_counter(
                "nanotui.policy.denials",
                unit="{decision}",
                description="Tool calls the policy refused, by reason.",
            ),
            sandbox_sessions=meter.create_counter(
                "nanotui.sandbox.sessions",
                unit="{session}",
                description="Sessions started, by sandbox backend and whether it isolates.",
            ),
            approvals=meter.create_counter(
                "nanotui.approvals",
                unit="{approval}",
                description="Answers to approval requests, by answer and who gave it.",
            ),
            approval_wait=meter.create_histogram(
                "nanotui.approval.wait",
                unit="s",
                description="How long an approval request waited for its answer.",
                explicit_bucket_boundaries_advisory=WAIT_BUCKETS,
            ),
            hunks=meter.create_counter(
                "nanotui.approval.hunks",
                unit="{hunk}",
                description="Hunks of proposed changes, accepted or rejected at approval.",
            ),
            checkpoints=meter.create_counter(
                "nanotui.checkpoints",
                unit="{checkpoint}",
                description="Checkpoints taken, by kind (turn, batch, safety).",
            ),
            restores=meter.create_counter(
                "nanotui.checkpoint.restores",
                unit="{restore}",
                description="Checkpoints restored.",
            ),
            retries=meter.create_counter(
                "nanotui.ratelimit.retries",
                unit="{retry}",
                description="Model requests retried, by provider and reason.",
            ),
            retry_wait=meter.create_histogram(
                "nanotui.ratelimit.wait",
                unit="s",
                description="Time waited before retrying a model request, by provider and reason.",
                explicit_bucket_boundaries_advisory=RETRY_WAIT_BUCKETS,
            ),
            turns=meter.create_counter(
                "nanotui.turns", unit="{turn}", description="Turns finished, by status."
            ),
        )
