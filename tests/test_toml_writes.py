"""The TOML nanotui writes: awkward values survive the round trip, the user's comments stay."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from nanotui import paths
from nanotui.security.trust import decline, is_trusted, trust, trusted_folders, was_asked
from nanotui.tui.first_run_detect import ProviderChoice, write_user_provider_config

AWKWARD = 'we"ird\\name\nwith a newline'


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_trusted_folder_with_quotes_backslashes_and_a_newline_reads_back(
    tmp_path: Path,
) -> None:
    folder = tmp_path / AWKWARD
    folder.mkdir()
    other = tmp_path / "plain"
    other.mkdir()
    decline(folder)
    trust(other)
    trust(folder)
    assert is_trusted(folder) and is_trusted(other) and was_asked(folder)
    assert trusted_folders() == [other.resolve(), folder.resolve()]
    data = tomllib.loads(paths.trusted_file().read_text(encoding="utf-8"))
    assert data == {"folders": [str(other.resolve()), str(folder.resolve())], "declined": []}


def test_a_model_name_with_quotes_backslashes_and_a_newline_reads_back() -> None:
    choice = ProviderChoice("openai-compatible", 'http://x:1/v1?a="b"', AWKWARD)
    written = write_user_provider_config(choice)
    provider = tomllib.loads(written.read_text(encoding="utf-8"))["provider"]
    assert provider == {"kind": "openai-compatible", "base_url": 'http://x:1/v1?a="b"'} | {
        "model": AWKWARD
    }
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_the_users_comments_survive_a_new_provider_choice() -> None:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True)
    path.write_text(
        "# my settings, top of file\n"
        "[provider]  # the model I use\n"
        'kind = "anthropic"  # was the default\n'
        "# slow machine, be patient\n"
        "read_timeout_s = 600.0  # ten minutes\n"
        "\n"
        "[approval]\n"
        'mode = "plan"  # always plan first\n'
    )
    write_user_provider_config(ProviderChoice("openai-compatible", "http://x:1/v1", "m"))
    text = path.read_text()
    for comment in (
        "# my settings, top of file",
        "# the model I use",
        "# slow machine, be patient",
        "read_timeout_s = 600.0  # ten minutes",
        'mode = "plan"  # always plan first',
    ):
        assert comment in text
    assert tomllib.loads(text) == {
        "provider": {
            "kind": "openai-compatible",
            "base_url": "http://x:1/v1",
            "model": "m",
            "read_timeout_s": 600.0,
        },
        "approval": {"mode": "plan"},
    }
