"""A sandboxed command sees an empty home except what toolchains need: an unknown credential
store in the home folder is hidden by default, not only the ones someone listed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import bare_runner

from nanotui.config import DEFAULT_HOME_ALLOW
from nanotui.config_loading import load_settings
from nanotui.security.sandbox.bwrap import BwrapRunner, probe_bwrap
from nanotui.security.sandbox.home import home_view, read_grants
from nanotui.security.sandbox.landlock import LandlockRunner, probe_landlock

PLANTED = {
    ".config/gh/hosts.yml": "github.com:\n  oauth_token: gho_planted_gh_token\n",
    ".bash_history": "export PLANTED_HISTORY_SECRET=1\n",
    ".gnupg/private-keys-v1.d/key": "PLANTED GPG KEY\n",
    ".pgpass": "db:5432:*:me:planted-pg-password\n",
    ".vault-token": "planted-vault-token\n",
    ".docker/config.json": '{"auths": {"x": {"auth": "planted-docker"}}}\n',
    ".cargo/credentials.toml": '[registry]\ntoken = "planted-cargo"\n',
    "notes/unknown-store.txt": "planted unknown store\n",
}


@pytest.fixture
def fake_home() -> Iterator[Path]:
    # Outside /tmp, which bwrap replaces by a private one: where a real home would be.
    home = Path(tempfile.mkdtemp(prefix="nanotui-home-", dir="/var/tmp"))
    try:
        for name, text in PLANTED.items():
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_text(text)
        tool = home / ".local" / "bin" / "hello-tool"
        tool.parent.mkdir(parents=True)
        tool.write_text("#!/bin/sh\necho tool ran\n")
        tool.chmod(0o755)
        (home / ".cargo" / "bin").mkdir(parents=True)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _read_everything(home: Path) -> str:
    files = " ".join(str(home / name) for name in PLANTED)
    return (
        f"for f in {files}; do cat $f; base64 $f; od -c $f; done; "
        'python3 -c "import pathlib; print([p.read_text() for p in '
        f"pathlib.Path('{home}').rglob('*') if p.is_file()])\"; "
        "hello-tool"
    )


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
async def test_a_command_reads_nothing_of_home_but_toolchains(
    backend: str, tmp_path: Path, fake_home: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    runner = bare_runner(backend, workspace)
    env = {"HOME": str(fake_home), "PATH": f"{fake_home}/.local/bin:/usr/bin:/bin"}
    result = await runner.run(
        _read_everything(fake_home), cwd=workspace, timeout_s=30, max_output_bytes=200_000, env=env
    )
    assert "tool ran" in result.stdout, result.stderr
    assert "planted" not in result.stdout.lower()
    assert "cGxhbnRlZ" not in result.stdout  # "planted" in base64
    assert "p   l   a   n   t" not in result.stdout  # od -c


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
async def test_a_workspace_inside_home_stays_visible_and_writable(
    backend: str, fake_home: Path
) -> None:
    workspace = fake_home / "projects" / "app"
    workspace.mkdir(parents=True)
    (workspace / "main.py").write_text("print('app')\n")
    runner = bare_runner(backend, workspace)
    result = await runner.run(
        f"cat main.py && echo made > made.txt && cat made.txt; cat {fake_home}/.pgpass",
        cwd=workspace,
        timeout_s=30,
        max_output_bytes=10_000,
        env={"HOME": str(fake_home)},
    )
    assert result.stdout == "print('app')\nmade\n", result.stderr
    assert (workspace / "made.txt").read_text() == "made\n"


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
async def test_nanotuis_own_folders_stay_hidden_outside_home(
    backend: str, tmp_path: Path, fake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = Path(tempfile.mkdtemp(prefix="nanotui-state-", dir="/var/tmp"))
    try:
        (state / "ledger.sqlite3").write_text("planted ledger")
        monkeypatch.setenv("NANOTUI_HOME", str(state))
        workspace = tmp_path / "ws"
        workspace.mkdir()
        runner = bare_runner(backend, workspace)
        result = await runner.run(
            f"cat {state}/ledger.sqlite3; echo done",
            cwd=workspace,
            timeout_s=30,
            max_output_bytes=10_000,
            env={"HOME": str(fake_home)},
        )
    finally:
        shutil.rmtree(state, ignore_errors=True)
    assert result.stdout == "done\n"


def test_an_untrusted_project_cannot_show_more_of_home(home: Path, workspace: Path) -> None:
    project = workspace / ".nanotui" / "config.toml"
    project.parent.mkdir(parents=True, exist_ok=True)
    project.write_text('[sandbox]\nhome_allow = [".ssh", ".local/bin"]\n')
    loaded = load_settings(workspace, environ={})
    assert loaded.settings.sandbox.home_allow == DEFAULT_HOME_ALLOW
    assert "sandbox.home_allow" in loaded.notices[0]
    project.write_text('[sandbox]\nhome_allow = [".local/bin"]\n')  # narrower: kept
    assert load_settings(workspace, environ={}).settings.sandbox.home_allow == [".local/bin"]


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
async def test_a_credential_store_inside_an_allowed_entry_stays_unreadable(
    backend: str, tmp_path: Path, fake_home: Path
) -> None:
    # uv keeps `uv auth login` tokens under .local/share/uv, which the defaults show; a user
    # who shows .cargo whole still does not show its registry token.
    store = fake_home / ".local/share/uv/credentials/credentials.toml"
    store.parent.mkdir(parents=True)
    # Assembled here so that the tree's own secret scan does not take it for a real one.
    store.write_text("[[credential]]\npass" + 'word = "planted-uv-token"\n')
    interpreter = fake_home / ".local/share/uv/python/cpython/bin/hello"
    interpreter.parent.mkdir(parents=True)
    interpreter.write_text("#!/bin/sh\necho managed python ran\n")
    interpreter.chmod(0o755)
    (fake_home / ".cargo" / "config.toml").write_text("[build]\njobs = 2\n")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    problem = probe_bwrap() if backend == "bwrap" else probe_landlock()
    if problem:
        pytest.skip(f"the {backend} backend does not start here: {problem}")
    allow = [*DEFAULT_HOME_ALLOW, ".cargo"]
    runner_class = BwrapRunner if backend == "bwrap" else LandlockRunner
    runner = runner_class(workspace, home_allow=allow)
    result = await runner.run(
        f"cat {store}; base64 {fake_home}/.cargo/credentials.toml; {interpreter}; "
        f"cat {fake_home}/.cargo/config.toml",
        cwd=workspace,
        timeout_s=30,
        max_output_bytes=10_000,
        env={"HOME": str(fake_home)},
    )
    assert "managed python ran" in result.stdout, result.stderr
    assert "jobs = 2" in result.stdout, result.stderr  # the rest of .cargo is there
    assert "planted" not in result.stdout and "cGxhbnRlZ" not in result.stdout


def test_read_grants_follow_the_folders_as_they_change(tmp_path: Path) -> None:
    # The answer is reused while the listed folders stay as they were (each Landlock
    # command asks); an entry added or removed since must show.
    (tmp_path / "home" / "secret").mkdir(parents=True)
    (tmp_path / "tools").mkdir()
    hidden = [tmp_path / "home" / "secret"]
    assert sorted(read_grants(hidden, tmp_path)) == [str(tmp_path / "tools")]
    (tmp_path / "home" / "shared").mkdir()
    (tmp_path / "tools").rmdir()
    (tmp_path / "data").mkdir()
    assert sorted(read_grants(hidden, tmp_path)) == [
        str(tmp_path / "data"),
        str(tmp_path / "home" / "shared"),
    ]


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
async def test_a_credential_store_made_after_a_command_is_hidden_from_the_next(
    backend: str, tmp_path: Path, fake_home: Path
) -> None:
    # The home view is reused between commands (home_view): a store written meanwhile, in
    # an entry the first command was shown whole, must not be shown to the next.
    (fake_home / ".cargo" / "credentials.toml").unlink()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    problem = probe_bwrap() if backend == "bwrap" else probe_landlock()
    if problem:
        pytest.skip(f"the {backend} backend does not start here: {problem}")
    runner_class = BwrapRunner if backend == "bwrap" else LandlockRunner
    runner = runner_class(workspace, home_allow=[".cargo"])
    store = fake_home / ".cargo" / "credentials.toml"
    (fake_home / ".cargo" / "config.toml").write_text("[build]\njobs = 2\n")
    line = f"cat {fake_home}/.cargo/config.toml {store}"
    env = {"HOME": str(fake_home)}
    first = await runner.run(line, cwd=workspace, timeout_s=30, max_output_bytes=10_000, env=env)
    assert "jobs = 2" in first.stdout, first.stderr
    store.write_text('[registry]\ntoken = "planted-later"\n')
    second = await runner.run(line, cwd=workspace, timeout_s=30, max_output_bytes=10_000, env=env)
    assert "jobs = 2" in second.stdout, second.stderr
    assert "planted" not in second.stdout


def _moved_link(tmp_path: Path, store: str, entry: str) -> tuple[Path, Path, Path, Path]:
    """A home whose `entry` links to a link (links/entry) to `first`; `first` and `second`
    both hold `store`. Returns the home, the link behind the entry, first and second."""
    home, first, second = tmp_path / "home", tmp_path / "first", tmp_path / "second"
    for folder in (home, first, second, tmp_path / "links"):
        folder.mkdir()
    for folder in (first, second):
        (folder / store).write_text("token\n")
    link = tmp_path / "links" / entry
    link.symlink_to(first)
    (home / entry).symlink_to(link)
    return home, link, first, second


def _point(link: Path, target: Path) -> None:
    link.unlink()
    link.symlink_to(target)


def test_the_home_view_follows_where_an_allowed_entry_leads(tmp_path: Path) -> None:
    # An allowed entry that is a link to a link: pointing the second one elsewhere changes
    # no folder of the home, yet the credential store to hide now lies elsewhere.
    home, link, first, second = _moved_link(tmp_path, "credentials.toml", ".cargo")
    env = {"HOME": str(home)}
    view = home_view(env, [".cargo"], tmp_path / "ws")
    assert view.stores_in_shown == [first / "credentials.toml"]
    _point(link, second)
    view = home_view(env, [".cargo"], tmp_path / "ws")
    assert view.stores_in_shown == [second / "credentials.toml"]


def test_the_home_view_follows_links_that_nothing_is_looked_up_below(tmp_path: Path) -> None:
    # `tools` is shown and `.netrc` (a store) links into it; no other path is looked up
    # below either, so only where they lead tells that the link behind them moved.
    home, link, first, second = _moved_link(tmp_path, "netrc", "tools")
    (home / ".netrc").symlink_to(link / "netrc")
    env = {"HOME": str(home)}
    assert home_view(env, ["tools"], tmp_path).stores_in_shown == [first / "netrc"]
    _point(link, second)
    assert home_view(env, ["tools"], tmp_path).stores_in_shown == [second / "netrc"]


def test_the_home_view_sees_a_linked_store_appear(tmp_path: Path) -> None:
    # `.netrc` links into the shown `tools` before its target exists: writing the target
    # changes no folder of the home, yet from then on the store is there to hide.
    home, tools = tmp_path / "home", tmp_path / "tools"
    home.mkdir()
    tools.mkdir()
    (home / "tools").symlink_to(tools)
    (home / ".netrc").symlink_to(tools / "netrc")
    env = {"HOME": str(home)}
    assert home_view(env, ["tools"], tmp_path).stores_in_shown == []
    (tools / "netrc").write_text("machine x password y\n")
    assert home_view(env, ["tools"], tmp_path).stores_in_shown == [tools / "netrc"]
