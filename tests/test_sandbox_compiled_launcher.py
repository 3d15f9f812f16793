"""The C Landlock launcher bwrap runs inside its sandbox: compiled once per machine, the same
rights as the Python launcher, and the Python one where there is no C compiler."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nanotui.security.sandbox import compiled_launcher as compiled
from nanotui.security.sandbox.landlock import probe_landlock


@pytest.fixture
def fresh(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own state folder, and nothing remembered from other tests."""
    monkeypatch.setattr(compiled, "_known", {})
    if compiled.compiled_launcher() is None:
        pytest.skip("no C compiler here")
    monkeypatch.setattr(compiled, "_known", {})
    return home


def test_it_is_compiled_once_and_kept_under_the_sources_hash(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = compiled.compiled_launcher()
    assert first is not None and first.parent == fresh / "bin"
    assert first.name == f"landlock-launcher-{compiled._source_digest()}"
    monkeypatch.setattr(compiled, "_known", {})  # a new nanotui process, same machine
    monkeypatch.setattr(compiled, "_compile", lambda target: pytest.fail("compiled again"))
    assert compiled.compiled_launcher() == first
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary left


def test_without_a_compiler_there_is_none_and_nothing_is_written(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiled, "_known", {})
    monkeypatch.setattr(compiled.shutil, "which", lambda name: None)
    assert compiled.compiled_launcher() is None
    assert not (home / "bin").exists()


def test_a_compiler_that_fails_leaves_no_file_and_is_not_tried_again(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "cc"
    broken.write_text("#!/bin/sh\necho 'half a binary' > \"$3\"; exit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(compiled, "_known", {})
    monkeypatch.setattr(compiled.shutil, "which", lambda name: str(broken))
    assert compiled.compiled_launcher() is None
    assert list((home / "bin").iterdir()) == []
    monkeypatch.setattr(compiled, "_compile", lambda target: pytest.fail("tried again"))
    assert compiled.compiled_launcher() is None


def test_it_allows_writing_only_beneath_the_write_folders(fresh: Path, tmp_path: Path) -> None:
    if probe_landlock():
        pytest.skip(f"Landlock does not work here: {probe_landlock()}")
    launcher = compiled.compiled_launcher()
    assert launcher is not None
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    script = (
        f"echo a > {inside}/a && echo wrote-inside; echo b > {outside}/b || echo refused; "
        f"mkdir {outside}/c || echo refused-mkdir; echo ok > /dev/null && echo devnull"
    )
    done = subprocess.run(
        [str(launcher), "--write", str(inside), "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.split() == ["wrote-inside", "refused", "refused-mkdir", "devnull"]
    assert (inside / "a").read_text() == "a\n"
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--bogus", "--", "true"], 126, "unknown option --bogus"),
        (["--write", "/tmp"], 126, "give the command after --"),
        (["--", "no-such-program-here"], 127, "no-such-program-here"),
    ],
)
def test_bad_use_is_one_sentence_and_an_exit_code(
    fresh: Path, argv: list[str], code: int, said: str
) -> None:
    if probe_landlock() and code == 127:
        pytest.skip("the command is reached only where Landlock works")
    launcher = compiled.compiled_launcher()
    assert launcher is not None
    done = subprocess.run([str(launcher), *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == code and said in done.stderr
