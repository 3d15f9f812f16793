"""An ACP prompt (text and links to files) as the one text a turn takes.

nanotui does not advertise embedded context: a file the user mentions reaches the prompt as
its path, and the model reads it with `read_file`, through the workspace jail, redaction and
the injection checks, like any file. Contents a client embeds anyway are left out the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from acp.schema import EmbeddedResourceContentBlock, ResourceContentBlock, TextContentBlock

from nanotui.protocol.basics import UserFacingError


def prompt_text(blocks: Sequence[Any], workspace: Path) -> str:
    """The prompt's text, with each mentioned file named by its path in the workspace."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, TextContentBlock):
            parts.append(block.text)
        elif isinstance(block, ResourceContentBlock):
            parts.append(_mention(block.uri, workspace))
        elif isinstance(block, EmbeddedResourceContentBlock):
            parts.append(_mention(block.resource.uri, workspace))
        else:
            raise UserFacingError(
                "nanotui takes text prompts and file mentions only; leave out images and audio."
            )
    text = "".join(parts).strip()
    if not text:
        raise UserFacingError("The prompt is empty; say what nanotui should do.")
    return text


def _mention(uri: str, workspace: Path) -> str:
    """A file link as the model can use it: its path relative to the workspace, if inside."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return f" {uri} "
    path = Path(unquote(parsed.path))
    try:
        return f" {path.relative_to(workspace).as_posix()} "
    except ValueError:
        return f" {path} "
