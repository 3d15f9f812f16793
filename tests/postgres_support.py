"""A throwaway PostgreSQL cluster for tests: `initdb` into a temporary folder, `pg_ctl start`
on a free loopback port, stopped at once and removed in a finally. Skips where PostgreSQL's
programs are not installed (CI installs them, see `.ci/run`)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import free_port


def _program(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yields the SQLAlchemy URL of a fresh cluster's `postgres` database."""
    initdb, pg_ctl = _program("initdb"), _program("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed here (initdb, pg_ctl)")
    # PostgreSQL refuses to run as root: as root, the cluster runs as the postgres account,
    # in a folder it can reach (pytest's own are private to root).
    as_postgres = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="nanotui-pg-"))
    prefix: list[str] = []
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    run = lambda *argv: subprocess.run(  # noqa: E731
        [*prefix, *argv], check=True, capture_output=True, text=True, timeout=60
    )
    started = False
    try:
        run(initdb, "-D", str(data), "-U", "nanotui", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start")
        started = True
        yield f"postgresql+psycopg://nanotui@127.0.0.1:{port}/postgres"
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError):
                run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
