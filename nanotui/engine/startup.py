"""What a front end settles before a session exists: the folder's trust, the demo's
workspace, and a model client checked early.

The app asks these questions on its first screens, before `assembly.build_agent` runs; they
are the engine's answers, so that no screen reaches into the security or provider layers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nanotui.security import trust

if TYPE_CHECKING:
    from nanotui.config import ProviderConfig

    # A model client checked before the session, handed on to `build_agent` unchanged.
    from nanotui.providers.base import Provider as ModelClient

# The model clients themselves are imported when first needed: asking about trust stays cheap.


def is_trusted(workspace: Path) -> bool:
    return trust.is_trusted(workspace)


def was_asked(workspace: Path) -> bool:
    """Whether the user already answered the trust question for this folder."""
    return trust.was_asked(workspace)


def is_demo_copy(workspace: Path) -> bool:
    return trust.is_demo_copy(workspace)


def trust_workspace(workspace: Path) -> None:
    """Trust the folder from the next start on (raises OSError when it cannot be saved)."""
    trust.trust(workspace)


def decline_trust(workspace: Path) -> None:
    """Remember that the user said no, so the question is not asked again."""
    trust.decline(workspace)


def demo_workspace(workspace: Path, *, explicit: bool) -> tuple[Path, str | None]:
    """Where the offline demo works (the sample project or a fresh copy of it), and the
    sentence that says so when it is a copy (None otherwise)."""
    from nanotui.providers import demo

    target = demo.demo_workspace(workspace)
    notice = demo.demo_copy_notice(workspace, target, explicit=explicit, name_copy=False)
    return target, notice


def check_model(config: ProviderConfig) -> ModelClient:
    """The model client the settings describe, built now so that a missing key or model
    stops the start with one sentence (raises a `UserFacingError`)."""
    from nanotui.providers import factory

    return factory.build_provider(config)
