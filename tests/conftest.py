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
