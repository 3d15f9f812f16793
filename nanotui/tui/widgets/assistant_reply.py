"""One reply of the model, streamed into Markdown as its fragments arrive."""

from __future__ import annotations

from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownStream


class AssistantReply(Markdown):
    """The model's text for one step; `append` streams, `finish` settles it."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.text = text
        self._stream: MarkdownStream | None = None

    async def append_fragment(self, fragment: str) -> None:
        """Stream one more fragment; the widget must be mounted."""
        if not fragment:
            return
        self.text += fragment
        if self._stream is None:
            self._stream = Markdown.get_stream(self)
        await self._stream.write(fragment)

    async def finish(self, *, interrupted: bool = False) -> None:
        """Flush what is pending and stop streaming; mark a reply that was cut off."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        if interrupted:
            self.add_class("-interrupted")
            self.border_subtitle = "interrupted"

    async def on_unmount(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
