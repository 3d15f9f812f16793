"""The one rule for money, wherever it is shown: an unpriced request is counted, never $0.

A request to a model nobody priced costs an unknown amount. Every total (a session's, a
day's, a row of `nanotui cost`, the result of `nanotui run`, the app's meter and timeline) is
the dollars of its priced requests plus the count of the unpriced ones; when none of its
requests had a price the dollars are unknown: `null` in JSON, "unpriced" in text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nanotui.protocol.basics import plural


@dataclass(frozen=True)
class Spend:
    """What some model requests cost: dollars (None: unknown) and how many had no price."""

    cost_usd: float | None = 0.0
    """The priced requests' dollars; None when none of the requests had a price."""
    unpriced_requests: int = 0
    """Requests whose cost is unknown, left out of `cost_usd`."""

    @classmethod
    def of(
        cls, priced_usd: float, requests: int, unpriced_requests: int, *, model_priced: bool = True
    ) -> Spend:
        """The rule: dollars unless no request had a price (or, before any request, the
        model in use has none)."""
        none_priced = unpriced_requests >= requests
        unknown = none_priced and (unpriced_requests > 0 or not model_priced)
        return cls(None if unknown else priced_usd, unpriced_requests)

    @classmethod
    def of_session(cls, cost_updated: Mapping[str, Any]) -> Spend:
        """The session's spend a `cost_updated` event's payload reports. Logs written before
        unpriced requests were counted held 0 for an unpriced session: read as unknown."""
        usd = cost_updated.get("session_usd")
        if "session_unpriced_requests" not in cost_updated and not cost_updated.get("priced"):
            usd = None
        return cls(usd, cost_updated.get("session_unpriced_requests", 0))

    def text(self) -> str:
        """`$0.0123`, `$0.0123 + 2 unpriced`, `unpriced (3 requests)` or `unpriced`."""
        if self.cost_usd is None:
            if self.unpriced_requests:
                return f"unpriced ({plural(self.unpriced_requests, 'request')})"
            return "unpriced"
        money = f"${self.cost_usd:.4f}"
        if self.unpriced_requests:
            money += f" + {self.unpriced_requests:,} unpriced"
        return money


def format_cost(spent: Spend | float, *, priced: bool = True, is_demo: bool) -> str:
    """Cost as the user should read it: never "$0" for what nobody priced.

    `spent` is a Spend, or dollars that `priced` says are known.
    """
    if is_demo:
        return "free (offline demo)"
    spend = spent if isinstance(spent, Spend) else Spend(spent if priced else None)
    return spend.text()


def against_budget(spend: Spend, limit_usd: float, *, is_demo: bool = False) -> str:
    """`$0.0123 of $5.00`, `$0.0123 of $5.00 + 2 unpriced`, `unpriced (3 requests), no budget
    applies` (a budget counts only priced requests) or the demo's `free (offline demo)`."""
    if is_demo:
        return format_cost(spend, is_demo=True)
    if spend.cost_usd is None:
        return f"{spend.text()}, no budget applies"
    return f"${spend.cost_usd:.4f} of ${limit_usd:.2f}{unpriced_suffix(spend)}"


def unpriced_suffix(spend: Spend) -> str:
    """` + 2 unpriced` after dollars shown against a budget, which counts only priced ones."""
    return f" + {spend.unpriced_requests:,} unpriced" if spend.unpriced_requests else ""
