"""`nanotui doctor`: checks the set-up and says, for each problem, what to do."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import httpx

from nanotui import __version__, paths
from nanotui.config import default_base_url, resolve_api_key
from nanotui.config_loading import load_settings, setting_value
from nanotui.protocol.basics import ConfigError, plural
from nanotui.security.sandbox import landlock_exec
from nanotui.security.sandbox.cgroup import describe_limit_scopes
from nanotui.security.sandbox.choose import allowlist_warning, make_runner, probe_backends
from nanotui.security.sandbox.compiled_launcher import compiled_launcher
from nanotui.security.trust import is_trusted


def run_doctor(workspace: Path, flags: dict[str, Any]) -> int:
    problems = 0

    def line(ok: bool | None, label: str, detail: str) -> None:
        nonlocal problems
        mark = {True: "ok  ", False: "FAIL", None: "note"}[ok]
        if ok is False:
            problems += 1
        print(f"{mark}  {label:<16} {detail}")

    line(True, "nanotui", f"{__version__} on Python {sys.version.split()[0]}")
    line(True, "config folder", str(paths.config_dir()))
    line(True, "state folder", str(paths.state_dir()))
    try:
        loaded = load_settings(workspace, flags, trusted=is_trusted(workspace))
    except ConfigError as exc:
        line(False, "config", str(exc))
        return 1
    files = ", ".join(str(f) for f in loaded.files_read) or "none (defaults)"
    line(True, "config", f"read {files}")
    managed = paths.managed_config_file()
    line(None, "managed", f"{managed} ({'read' if managed in loaded.files_read else 'none'})")
    for conflict in loaded.conflicts:
        line(None, "managed", conflict)
    for notice in loaded.notices:
        if notice not in loaded.conflicts:
            line(None, "project config", notice)
    for name, source in sorted(loaded.sources.items()):
        line(None, "setting", f"{name} = {setting_value(loaded.settings, name)} (from {source})")
    if not loaded.sources:
        line(None, "setting", "every setting is a default")
    line(
        None, "workspace", f"{workspace} ({'trusted' if is_trusted(workspace) else 'not trusted'})"
    )

    provider = loaded.settings.provider
    if provider.kind == "demo":
        line(True, "model", "offline demo (no model needed)")
    else:
        base_url = provider.base_url or default_base_url(provider.kind)
        key = resolve_api_key(provider.model_copy(update={"base_url": base_url}))
        line(
            bool(provider.model),
            "model",
            provider.model
            or "none set: pass --model or set [provider] model (or run nanotui --demo)",
        )
        line(None, "api key", "found" if key else "none (fine for local servers)")
        ok, detail = _probe(provider.kind, base_url, key)
        line(ok, "endpoint", detail)

    for tool, why in (
        ("git", "checkpoints and git tools"),
        ("rg", "faster search_text"),
        ("bash", "run_command"),
    ):
        found = shutil.which(tool)
        line(
            True if found else (None if tool == "rg" else False),
            tool,
            found or f"not found (needed for {why})",
        )
    for backend, why_not in probe_backends().items():
        line(None, f"sandbox {backend}", why_not or "starts here")
    chosen = make_runner(loaded.settings.sandbox, workspace).backend
    line(None, "limits", describe_limit_scopes())
    if chosen in ("bwrap", "landlock"):
        line(True, "sandbox", f"{chosen} will run commands")
    elif chosen == "plain" and loaded.settings.sandbox.backend == "plain":
        line(None, "sandbox", "plain, as configured: commands run with limits but no isolation")
    else:  # auto found nothing that starts, or a required sandbox is missing
        line(False, "sandbox", f"{chosen}: no sandbox starts here, so commands are not isolated")
    if chosen == "bwrap" and landlock_exec.abi_version() >= 1:
        launcher = compiled_launcher(wait=True)
        line(
            None,
            "bwrap launcher",
            f"compiled, {launcher}"
            if launcher
            else "Python (no C compiler in /usr/bin or /bin, or it could not build one): "
            "each command starts about 15 ms later",
        )
    if warning := allowlist_warning(chosen, loaded.settings.sandbox.network):
        line(False, "network", warning)
    print("All good." if problems == 0 else f"{plural(problems, 'problem')} found.")
    return 0 if problems == 0 else 1


def _probe(kind: str, base_url: str, key: str | None) -> tuple[bool, str]:
    """Ask the endpoint for its model list: proves it is up and the key is accepted."""
    if kind == "anthropic":
        url = base_url.rstrip("/") + "/v1/models"
        headers = {"x-api-key": key or "", "anthropic-version": "2023-06-01"}
    else:
        url = base_url.rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        return False, f"cannot reach {url} ({type(exc).__name__}); is the server running?"
    if response.status_code in (401, 403):
        return False, f"{url} refused the API key (HTTP {response.status_code})"
    if response.status_code >= 400:
        return False, f"{url} answered HTTP {response.status_code}"
    return True, f"{url} answered"
