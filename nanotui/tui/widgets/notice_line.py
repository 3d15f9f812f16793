"""A one-line (or short) notice in the conversation: info, warning or error."""

from __future__ import annotations

from typing import Literal

from textual.content import Content
from textual.widgets import Static

from nanotui.protocol.basics import visible_controls

NoticeLevel = Literal["info", "warning", "error"]


class NoticeLine(Static):
    """A readable sentence from nanotui itself, coloured by its level."""

    def __init__(self, text: str, level: NoticeLevel = "info") -> None:
        super().__init__(notice_content(text), classes=f"-{level}")
        self.text = text
        self.level = level


def notice_content(text: str) -> Content:
    """The notice as shown: plain text (never markup), its control characters as symbols; a
    sentence may quote what an MCP server or a command said."""
    return Content(visible_controls(text))
