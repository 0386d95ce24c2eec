"""LM Studio's own per-model default load settings
(`<home>/.internal/user-concrete-model-default-config/`, FORMATS.md §2.5): the only module
that writes them, and only for a profile whose `write_lmstudio_defaults` is on.

LM Studio names these files after the model *file* (`<publisher>/<repo>/<file>.gguf.json`,
the `path` `lms ls --json` gives); a file named after the model key
(`<publisher>/<model>.json`) has also been seen (FORMATS §2.5). So: the model's file is
found by its path when `lms` told it, else by searching the folder for a file named after
one of the model's files; a key-named file that exists is updated too. A new file is
created only when none exists — under the path when it is known, else under the key —
never a second one next to the real one.

Writes keep everything we do not edit (`preset`, `operation`, unknown keys and fields), keep
a UTF-8 BOM when the file had one (and add one on Windows for a new file, as LM Studio's
own files there have), and record the old version in the file history first.
"""

from __future__ import annotations

import json
import logging
import re
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
_FORMAT_SUFFIX = re.compile(r"-(?:gguf|mlx(?:-[0-9]+bit)?)$")


class LmStudioDefaults:
    """Read and write the per-model default files under LM Studio's `home`."""

    def __init__(
        self, home: Path, history: FileHistory | None, *, windows: bool | None = None
    ) -> None:
        self.root = home / DEFAULTS_DIR
        self._history = history
        self._windows = sys.platform == "win32" if windows is None else windows

    def _inside(self, name: str) -> Path:
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if not parts or any(p in ("..", "") or p.startswith("/") for p in parts):
            raise ConfigError(f"{quoted(name)} is not a model key or path LM Studio would use.")
        return self.root.joinpath(*parts)

    def key_file(self, model_key: str) -> Path:
        return self._inside(f"{model_key}.json")

    def path_file(self, model_path: str) -> Path:
        return self._inside(f"{model_path}.json")

    def search(self, model_key: str) -> list[Path]:
        """Files named after a model file of `model_key`, for when `lms` cannot tell the
        model's path: `<publisher>/<repo>/<file>.json` whose repo, without its format
        suffix (`-GGUF`, `-MLX-4bit`), is the key's model name, or that name with `-it` or
        `-instruct` (`gemma-3-12b` → `gemma-3-12b-it-GGUF`). A longer name is another
        model (`qwen3-4b` is not `Qwen3-4B-Instruct-2507-GGUF`)."""
        name = model_key.split("@", 1)[0].rsplit("/", 1)[-1].casefold()
        if not name or not self.root.is_dir():
            return []
        wanted = {name, f"{name}-it", f"{name}-instruct"}
        found: list[Path] = []
        for path in sorted(self.root.rglob("*.json")):
            relative = path.relative_to(self.root).parts
            if len(relative) < 3:  # `<publisher>/<model>.json`: the key scheme
                continue
            if _FORMAT_SUFFIX.sub("", relative[-2].casefold()) in wanted:
                found.append(path)
        return found

    def find(self, model_key: str, model_path: str | None = None) -> list[Path]:
        """The model's default files that exist: the one named after its file (by its
        path, or found by searching), then one named after its key."""
        found: list[Path] = []
        if model_path:
            by_path = self.path_file(model_path)
            if by_path.is_file():
                found.append(by_path)
        else:
            matches = self.search(model_key)
            if len(matches) > 1:
                listed = ", ".join(str(p.relative_to(self.root)) for p in matches)
                raise ConfigError(
                    f"Several of LM Studio's per-model default files could be those of "
                    f"{quoted(model_key)} ({listed}), and without `lms` the model's file is "
                    "not known. Install lms (it ships with LM Studio) or set the defaults in "
                    "LM Studio (My Models → ⚙).",
                    title="LM Studio defaults not written",
                )
            found += matches
        by_key = self.key_file(model_key)
        if by_key.is_file():
            found.append(by_key)
        return found

    def read(self, model_key: str, model_path: str | None = None) -> LoadProfile | None:
        """The load settings LM Studio keeps for the model (the first existing file)."""
        for path in self.find(model_key, model_path):
            document = _parse(path, read_bytes(path))[0]
            load = document.get("load")
            fields = load.get("fields") if isinstance(load, dict) else None
            return profile_from_fields(fields if isinstance(fields, list) else [])
        return None

    def write(
        self, model_key: str, profile: LoadProfile, *, model_path: str | None = None
    ) -> list[Path]:
        """Write the profile's fields into the model's default file(s); returns them."""
        targets = self.find(model_key, model_path) or [
            self.path_file(model_path) if model_path else self.key_file(model_key)
        ]
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
