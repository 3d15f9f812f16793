"""`nanotui cost`: what was spent, by day, by session and by model, from the ledger."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TextIO

from nanotui.governance.ledger import Ledger, SpendRow

GROUPINGS = ("day", "session", "model")


def cost_report(ledger: Ledger, day: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every grouping of the ledger's requests (only `day`'s when given)."""
    return {by: [dataclasses.asdict(row) for row in ledger.report(by, day)] for by in GROUPINGS}


def print_report(ledger: Ledger, out: TextIO, *, day: str | None, as_json: bool) -> None:
    report = cost_report(ledger, day)
    if as_json:
        print(json.dumps(report), file=out)
        return
    if not report["day"]:
        when = f" on {day}" if day else ""
        print(f"No model requests were recorded{when}.", file=out)
        return
    for by in GROUPINGS:
        rows = [SpendRow(**row) for row in report[by]]
        print(_table(by, rows), file=out)
        print(file=out)


def _table(by: str, rows: list[SpendRow]) -> str:
    header = (by, "requests", "input", "cached", "output", "cost")
    lines = [header]
    for row in rows:
        cost = row.spend.text()  # never a silent $0
        lines.append(
            (
                row.key,
                f"{row.requests:,}",
                f"{row.input_tokens:,}",
                f"{row.cached_input_tokens:,}",
                f"{row.output_tokens:,}",
                cost,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )
