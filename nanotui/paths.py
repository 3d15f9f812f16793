"""Where nanotui keeps its config and state.

`NANOTUI_HOME` moves everything under one folder (tests rely on it); otherwise the
platform's user config and state folders are used.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from platformdirs import user_config_path, user_state_path

APP_NAME = "nanotui"
PROJECT_DIR_NAME = ".nanotui"


def home_override() -> Path | None:
    """The folder named by NANOTUI_HOME, if set."""
    value = os.environ.get("NANOTUI_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Folder of the user's `config.toml` and `trusted.toml`."""
    return home_override() or _platform_dirs(*_platform_variables())[0]


def state_dir() -> Path:
    """Folder of sessions, the cost ledger and shadow checkpoints."""
    return home_override() or _platform_dirs(*_platform_variables())[1]


PLATFORM_VARIABLES = ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "APPDATA", "LOCALAPPDATA")
"""What the platform's folders are made of: the home and the variables that move them."""


def _platform_variables() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in PLATFORM_VARIABLES)


@functools.lru_cache(maxsize=8)
def _platform_dirs(*variables: str | None) -> tuple[Path, Path]:
    """The platform's config and state folders for these variables' values: asked once for
    each, not at every look (every sandboxed command looks, and asking costs 0.04 ms)."""
    return user_config_path(APP_NAME), user_state_path(APP_NAME)


def user_config_file() -> Path:
    return config_dir() / "config.toml"


def trusted_file() -> Path:
    return config_dir() / "trusted.toml"


def remembered_hosts_file() -> Path:
    """Network names allowed for good in one project (the "always for this project" answer)."""
    return config_dir() / "remembered_hosts.toml"


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def ledger_file() -> Path:
    return state_dir() / "ledger.sqlite3"


def demo_projects_dir() -> Path:
    """Where the offline demo's fresh copies of the sample project are made."""
    return state_dir() / "demo-projects"


MANAGED_CONFIG_FILE = Path("/etc/nanotui/managed.toml")
"""An organisation's managed settings, which no other layer can loosen. Fixed on purpose: no
variable, flag or user file moves it. Tests point it elsewhere by patching this constant in
their own process, which a user running nanotui cannot do."""


def managed_config_file() -> Path:
    return MANAGED_CONFIG_FILE


def project_config_file(workspace: Path) -> Path:
    return workspace / PROJECT_DIR_NAME / "config.toml"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by the owner only; session logs hold code."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
