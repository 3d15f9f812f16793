"""Shared pytest fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer
from sandbox_support import kill_all

from nanotui.security.sandbox import cgroup as sandbox_cgroup
from nanotui.telemetry.switch import ENDPOINT_VARIABLES


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A NANOTUI_HOME of the test's own, and none of the developer's NANOTUI_* model settings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NANOTUI_HOME", str(home))
    for name in ("NANOTUI_PROVIDER", "NANOTUI_MODEL", "NANOTUI_BASE_URL", "NANOTUI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # A collector named in the developer's environment would turn telemetry on in every test.
    for name in ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small folder to work in (test files that need more define their own)."""
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "a.py").write_text("x = 1\n")
    return folder


@pytest.fixture
def fake_server() -> Iterator[FakeModelServer]:
    """A scripted model server on loopback (see tests/fake_model_server.py), stopped after."""
    with FakeModelServer() as server:
        yield server


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config, state and HOME under the test's own folder (first_run_support.isolate_home);
    a module asks for it with `pytestmark = pytest.mark.usefixtures("isolated_home")`."""
    from first_run_support import isolate_home

    return isolate_home(tmp_path, monkeypatch)


@pytest.fixture(autouse=True)
def own_rate_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test counts its own model requests: the limiters are shared in the process by
    endpoint, and another test's fake server on the same port within the minute showed in
    a snapshot as "2 req/min"."""
    from nanotui.governance.ratelimit import RequestRateLimiter

    monkeypatch.setattr(RequestRateLimiter, "_shared", {})


@pytest.fixture(autouse=True)
def no_managed_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """An organisation's managed file on the machine running the tests must not change what
    they see: it is looked for in an empty folder (test_managed_policy.py writes one)."""
    from nanotui import paths

    nowhere = tmp_path_factory.getbasetemp() / "no-managed-folder" / "managed.toml"
    monkeypatch.setattr(paths, "MANAGED_CONFIG_FILE", nowhere)


@pytest.fixture(autouse=True)
def shared_launcher_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """bwrap's compiled launcher is made once per test process, in the run's temporary
    folder: not once per test, and not in the state folder of whoever runs the tests."""
    from nanotui.security.sandbox import compiled_launcher

    shared = tmp_path_factory.getbasetemp() / "launcher-bin"
    monkeypatch.setattr(compiled_launcher, "launcher_folder", lambda: shared)


@pytest.fixture
def managed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's organisation's managed file is looked for (the test writes it)."""
    from nanotui import paths

    path = tmp_path / "etc" / "nanotui" / "managed.toml"
    path.parent.mkdir(parents=True)
    monkeypatch.setattr(paths, "MANAGED_CONFIG_FILE", path)
    return path


@pytest.fixture(autouse=True)
def collection_given_back() -> Iterator[None]:
    """Every app that took over garbage collection (nanotui.tui.collector) gave it back."""
    import gc

    from nanotui.tui import collector

    yield
    active = collector.is_active()
    collector.stop()  # so one failure does not leave the rest of the run uncollected
    assert not active and gc.isenabled(), "an app left garbage collection switched off"


@pytest.fixture
def marker() -> Iterator[str]:
    # A fractional sleep length nobody else uses: it names the test's processes in /proc.
    value = f"7{uuid.uuid4().int % 10**8:08d}"
    yield value
    kill_all(value)


@pytest.fixture(params=["own cgroup", "no cgroup"])
def cgroup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a command can run: in its own pids cgroup (where the machine allows one,
    as here when run as root) and without (the usual desktop), where killing the process
    group and --die-with-parent must reach everything on their own."""
    if request.param == "no cgroup":
        monkeypatch.setitem(sandbox_cgroup._usable, "parent", None)
    elif sandbox_cgroup.pids_cgroup_parent() is None:
        pytest.skip("no pids cgroup can be made here")
    return request.param
