"""Export failures become one notice, not a stream of log lines on the user's screen.

The OpenTelemetry exporters report each failed batch (and each retry) through `logging`;
with no handler set up, Python would print every one of them on stderr, which is the
full-screen app's terminal. This handler keeps the first and drops the rest.
"""

from __future__ import annotations

import logging
import threading

WATCHED_LOGGERS = ("opentelemetry",)


class FirstFailure(logging.Handler):
    """Remembers the first warning an exporter logs, until it is taken (once)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._lock_first = threading.Lock()
        self._first: str | None = None
        self._taken = False
        self._count = 0

    def emit(self, record: logging.LogRecord) -> None:
        # Every OpenTelemetry line is kept off the screen; only failed exports are counted
        # (an SDK warning about an attribute's type is no collector gone away).
        if not _is_export_failure(record):
            return
        with self._lock_first:
            self._count += 1
            if self._first is None:
                self._first = record.getMessage()

    @property
    def count(self) -> int:
        """How many failures were logged so far (a collector that went down at exit adds one)."""
        return self._count

    def take(self) -> str | None:
        """The first failure's message, the first time it is asked for after one; else None."""
        with self._lock_first:
            if self._first is None or self._taken:
                return None
            self._taken = True
            return self._first


def _is_export_failure(record: logging.LogRecord) -> bool:
    return record.name.startswith("opentelemetry.exporter") or "export" in record.getMessage()


def catch_export_failures() -> FirstFailure:
    """Route the exporters' log lines to one `FirstFailure` (and nowhere else)."""
    handler = FirstFailure()
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
    return handler
