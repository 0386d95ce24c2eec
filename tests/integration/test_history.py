"""The file history repository: real files, a real git repository (dulwich), and never a
token in any object of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.objects import Commit
from dulwich.repo import Repo

from tests.integration.history_samples import assert_sound_repository
from tray.core.errors import ConfigError
from tray.services.history import AUTHOR, FileHistory, file_key

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "data" / "history")


def every_object(repo_dir: Path) -> list[bytes]:
    """The raw bytes of every object in the repository, found by dulwich itself."""
    repo = Repo(str(repo_dir))
    return [repo.object_store[sha].as_raw_string() for sha in repo.object_store]


def test_record_versions_read_round_trip(tmp_path: Path, history: FileHistory) -> None:
    f = tmp_path / "mcp.json"
    f.write_bytes(b'{"mcpServers": {}}\n')
    first = history.record(f, "lockdown: before", label="before")
    f.write_bytes(b'{"mcpServers": {"a": {}}}\n')
    second = history.record(f, "added a")
    assert first != second
    versions = history.versions(f)
    assert [v.commit for v in versions] == [second, first]  # newest first
    assert versions[1].message.startswith("before: lockdown: before")
    assert versions[0].timestamp >= versions[1].timestamp
    assert history.read(f, first) == b'{"mcpServers": {}}\n'
    assert history.read(f, second) == b'{"mcpServers": {"a": {}}}\n'


def test_an_unchanged_file_makes_no_new_commit(tmp_path: Path, history: FileHistory) -> None:
    f = tmp_path / ".env"
    f.write_text("A=1\n")
    first = history.record(f, "one")
    assert history.record(f, "two") == first
    assert len(history.versions(f)) == 1
    repo = Repo(str(history.repo_dir))
    assert repo.refs[b"refs/heads/main"].decode() == first


def test_two_files_with_the_same_name_keep_separate_histories(
    tmp_path: Path, history: FileHistory
) -> None:
    a, b = tmp_path / "a" / "mcp.json", tmp_path / "b" / "mcp.json"
    for p, body in ((a, b"A"), (b, b"B")):
        p.parent.mkdir()
        p.write_bytes(body)
        history.record(p, f"{p.parent.name}")
    assert file_key(a) != file_key(b)
    assert [history.read(a, v.commit) for v in history.versions(a)] == [b"A"]
    assert [history.read(b, v.commit) for v in history.versions(b)] == [b"B"]
    # b's commit still holds a: the tree is the whole set of files
    assert history.read(a, history.versions(b)[0].commit) == b"A"


def test_restore_puts_the_old_content_back_and_records_it(
    tmp_path: Path, history: FileHistory
) -> None:
    f = tmp_path / "preset.json"
    f.write_bytes(b"old")
    old = history.record(f, "v1")
    f.write_bytes(b"new")
    history.record(f, "v2")
    restored = history.restore(f, old)
    assert f.read_bytes() == b"old"
    versions = history.versions(f)
    assert versions[0].commit == restored and "Restored" in versions[0].message
    assert len(versions) == 3


def test_unknown_versions_and_missing_files_are_sentences(
    tmp_path: Path, history: FileHistory
) -> None:
    f = tmp_path / "x.json"
    with pytest.raises(ConfigError, match="does not exist"):
        history.record(f, "x")
    assert history.versions(f) == []
    f.write_bytes(b"1")
    history.record(f, "x")
    with pytest.raises(ConfigError, match="no version"):
        history.read(f, "0" * 40)
    other = tmp_path / "other.json"
    with pytest.raises(ConfigError, match="does not contain"):
        history.read(other, history.versions(f)[0].commit)


def test_a_token_never_lands_in_any_object(tmp_path: Path, history: FileHistory) -> None:
    f = tmp_path / f"{TOKEN}.env"  # even in the file name
    f.write_text(f"export LM_API_TOKEN={TOKEN}\nOTHER=1\n")
    commit = history.record(f, f"moving {TOKEN} out")
    assert TOKEN.encode() not in history.read(f, commit)
    assert b"OTHER=1" in history.read(f, commit)
    [version] = history.versions(f)
    assert TOKEN not in version.message and "replaced" in version.message
    objects = every_object(history.repo_dir)
    assert objects and not any(TOKEN.encode() in raw for raw in objects)
    # and not in any other file of the repository either (refs, config, logs)
    for p in history.repo_dir.rglob("*"):
        if p.is_file():
            assert TOKEN.encode() not in p.read_bytes(), p


def test_every_commit_is_readable_by_dulwich_and_git(tmp_path: Path, history: FileHistory) -> None:
    f = tmp_path / "mcp.json"
    for i in range(3):
        f.write_text(f'{{"n": {i}}}\n')
        history.record(f, f"step {i}")
    commits = assert_sound_repository(history.repo_dir)
    assert len(commits) == 3
    for c in commits:
        assert isinstance(c, Commit) and c.author == AUTHOR and c.committer == AUTHOR


def test_a_second_instance_continues_the_same_history(tmp_path: Path, history: FileHistory) -> None:
    f = tmp_path / "a.txt"
    f.write_text("1")
    history.record(f, "one")
    again = FileHistory(history.repo_dir)
    f.write_text("2")
    again.record(f, "two")
    assert [history.read(f, v.commit) for v in history.versions(f)] == [b"2", b"1"]
