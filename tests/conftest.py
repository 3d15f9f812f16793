"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_model_server import FakeModelServer


@pytest.fixture
def fake_server() -> Iterator[FakeModelServer]:
    """A scripted model server on loopback (see tests/fake_model_server.py), stopped after."""
    with FakeModelServer() as server:
        yield server


@pytest.fixture(autouse=True)
def collection_given_back() -> Iterator[None]:
    """Every app that took over garbage collection (nanotui.tui.collector) gave it back."""
    import gc

    from nanotui.tui import collector

    yield
    active = collector.is_active()
    collector.stop()  # so one failure does not leave the rest of the run uncollected
    assert not active and gc.isenabled(), "an app left garbage collection switched off"
