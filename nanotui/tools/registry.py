"""The built-in tools, by name."""

from __future__ import annotations

from nanotui.tools.base import Tool, ToolKind
from nanotui.tools.edit_file import EditFileTool
from nanotui.tools.find_files import FindFilesTool
from nanotui.tools.git_tools import GitDiffTool, GitStatusTool
from nanotui.tools.list_dir import ListDirTool
from nanotui.tools.read_file import ReadFileTool
from nanotui.tools.run_command import RunCommandTool
from nanotui.tools.search_text import SearchTextTool
from nanotui.tools.write_file import WriteFileTool

_TOOL_CLASSES: tuple[type[Tool], ...] = (
    ReadFileTool,
    ListDirTool,
    FindFilesTool,
    SearchTextTool,
    GitStatusTool,
    GitDiffTool,
    WriteFileTool,
    EditFileTool,
    RunCommandTool,
)

READ_ONLY_TOOL_NAMES: frozenset[str] = frozenset(
    cls.name for cls in _TOOL_CLASSES if cls.kind is ToolKind.READ
)
"""Tools that only look: allowed in plan mode and safe to run in parallel."""


def default_tools() -> dict[str, Tool]:
    """A fresh instance of every built-in tool, keyed by the name the model calls it by."""
    return {cls.name: cls() for cls in _TOOL_CLASSES}
