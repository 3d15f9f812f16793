"""What a session spends: the budget checks before each request, the totals after.

Before a request, its worst case (the estimated prompt, and `max_tokens` of output) must fit
the session budget and, through the shared ledger, today's budget across every nanotui
process; after it, the reported usage is priced and recorded. Prices come from `prices.py`;
an unpriced model is never counted as $0: it passes the money checks (there is nothing to
check against) and shows as "unpriced".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nanotui.config import BudgetConfig, PriceConfig
from nanotui.governance.ledger import DailyBudgetExceeded, Ledger
from nanotui.governance.prices import Price, find_price
from nanotui.protocol.model_io import CHARS_PER_TOKEN, ChatRequest, OutputAllowance, Usage
from nanotui.protocol.spend import Spend

__all__ = ["BudgetExceeded", "SessionCost", "estimate_input_tokens", "find_price"]


def estimate_input_tokens(request: ChatRequest) -> int:
    chars = len(request.system)
    for message in request.messages:
        chars += len(message.content)
        chars += sum(len(c.arguments) + len(c.name) for c in message.tool_calls)
    chars += sum(len(t.description) + len(str(t.parameters)) for t in request.tools)
    return chars // CHARS_PER_TOKEN + 1


class BudgetExceeded(Exception):
    """A request would pass a budget; the message says spent, limit and what to do."""


@dataclass
class SessionCost:
    """Running totals for one session, and the budget checks around each request."""

    budget: BudgetConfig
    price: Price | None
    usage: Usage
    spent_usd: float = 0.0
    prices: dict[str, PriceConfig] = field(default_factory=dict)
    """The configured prices, so a model switched mid-session is priced too."""
    ledger: Ledger | None = None
    """The shared daily ledger (None: today's budget is not enforced, e.g. the demo)."""
    session: str = ""
    model: str = ""
    api_url: str | None = None
    """The endpoint, so that a model switched mid-session is priced for the same service."""
    requests: int = 0
    unpriced_requests: int = 0
    """Requests answered with no price known: their cost is unknown, not $0."""
    _reservation: int | None = None
    _warned: bool = False

    @property
    def spend(self) -> Spend:
        """The session's spending as every output shows it (see `spend.py`)."""
        return Spend.of(
            self.spent_usd,
            self.requests,
            self.unpriced_requests,
            model_priced=self.price is not None,
        )

    def fit_request(self, request: ChatRequest) -> ChatRequest:
        """Clamp max_tokens to the per-request cap and refuse what would pass a budget.

        When it returns, the request's worst case is held in today's ledger until `record`
        or `release`.
        """
        input_tokens = estimate_input_tokens(request)
        room = self.budget.max_tokens_per_request - input_tokens
        if room <= 0:
            raise BudgetExceeded(
                f"This request needs about {input_tokens} input tokens, over the limit of "
                f"{self.budget.max_tokens_per_request} per request; start a new session or "
                "raise budget.max_tokens_per_request."
            )
        if request.max_tokens > room:
            request = request.model_copy(update={"max_tokens": room})
        if self.price is None:
            return request
        worst = self.price.cost(Usage(input_tokens=input_tokens, output_tokens=request.max_tokens))
        if self.spent_usd + worst > self.budget.session_usd:
            raise BudgetExceeded(
                f"The next request could cost up to ${worst:.4f}, which would pass the "
                f"session budget (${self.spent_usd:.4f} of ${self.budget.session_usd:.2f} "
                "spent); raise budget.session_usd or start a new session."
            )
        if self.ledger is not None:
            self.release()
            try:
                self._reservation = self.ledger.reserve(
                    self.session, worst, self.budget.day_usd, self.budget.month_usd
                )
            except DailyBudgetExceeded as exc:
                raise BudgetExceeded(str(exc)) from None
        return request

    def output_allowance(self, request: ChatRequest) -> OutputAllowance | None:
        """The most output `request` may stream before the session's or today's budget would
        be passed, by estimate; None when the model is unpriced or its output free.

        `fit_request` only checks the worst case a server that honours max_tokens can cost;
        the client holds a stream to this while it arrives, in case a server does not.
        """
        if self.price is None:
            return None
        usd_per_token = self.price.cost(Usage(output_tokens=1_000_000)) / 1_000_000
        if usd_per_token <= 0:
            return None
        input_usd = self.price.cost(Usage(input_tokens=estimate_input_tokens(request)))
        limit = self.budget.session_usd
        spent = self.spent_usd
        left = [
            (
                limit - spent,
                f"the session budget of ${limit:.2f} (${spent:.4f} spent before this request)",
                "budget.session_usd",
            )
        ]
        today = self.spent_today()
        if today is not None:
            limit = self.budget.day_usd
            left.append(
                (
                    limit - today,
                    f"today's budget of ${limit:.2f} (${today:.4f} spent before this request)",
                    "budget.day_usd",
                )
            )
        usd, budget, setting = min(left, key=lambda room: room[0])
        tokens = int(max(0.0, usd - input_usd) / usd_per_token)
        return OutputAllowance(tokens=tokens, budget=budget, setting=setting)

    def record(self, usage: Usage) -> float | None:
        """Add one response's usage; its cost, or None when the model is unpriced."""
        self.usage = self.usage + usage
        cost = None if self.price is None else self.price.cost(usage)
        self.requests += 1
        if cost is not None:
            self.spent_usd += cost
        else:
            self.unpriced_requests += 1
        if self.ledger is not None:
            self.ledger.settle(
                self._reservation,
                session=self.session,
                model=self.model,
                usage=usage,
                cost_usd=cost,
                price_source=self.price.source if self.price else "unpriced",
            )
        self._reservation = None
        return cost

    def release(self) -> None:
        """Give back the held worst case of a request that produced no usage."""
        if self.ledger is not None and self._reservation is not None:
            self.ledger.release(self._reservation)
        self._reservation = None

    def spent_today(self) -> float | None:
        """Spent today by every nanotui process, or None when no ledger is kept (the demo)."""
        return self.ledger.spent_today() if self.ledger is not None else None

    def spend_today(self) -> Spend | None:
        """Today's spending by every nanotui process as shown (unpriced requests counted),
        or None when no ledger is kept (the demo)."""
        return self.ledger.spend_today() if self.ledger is not None else None

    def output_usd_per_mtok(self) -> float | None:
        """What a million output tokens cost at the current price; None when unpriced."""
        if self.price is None:
            return None
        return self.price.cost(Usage(output_tokens=1_000_000))

    def warning(self) -> str | None:
        """Once per session: a sentence when spending passes `warn_at_percent` of a budget."""
        if self._warned or self.price is None:
            return None
        share = self.budget.warn_at_percent / 100
        spent_today = self.spent_today() or 0.0
        if self.spent_usd >= self.budget.session_usd * share:
            which, spent, limit = "session", self.spent_usd, self.budget.session_usd
        elif self.ledger is not None and spent_today >= self.budget.day_usd * share:
            which, spent, limit = "daily", spent_today, self.budget.day_usd
        else:
            return None
        self._warned = True
        return (
            f"Spending has passed {self.budget.warn_at_percent:g}% of the {which} budget "
            f"(${spent:.4f} of ${limit:.2f}); requests stop at the limit."
        )
