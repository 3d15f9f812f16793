"""`nanotui acp`: serve an editor (Zed, JetBrains, VS Code, Toad) over the Agent Client
Protocol on stdin and stdout.

The editor names each session's folder; every session is opened as `nanotui run` opens one,
with the flags given here. The ACP SDK is imported only when this command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from nanotui.cli.session_commands import check_max_turns, open_session
from nanotui.cli.workspace import UserError, resolve_workspace

if TYPE_CHECKING:
    from nanotui.engine.facade import EngineSession


def cmd_acp(args: argparse.Namespace) -> int:
    import asyncio
    import importlib.util

    check_max_turns(args)
    if importlib.util.find_spec("acp") is None:
        raise UserError(
            "nanotui acp needs the Agent Client Protocol SDK; install it with "
            "pip install 'nanotui[acp]'."
        )
    from nanotui.acp.stdio import serve_stdio, take_stdout

    def open_in(folder: Path, resume: str | None, said: list[str]) -> EngineSession:
        if not folder.is_dir():
            raise UserError(f"The folder {folder} is not one; open a folder in the editor first.")
        workspace = resolve_workspace(folder)
        return open_session(args, workspace, explicit=True, resume=resume, said=said)

    asyncio.run(serve_stdio(open_in, take_stdout()))
    return 0
