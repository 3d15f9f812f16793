"""What the cost meter knows, and how it reads: spend against budgets, tokens, rate, price.

The figures come from the engine's CostUpdated and UsageReported events. While a reply
streams, its cost is estimated from the streamed text (CHARS_PER_TOKEN characters a token,
at the output rate) and shown with a "~"; the reported usage replaces the estimate when it
arrives. A model nobody priced reads "unpriced", never "$0", and requests nobody priced are
counted beside the dollars of the others (the rule of `nanotui.protocol.spend`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from textual.content import Content

from nanotui.protocol.events import CostUpdated
from nanotui.protocol.model_io import CHARS_PER_TOKEN, Usage
from nanotui.protocol.spend import Spend, unpriced_suffix

Level = Literal["ok", "warning", "over"]

BAR_WIDTH = 16
LINE_BAR_WIDTH = 6
LABEL_WIDTH = 8
COLUMN_WIDTH = 7
BAR_STYLES: dict[Level, str] = {"ok": "$success", "warning": "$warning", "over": "$error"}


def budget_level(spent: float, limit: float, warn_at_percent: float) -> Level:
    """ "over" at the limit, "warning" from `warn_at_percent` of it, else "ok"."""
    fraction = 1.0 if limit <= 0 else spent / limit
    if fraction >= 1.0:
        return "over"
    if fraction * 100 >= warn_at_percent:
        return "warning"
    return "ok"


def budget_bar(
    spent: float, limit: float, warn_at_percent: float, width: int = BAR_WIDTH
) -> Content:
    """A bar of the budget used, amber from the warning threshold, red at the limit."""
    fraction = 1.0 if limit <= 0 else min(spent / limit, 1.0)
    filled = round(fraction * width)
    style = BAR_STYLES[budget_level(spent, limit, warn_at_percent)]
    return Content.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def format_tokens(count: int) -> str:
    """A token count in at most six characters: 12,345 · 123.4k · 12.35M."""
    if count < 100_000:
        return f"{count:,}"
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.2f}M"


@dataclass
class CostFigures:
    """The meter's state: the last CostUpdated, the last request's usage, the reply streaming."""

    model_label: str = ""
    is_demo: bool = False
    priced: bool = False
    price_source: str = ""
    session_usd: float | None = None
    """The priced requests' dollars; None when none had a price."""
    session_unpriced_requests: int = 0
    day_usd: float | None = None
    """None: not tracked (the demo keeps no ledger), or none of today's requests was priced."""
    day_unpriced_requests: int = 0
    session_budget_usd: float = 0.0
    day_budget_usd: float = 0.0
    warn_at_percent: float = 80.0
    output_usd_per_mtok: float | None = None
    session_usage: Usage = field(default_factory=Usage)
    last_usage: Usage | None = None
    requests_last_minute: int | None = None
    requests_per_minute: int | None = None
    streamed_chars: int = 0
    """Characters of the reply streaming now, not yet settled by reported usage."""
    files_changed: tuple[str, ...] = ()

    # ---- updates ------------------------------------------------------------------------

    def apply(self, event: CostUpdated) -> None:
        """Settle on the engine's figures; any estimate of a streaming reply is dropped."""
        self.session_usd = event.session_usd
        self.session_unpriced_requests = event.session_unpriced_requests
        self.session_usage = event.session_usage
        self.priced = event.priced
        self.price_source = event.price_source
        self.day_usd = event.day_usd
        self.day_unpriced_requests = event.day_unpriced_requests
        if event.session_budget_usd is not None:
            self.session_budget_usd = event.session_budget_usd
        if event.day_budget_usd is not None:
            self.day_budget_usd = event.day_budget_usd
        if event.warn_at_percent is not None:
            self.warn_at_percent = event.warn_at_percent
        self.output_usd_per_mtok = event.output_usd_per_mtok
        self.requests_last_minute = event.requests_last_minute
        self.requests_per_minute = event.requests_per_minute
        self.streamed_chars = 0

    # ---- estimates ----------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.streamed_chars > 0

    @property
    def estimated_output_tokens(self) -> int:
        return math.ceil(self.streamed_chars / CHARS_PER_TOKEN)

    @property
    def estimate_usd(self) -> float:
        """The streaming reply's output at the output rate (0 when nothing streams)."""
        if not self.streaming or self.output_usd_per_mtok is None:
            return 0.0
        return self.estimated_output_tokens * self.output_usd_per_mtok / 1_000_000

    @property
    def estimated(self) -> bool:
        """The money figures include an estimate (shown with a "~")."""
        return self.streaming and self.priced and not self.is_demo

    @property
    def money_tracked(self) -> bool:
        return self.priced and not self.is_demo

    @property
    def session_spend(self) -> Spend:
        return Spend(self.session_usd, self.session_unpriced_requests)

    @property
    def day_spend(self) -> Spend | None:
        """Today's spending; None when it is not tracked."""
        if self.day_usd is None and not self.day_unpriced_requests:
            return None
        return Spend(self.day_usd, self.day_unpriced_requests)

    @property
    def session_shown_usd(self) -> float:
        return (self.session_usd or 0.0) + self.estimate_usd

    @property
    def day_shown_usd(self) -> float | None:
        return None if self.day_usd is None else self.day_usd + self.estimate_usd

    @property
    def level(self) -> Level:
        """The worse of the session's and today's budget levels (an estimate included)."""
        levels: list[Level] = ["ok"]
        if self.money_tracked:
            levels.append(
                budget_level(self.session_shown_usd, self.session_budget_usd, self.warn_at_percent)
            )
        day = self.day_shown_usd
        if day is not None and not self.is_demo:
            levels.append(budget_level(day, self.day_budget_usd, self.warn_at_percent))
        return max(levels, key=["ok", "warning", "over"].index)

    # ---- how it reads -------------------------------------------------------------------

    def detail(self, width: int = 0) -> Content:
        """The full meter, one fact a row, for a panel `width` cells wide (0: unknown)."""
        rows: list[tuple[str, Content | str]] = [("session", self._session(width))]
        if not self.is_demo:
            rows.append(("today", self._today(width)))
        rows.append(("tokens", _columns("input", "cached", "output", "reason", style="dim")))
        rows.append(("session", _usage_columns(self.session_usage)))
        if self.streaming:
            rows.append(("now", _columns("…", "…", f"~{self.estimated_output_tokens:,}", "…")))
        elif self.last_usage is not None:
            rows.append(("last", _usage_columns(self.last_usage)))
        if not self.is_demo:  # offline: no endpoint, no rate to watch
            rows.append(("rate", self._rate(compact=False)))
        rows.append(("model", self.model_label))
        rows.append(("price", self._source()))
        rows.append(("changed", ", ".join(self.files_changed) or "none"))
        return Content("\n").join(
            Content.assemble((f"{name:<{LABEL_WIDTH}}", "dim"), value) for name, value in rows
        )

    def line(self) -> Content:
        """The meter in one line, for narrow terminals: session, today, rate."""
        if self.is_demo:
            usage = self.session_usage
            return Content.assemble(
                ("cost ", "dim"),
                f"free (offline demo) · {format_tokens(usage.input_tokens)} in · "
                f"{format_tokens(usage.output_tokens)} out",
            )
        parts: list[Content] = [Content.assemble(("session ", "dim"), self._session_short())]
        if self.day_spend is not None:
            parts.append(Content.assemble(("today ", "dim"), self._today_short()))
        parts.append(Content(self._rate(compact=True)))
        return Content("  ").join(parts)

    def _money(self, spent: float, limit: float, *, short: bool = False) -> str:
        mark = "~" if self.estimated else ""
        if short:
            return f"{mark}${spent:.4f}/${limit:.2f}"
        return f"{mark}${spent:.4f} of ${limit:.2f}"

    def _session(self, width: int) -> Content:
        if self.is_demo:
            return Content("free (offline demo)")
        spend = self.session_spend
        if not self.priced:
            return Content(f"{spend.text()}, no budget applies")
        suffix = unpriced_suffix(spend)
        return self._with_bar(self.session_shown_usd, self.session_budget_usd, width, suffix)

    def _today(self, width: int) -> Content:
        spend, day = self.day_spend, self.day_shown_usd
        if spend is None:
            return Content("not tracked")
        if day is None:
            return Content(spend.text())
        return self._with_bar(day, self.day_budget_usd, width, unpriced_suffix(spend))

    def _with_bar(self, spent: float, limit: float, width: int, suffix: str = "") -> Content:
        text = self._money(spent, limit) + suffix
        bar_width = BAR_WIDTH
        if width > 0:
            bar_width = max(4, min(BAR_WIDTH, width - LABEL_WIDTH - len(text) - 1))
        return Content.assemble(
            budget_bar(spent, limit, self.warn_at_percent, bar_width), f" {text}"
        )

    def _session_short(self) -> Content:
        spend = self.session_spend
        if not self.priced:
            return Content(spend.text())
        spent, limit = self.session_shown_usd, self.session_budget_usd
        return Content.assemble(
            budget_bar(spent, limit, self.warn_at_percent, LINE_BAR_WIDTH),
            f" {self._money(spent, limit, short=True)}{unpriced_suffix(spend)}",
        )

    def _today_short(self) -> Content:
        spend, spent = self.day_spend, self.day_shown_usd
        if spend is not None and spent is None:
            return Content(spend.text())
        limit = self.day_budget_usd
        return Content.assemble(
            budget_bar(spent or 0.0, limit, self.warn_at_percent, LINE_BAR_WIDTH),
            f" {self._money(spent or 0.0, limit, short=True)}"
            f"{unpriced_suffix(spend) if spend else ''}",
        )

    def _rate(self, *, compact: bool) -> str:
        count, limit = self.requests_last_minute, self.requests_per_minute
        if count is None:
            return "not counted"
        if not limit:
            return f"{count} req/min, no limit"
        return f"{count}/{limit} req/min" if compact else f"{count} req/min of {limit}"

    def _source(self) -> str:
        if self.is_demo:
            return "none needed (offline demo)"
        if not self.priced:
            return "unpriced: add it to [prices]"
        return self.price_source


def _columns(*cells: str, style: str = "") -> Content:
    return Content.assemble(*((f"{cell:>{COLUMN_WIDTH}}", style) for cell in cells))


def _usage_columns(usage: Usage) -> Content:
    return _columns(
        format_tokens(usage.input_tokens),
        format_tokens(usage.cached_input_tokens),
        format_tokens(usage.output_tokens),
        format_tokens(usage.reasoning_tokens),
    )
