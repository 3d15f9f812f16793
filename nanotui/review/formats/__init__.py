"""What `nanotui review` prints: one `ReviewReport` rendered as text, JSON, Markdown, a GitHub
review or SARIF.

Each format is a module with a `render(report, fail_on, tool_version)`; this picks one by
name. The formats share their sentences (`wording`) and treat the model's text as untrusted
(`markdown_safe` for everything that ends up as Markdown).
"""

from __future__ import annotations

from collections.abc import Callable

from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.findings import SEVERITIES, ReviewReport
from nanotui.review.formats import github, json_report, markdown, sarif, text

Renderer = Callable[[ReviewReport, str | None, str], str]

_RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_report.render,
    "markdown": markdown.render,
    "github": github.render,
    "sarif": sarif.render,
}
FORMATS = tuple(_RENDERERS)
"""The names `--format` accepts: text, json, markdown, github, sarif."""


def render(
    report: ReviewReport, fmt: str, *, fail_on: str | None = None, tool_version: str = ""
) -> str:
    """The report in format `fmt`; `fail_on` is the least severity that fails the review
    (None: nothing fails), `tool_version` the nanotui version SARIF names."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise UserFacingError(
            f"There is no review format {fmt!r}; use one of {', '.join(FORMATS)}."
        )
    if fail_on is not None and fail_on not in SEVERITIES:
        raise UserFacingError(
            f"--fail-on takes a severity ({', '.join(SEVERITIES)}), not {fail_on!r}."
        )
    return renderer(report, fail_on, tool_version)
