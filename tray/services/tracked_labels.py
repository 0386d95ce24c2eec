"""The readable label of each file the history keeps (`tray.core.history_labels`), with the
names that live inside the files — a preset's name, a load profile's model key — read from
the file's last recorded content, so a deleted file keeps its name too.

Blocking (it reads the history repository); callers on the event loop use
`asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from tray.core.errors import ConfigError
from tray.core.history_labels import FileLabel, label_for, needs_content
from tray.services.history import FileHistory, TrackedFile

__all__ = ["last_content", "tracked_labels"]

log = logging.getLogger(__name__)


def last_content(history: FileHistory, tracked: TrackedFile) -> bytes | None:
    """The file's last recorded content (before its deletion, for a deleted file)."""
    try:
        last = tracked.last_version
        if last is not None and not last.deleted:
            return history.read(tracked.path, last.commit)
        for version in history.versions(tracked.path):
            if not version.deleted:
                return history.read(tracked.path, version.commit)
    except ConfigError as exc:
        log.info("no content to name %s by: %s", tracked.path.name, exc.message)
    return None


def tracked_labels(history: FileHistory, files: Iterable[TrackedFile]) -> dict[Path, FileLabel]:
    """Each file's label, by path."""
    labels: dict[Path, FileLabel] = {}
    for tracked in files:
        content = last_content(history, tracked) if needs_content(tracked.path) else None
        labels[tracked.path] = label_for(tracked.path, content)
    return labels
