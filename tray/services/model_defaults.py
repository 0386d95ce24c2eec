"""LM Studio's own per-model default load settings
(`<home>/.internal/user-concrete-model-default-config/`, FORMATS.md §2.5): the only module
that writes them, and only for a profile whose `write_lmstudio_defaults` is on.

Two file naming schemes are seen in the wild and it is not known which LM Studio version
reads which: by model key (`<publisher>/<model>.json`) and by model file path
(`<publisher>/<repo>/<file>.gguf.json`). We update every one of them that exists, and
create both (the path scheme only when the model's path is known) when none does.

Writes keep everything we do not edit (`preset`, `operation`, unknown keys and fields), keep
a UTF-8 BOM when the file had one (and add one on Windows for a new file, as LM Studio's
own files there have), and record the old version in the file history first.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from tray.core.errors import ConfigError, FileParseError
from tray.core.load_profiles import LoadProfile, merge_default_config, profile_from_fields
from tray.core.words import quoted
from tray.services.files import atomic_write, read_bytes
from tray.services.history import FileHistory

__all__ = ["DEFAULTS_DIR", "LmStudioDefaults"]

log = logging.getLogger(__name__)

DEFAULTS_DIR = Path(".internal") / "user-concrete-model-default-config"
_BOM = b"\xef\xbb\xbf"


class LmStudioDefaults:
    """Read and write the per-model default files under LM Studio's `home`."""

    def __init__(
        self, home: Path, history: FileHistory | None, *, windows: bool | None = None
    ) -> None:
        self.root = home / DEFAULTS_DIR
        self._history = history
        self._windows = sys.platform == "win32" if windows is None else windows

    def candidates(self, model_key: str, model_path: str | None = None) -> list[Path]:
        """The file of each naming scheme (key first), inside the folder only."""
        names = [f"{model_key}.json"]
        if model_path:
            names.append(f"{model_path}.json")
        out: list[Path] = []
        for name in names:
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if not parts or any(p in ("..", "") or p.startswith("/") for p in parts):
                raise ConfigError(f"{quoted(name)} is not a model key or path LM Studio would use.")
            path = self.root.joinpath(*parts)
            if path not in out:
                out.append(path)
        return out

    def existing(self, model_key: str, model_path: str | None = None) -> list[Path]:
        return [p for p in self.candidates(model_key, model_path) if p.is_file()]

    def read(self, model_key: str, model_path: str | None = None) -> LoadProfile | None:
        """The load settings LM Studio keeps for the model (the first existing file)."""
        for path in self.existing(model_key, model_path):
            document = _parse(path, read_bytes(path))[0]
            load = document.get("load")
            fields = load.get("fields") if isinstance(load, dict) else None
            return profile_from_fields(fields if isinstance(fields, list) else [])
        return None

    def write(
        self, model_key: str, profile: LoadProfile, *, model_path: str | None = None
    ) -> list[Path]:
        """Write the profile's fields into the model's default file(s); returns them."""
        targets = self.existing(model_key, model_path) or self.candidates(model_key, model_path)
        for path in targets:
            self._write_one(path, model_key, profile)
        return targets

    def _write_one(self, path: Path, model_key: str, profile: LoadProfile) -> None:
        try:
            raw: bytes | None = read_bytes(path)
        except FileNotFoundError:
            raw = None
        if raw is not None:
            document, bom = _parse(path, raw)
            if self._history is not None:
                self._history.record(
                    path, f"LM Studio's default for {model_key}, before this app changed it"
                )
        else:
            document, bom = None, self._windows
        merged = merge_default_config(document, profile)
        text = json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
        data = (_BOM if bom else b"") + text.encode("utf-8")
        if raw == data:
            return
        atomic_write(path, data)
        if self._history is not None:
            fields = ", ".join(profile.set_fields()) or "nothing"
            self._history.record(
                path, f"LM Studio's default for {model_key}: written by this app ({fields})"
            )
        log.info("wrote LM Studio's default load settings for %s to %s", model_key, path)


def _parse(path: Path, raw: bytes) -> tuple[dict[str, Any], bool]:
    bom = raw.startswith(_BOM)
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileParseError(
            f"{path} is not valid JSON ({exc}); LM Studio's default for this model was left alone.",
            path=path,
        ) from None
    if not isinstance(document, dict):
        raise FileParseError(f"{path} does not hold a JSON object; it was left alone.", path=path)
    return document, bom
