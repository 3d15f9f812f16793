"""Which way is stricter, setting by setting: the one order both guards of the settings use.

An untrusted project's settings and every layer under an organisation's managed settings may
only tighten. Both ask the same question of a setting: is this value at least as strict as
that one? `at_least_as_strict` answers it for the settings that have an order (budgets
lower, lists of rules longer, the network off, a sandbox required, ...). A setting with no
order here (the model, a timeout of the provider, how long sessions are kept) has none that
a guard could trust, so a guard keeps such a value as it is: `None` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nanotui.protocol.basics import MODE_ORDER

NETWORK_ORDER = ("none", "allowlist", "full")

Order = Callable[[Any, Any], bool]
"""(new, old) -> True when `new` is at least as strict as `old`."""


def _no_more_than(new: Any, old: Any) -> bool:
    return new <= old


def _at_least(new: Any, old: Any) -> bool:
    return new >= old


def _holds_all_of(new: list[str], old: list[str]) -> bool:
    """Lists of rules that restrict (deny, ask, protected paths): keeping every old one."""
    return set(old) <= set(new)


def _only_some_of(new: list[str], old: list[str]) -> bool:
    """Lists that grant (allow rules, what the sandbox may see): adding none."""
    return set(new) <= set(old)


def _off_or_already_on(new: bool, old: bool) -> bool:
    """A switch that loosens when on (the network, rolling back on its own)."""
    return not new or old


def _on_or_already_off(new: bool, old: bool) -> bool:
    """A switch that protects when on (a required sandbox, checkpoints)."""
    return new or not old


def _capped(new: float | None, old: float | None) -> bool:
    """A ceiling where None means none at all (the month's budget)."""
    return new is not None and (old is None or new <= old)


def _rate(new: int, old: int) -> bool:
    """A rate where 0 means no limit."""
    return new != 0 and (old == 0 or new <= old)


def _kept_longer(new: float, old: float) -> bool:
    """How many checkpoints, or days of them, are kept (0 keeps all)."""
    return new == 0 or (old != 0 and new >= old)


def _mode(new: str, old: str) -> bool:
    return MODE_ORDER.index(new) <= MODE_ORDER.index(old)


ORDERS: dict[tuple[str, str], Order] = {
    ("approval", "mode"): _mode,
    ("approval", "max_mode"): _mode,
    ("policy", "allow"): _only_some_of,
    **{("policy", key): _holds_all_of for key in ("ask", "deny", "protected_paths")},
    ("policy", "default"): lambda new, old: new == "deny" or old == "ask",
    ("policy", "read_only_builtin"): _off_or_already_on,
    ("sandbox", "network"): lambda new, old: NETWORK_ORDER.index(new) <= NETWORK_ORDER.index(old),
    ("sandbox", "allowed_domains"): _only_some_of,
    ("sandbox", "backend"): lambda new, old: new != "plain" or old == "plain",
    ("sandbox", "require"): _on_or_already_off,
    **{("sandbox", key): _only_some_of for key in ("pass_env", "home_allow")},
    ("sandbox", "readable_credentials"): _only_some_of,
    **{
        ("sandbox", key): _no_more_than
        for key in (
            *("timeout_s", "max_output_bytes", "memory_mb", "max_processes"),
            *("max_file_mb", "cpu_time_s", "tmp_mb", "max_workspace_growth_mb"),
        )
    },
    **{
        ("budget", key): _no_more_than
        for key in ("session_usd", "day_usd", "max_tokens_per_request", "warn_at_percent")
    },
    ("budget", "month_usd"): _capped,
    **{("rate_limit", key): _rate for key in ("requests_per_minute", "tokens_per_minute")},
    # Checkpoints are the way back: more of them is stricter.
    ("checkpoints", "enabled"): _on_or_already_off,
    ("checkpoints", "include"): _holds_all_of,
    ("checkpoints", "max_file_mb"): _at_least,
    ("checkpoints", "rollback_on_failure"): _off_or_already_on,
    **{("checkpoints", key): _kept_longer for key in ("keep_last", "max_age_days")},
}


def at_least_as_strict(section: str, key: str, new: Any, old: Any) -> bool | None:
    """Whether `new` is at least as strict as `old` for `section.key`; None when that
    setting has no order (only an equal value is then as strict)."""
    order = ORDERS.get((section, key))
    return None if order is None else order(new, old)


def tightened(section: str, key: str, value: Any, floor: Any) -> Any:
    """`value` if it is at least as strict as `floor`; else the nearest value that is: a
    restricting list gains the floor's entries, a granting list keeps only the floor's, and
    anything else becomes the floor (a setting with no order included)."""
    order = ORDERS.get((section, key))
    if value == floor or (order is not None and order(value, floor)):
        return value
    if order is _holds_all_of:
        return list(dict.fromkeys([*floor, *value]))
    if order is _only_some_of:
        return [entry for entry in value if entry in floor]
    return floor
