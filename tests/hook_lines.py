"""Hook command lines the tests share."""

from __future__ import annotations


def blocks_first_stop(reason: str) -> str:
    """A stop hook that sends the model on once with `reason`, then lets it stop: the event
    it reads says `"stop_hook_active": true` once a stop hook has sent the model on."""
    return f'grep -q \'"stop_hook_active": false\' && {{ echo "{reason}" >&2; exit 2; }}; :'
