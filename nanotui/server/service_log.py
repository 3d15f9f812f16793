"""The service's own audit trail, beside each session's log: who changed what through the
API (sessions started and closed, approvals answered, interrupts), every refused sign-in,
and, in a log of its own, the admin's commands (they run in another process).

Both are session logs like any other, hash-chained and anchored: `nanotui audit verify
service-api` (or `service-admin`) checks them, `nanotui audit show` reads them. Replicas on
one database each keep their own API log, `service-api-<host>-<port>` after their URL, so no
two processes ever write one chain.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

from nanotui.governance.audit import SessionLog
from nanotui.protocol.events import Notice

API_LOG = "service-api"
ADMIN_LOG = "service-admin"


def api_log_name(replica: str | None) -> str:
    """The API log's name: `service-api`, or with several replicas one for `replica`'s URL."""
    if replica is None:
        return API_LOG
    where = urlsplit(replica).netloc or replica
    return f"{API_LOG}-{re.sub(r'[^A-Za-z0-9.]+', '-', where).strip('-')}"


class ServiceLog:
    """One line per action: "<who>: <what>". Safe to call from the API's worker threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._log: SessionLog | None = None  # opened by the first line, not before

    def record(self, who: str, what: str, *, warning: bool = False) -> None:
        with self._lock:
            if self._log is None:
                self._log = SessionLog(self.name, header={"service_log": self.name})
            self._log.append(Notice(text=f"{who}: {what}", level="warning" if warning else "info"))

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None


def record_admin_action(what: str) -> None:
    """Log one admin command (`nanotui serve user ...`), then close the log again."""
    import getpass

    log = ServiceLog(ADMIN_LOG)
    try:
        log.record(f"admin {getpass.getuser()}", what)
    finally:
        log.close()
