"""Prices and budgets for model requests.

This first version prices from `[prices."model"]` in config (and knows the demo is free);
an unknown model is "unpriced", never a silent $0. The governance issue adds the bundled
price data and the shared daily ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nanotui.config import BudgetConfig, PriceConfig
from nanotui.providers.base import ChatRequest, Usage

CHARS_PER_TOKEN = 4  # a deliberately rough estimate; only used before the real usage arrives


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float
    cache_write_per_mtok: float
    source: str

    def cost(self, usage: Usage) -> float:
        """Cost in USD. input_tokens includes cached reads and writes, so they are split out."""
        uncached = max(usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0)
        return (
            uncached * self.input_per_mtok
            + usage.cached_input_tokens * self.cached_input_per_mtok
            + usage.cache_write_tokens * self.cache_write_per_mtok
            + usage.output_tokens * self.output_per_mtok
        ) / 1_000_000


def find_price(
    model: str, prices: dict[str, PriceConfig], *, is_demo: bool = False
) -> Price | None:
    if is_demo:
        return Price(0.0, 0.0, 0.0, 0.0, source="offline demo (free)")
    configured = prices.get(model)
    if configured is None:
        return None
    return Price(
        input_per_mtok=configured.input_per_mtok,
        output_per_mtok=configured.output_per_mtok,
        cached_input_per_mtok=(
            configured.cached_input_per_mtok
            if configured.cached_input_per_mtok is not None
            else configured.input_per_mtok
        ),
        cache_write_per_mtok=(
            configured.cache_write_per_mtok
            if configured.cache_write_per_mtok is not None
            else configured.input_per_mtok
        ),
        source="config [prices]",
    )


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
    """Running totals for one session and the pre-request budget check."""

    budget: BudgetConfig
    price: Price | None
    usage: Usage
    spent_usd: float = 0.0
    prices: dict[str, PriceConfig] = field(default_factory=dict)
    """The configured prices, so a model switched mid-session is priced too."""

    def fit_request(self, request: ChatRequest) -> ChatRequest:
        """Clamp max_tokens to the per-request cap and refuse what would pass the budget."""
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
        if self.price is not None:
            worst = self.price.cost(
                Usage(input_tokens=input_tokens, output_tokens=request.max_tokens)
            )
            if self.spent_usd + worst > self.budget.session_usd:
                raise BudgetExceeded(
                    f"The next request could cost up to ${worst:.4f}, which would pass the "
                    f"session budget (${self.spent_usd:.4f} of ${self.budget.session_usd:.2f} "
                    "spent); raise budget.session_usd or start a new session."
                )
        return request

    def record(self, usage: Usage) -> float | None:
        self.usage = self.usage + usage
        if self.price is None:
            return None
        cost = self.price.cost(usage)
        self.spent_usd += cost
        return cost
