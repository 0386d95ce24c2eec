"""PresetStore on real files and a real history repository: saves are atomic, recorded with
a message saying what changed, refused when the file changed outside; a read-only folder
leaves the old file intact; delete is restorable; unparsable files are listed, never
rewritten."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tray.core.errors import FileWriteError, InvalidPreset, PresetChanged
from tray.core.presets import Checkbox
from tray.services.history import FileHistory
from tray.services.preset_store import PresetStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "presets"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / ".lmstudio" / "config-presets"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("*.md"))
    return target


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "history")


@pytest.fixture
def store(folder: Path, history: FileHistory) -> PresetStore:
    return PresetStore(folder, history)


def test_list_shows_every_file_and_the_unparsable_one_with_its_error(
    store: PresetStore, folder: Path
) -> None:
    rows = {r.file_name: r for r in store.list()}
    assert len(rows) == 9
    assert rows["coding-assistant.preset.json"].name == "Coding assistant"
    assert rows["coding-assistant.preset.json"].identifier == "@local:coding-assistant"
    broken = rows["broken.preset.json"]
    assert broken.name == "broken" and broken.error and "line 5" in broken.error
    assert PresetStore(folder / "nowhere", store.history).list() == []


def test_save_writes_only_the_field_and_records_what_changed(
    store: PresetStore, folder: Path, history: FileHistory
) -> None:
    path = folder / "coding-assistant.preset.json"
    original = path.read_bytes()
    preset = store.load("Coding assistant")
    preset.set("temperature", 0.7)
    saved = store.save(preset, expected_sha256=preset.sha256)
    assert path.read_bytes() == original.replace(b'"value": 0.2', b'"value": 0.7')
    assert saved.get("temperature") == 0.7 and saved.sha256 != preset.sha256
    versions = history.versions(path)
    assert versions[0].message.startswith("Preset “Coding assistant”: temperature 0.2 → 0.7")
    assert versions[1].message.startswith("before: ")
    assert history.read(path, versions[1].commit) == original

    # Saving the unchanged result is a no-op: no new version.
    again = store.save(saved, expected_sha256=saved.sha256)
    assert again.to_bytes() == path.read_bytes()
    assert len(history.versions(path)) == 2


def test_an_outside_change_between_load_and_save_is_refused(
    store: PresetStore, folder: Path
) -> None:
    path = folder / "coding-assistant.preset.json"
    mine = store.load("Coding assistant")
    outside = path.read_bytes().replace(b'"value": 0.2', b'"value": 0.9')
    path.write_bytes(outside)  # LM Studio saves the preset meanwhile
    mine.set("top_k", 10)
    with pytest.raises(PresetChanged, match="changed outside LM Studio Tray"):
        store.save(mine, expected_sha256=mine.sha256)
    assert path.read_bytes() == outside


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """A folder nobody may write into: chmod for a user; root ignores modes, so for root
    the immutable attribute (what `chattr +i` sets) does it."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], check=False).returncode:
        pytest.skip("running as root without chattr +i: cannot make a folder read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_read_only_folder_gives_a_clear_error_and_keeps_the_old_file(
    store: PresetStore, folder: Path
) -> None:
    path = folder / "coding-assistant.preset.json"
    original = path.read_bytes()
    preset = store.load("Coding assistant")
    preset.set("temperature", 1.5)
    with read_only(folder), pytest.raises(FileWriteError) as caught:
        store.save(preset, expected_sha256=preset.sha256)
    assert "permission denied" in caught.value.message
    assert "previous version is unchanged" in caught.value.message
    assert path.read_bytes() == original
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
    with read_only(folder), pytest.raises(FileWriteError):
        store.delete("Coding assistant")
    assert path.read_bytes() == original


def test_invalid_edits_are_refused_per_field(store: PresetStore, folder: Path) -> None:
    path = folder / "coding-assistant.preset.json"
    original = path.read_bytes()
    preset = store.load("Coding assistant")
    preset.set("top_p", Checkbox(checked=True, value=1.2))
    with pytest.raises(InvalidPreset) as caught:
        store.save(preset, expected_sha256=preset.sha256)
    assert caught.value.problems == [("top_p", "Top-p must be between 0 and 1 (it is 1.2).")]
    assert path.read_bytes() == original
    # The SDK example holds out-of-range values; an unrelated edit still saves.
    sdk = store.load("SDK prediction")
    sdk.set("temperature", 1.0)
    store.save(sdk, expected_sha256=sdk.sha256)


def test_create_duplicate_rename_delete_restore(
    store: PresetStore, folder: Path, history: FileHistory
) -> None:
    created = store.create("Story teller")
    assert (folder / "Story teller.preset.json").exists()
    assert created.identifier == "@local:story-teller"
    with pytest.raises(InvalidPreset, match="already a preset named"):
        store.create("story TELLER")

    copy = store.duplicate("Coding assistant", "Coding (strict)")
    assert copy.get("temperature") == 0.2 and copy.identifier == "@local:coding-strict"
    assert (folder / "Coding (strict).preset.json").exists()

    renamed = store.rename("Coding (strict)", "Strict coding")
    assert not (folder / "Coding (strict).preset.json").exists()
    assert renamed.name == "Strict coding" and renamed.identifier == "@local:strict-coding"
    assert renamed.origin == "Strict coding.preset.json"
    with pytest.raises(InvalidPreset):
        store.rename("Strict coding", "Coding assistant")

    case_only = store.rename("Strict coding", "strict coding")
    assert case_only.name == "strict coding"
    assert sorted(p.name for p in folder.glob("*trict*")) == ["strict coding.preset.json"]

    path = folder / "coding-assistant.preset.json"
    original = path.read_bytes()
    deleted = store.delete("Coding assistant")
    assert not path.exists()
    assert "history restore" in deleted.restore_hint and deleted.commit[:12] in deleted.restore_hint
    history.restore(path, deleted.commit)
    assert path.read_bytes() == original


def test_delete_and_list_never_rewrite_an_unparsable_file(
    store: PresetStore, folder: Path, history: FileHistory
) -> None:
    path = folder / "broken.preset.json"
    raw = path.read_bytes()
    store.list()
    assert path.read_bytes() == raw
    deleted = store.delete("broken")
    assert history.read(path, deleted.commit) == raw


def test_import_and_export(store: PresetStore, folder: Path, tmp_path: Path) -> None:
    exported = store.export("Windows notes", tmp_path / "out" / "notes.json")
    assert exported.read_bytes() == (folder / "bom-crlf.preset.json").read_bytes()
    imported = store.import_file(exported)  # the name is taken: a new one
    assert imported.name == "Windows notes 2"
    assert imported.identifier == "@local:windows-notes-2"
    assert (folder / "Windows notes 2.preset.json").read_bytes().startswith(b"\xef\xbb\xbf")
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(Exception, match="not a preset"):
        store.import_file(bad)
