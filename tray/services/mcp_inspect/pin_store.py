"""The pins of inspected MCP servers on disk: `mcp-pins.json` in the app's data folder,
written atomically, read back, and recorded in the file history, so every pin (and every
`--accept`) is a version that can be looked at and restored.

All calls block (disk I/O, the history's fsyncs); callers on the event loop use
`asyncio.to_thread`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import ValidationError

from tray.core.errors import FileParseError, FileWriteError
from tray.core.mcp_inspect.pins import PinFile
from tray.services.files import atomic_write, read_json
from tray.services.history import FileHistory

__all__ = ["PIN_FILE_NAME", "PinStore"]

log = logging.getLogger(__name__)

PIN_FILE_NAME = "mcp-pins.json"


class PinStore:
    def __init__(self, path: Path, history: FileHistory | None = None) -> None:
        self.path = path
        self._history = history

    def load(self) -> PinFile:
        """The pins (none when the file does not exist yet)."""
        try:
            raw = read_json(self.path)
        except FileNotFoundError:
            return PinFile()
        try:
            return PinFile.model_validate(raw)
        except ValidationError:
            raise FileParseError(
                f"{self.path} does not hold MCP tool pins. Put back an earlier version from "
                "the history, or delete it to pin again.",
                path=self.path,
            ) from None

    def save(self, pins: PinFile, message: str) -> str | None:
        """Write `pins` and record the version; returns the history commit (None without
        history)."""
        data = json.dumps(pins.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        atomic_write(self.path, data.encode("utf-8"), mode=0o600)
        if self.load() != pins:
            raise FileWriteError(f"{self.path} did not read back as written.", path=self.path)
        log.info("%s", message)
        if self._history is None:
            return None
        return self._history.record(self.path, message)
