"""Where a model's price comes from: the user's config, the bundled price data, or nowhere.

`[prices."model"]` in config wins (the user knows their contract, and local models have no
public price). Otherwise the price data bundled with `genai-prices` is asked, offline, and
only for the service the endpoint really is (matched by its URL): a local server serving a
model called `gpt-4o` is not OpenAI, and must not be priced as if it were. A model found in
neither is "unpriced": shown as such, never as a silent $0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Protocol

from nanotui.config import PriceConfig
from nanotui.protocol.model_io import Usage


class Price(Protocol):
    source: str
    """Where the price came from, with the price data's version: stored with each cost."""

    def cost(self, usage: Usage) -> float:
        """USD for one request's usage (input_tokens includes the cached ones)."""
        ...


@dataclass(frozen=True)
class RatePrice:
    """Fixed rates per million tokens: from config, or zero for the demo."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float
    cache_write_per_mtok: float
    source: str

    def cost(self, usage: Usage) -> float:
        # input_tokens includes cached reads and writes, so they are split out, never
        # counted twice.
        uncached = max(usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0)
        return (
            uncached * self.input_per_mtok
            + usage.cached_input_tokens * self.cached_input_per_mtok
            + usage.cache_write_tokens * self.cache_write_per_mtok
            + usage.output_tokens * self.output_per_mtok
        ) / 1_000_000


@dataclass(frozen=True)
class DataPrice:
    """A price from the bundled genai-prices data, for one model at one service."""

    model: str
    api_url: str
    source: str

    def cost(self, usage: Usage) -> float:
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price

        # genai-prices counts input as we do: the whole prompt, cached tokens included.
        calculated = calc_price(
            PriceUsage(
                input_tokens=usage.input_tokens,
                cache_read_tokens=usage.cached_input_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                output_tokens=usage.output_tokens,
            ),
            model_ref=self.model,
            provider_api_url=self.api_url,
        )
        return float(Decimal(calculated.total_price))


DEMO_PRICE = RatePrice(0.0, 0.0, 0.0, 0.0, source="offline demo (free)")


def find_price(
    model: str,
    prices: dict[str, PriceConfig],
    *,
    is_demo: bool = False,
    api_url: str | None = None,
) -> Price | None:
    """The price of `model` at the endpoint `api_url`, or None when it is unpriced."""
    if is_demo:
        return DEMO_PRICE
    configured = prices.get(model)
    if configured is not None:
        return configured_price(configured)
    if api_url and _data_knows(model, api_url):
        return DataPrice(model, api_url, source=f"genai-prices {price_data_version()} data")
    return None


def configured_price(configured: PriceConfig) -> RatePrice:
    """A `[prices."model"]` table; cached rates default to the input rate when not given."""

    def or_input(value: float | None) -> float:
        return configured.input_per_mtok if value is None else value

    return RatePrice(
        input_per_mtok=configured.input_per_mtok,
        output_per_mtok=configured.output_per_mtok,
        cached_input_per_mtok=or_input(configured.cached_input_per_mtok),
        cache_write_per_mtok=or_input(configured.cache_write_per_mtok),
        source="config [prices]",
    )


def _data_knows(model: str, api_url: str) -> bool:
    try:
        DataPrice(model, api_url, source="").cost(Usage(input_tokens=1))
    except LookupError:
        return False
    return True


@cache
def price_data_version() -> str:
    """The bundled price data's version: the installed genai-prices release."""
    from importlib.metadata import version

    return version("genai-prices")
