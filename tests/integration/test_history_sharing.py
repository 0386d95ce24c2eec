"""File history beyond record/restore: deletions, the path index, diffs, and sharing
between two machines' histories through a real bare repository (dulwich, no mocks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dulwich.objects import Commit, Tree
from dulwich.repo import Repo

from tests.integration.history_samples import assert_sound_repository, preset_bytes
from tray.core.errors import ConfigError
from tray.services.history import FileHistory, display_url

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "data" / "history")


def test_who_changed_it_is_in_every_version(tmp_path: Path, history: FileHistory) -> None:
    f = tmp_path / "coder.preset.json"
    f.write_bytes(preset_bytes(0.7))
    history.record(f, "Saved preset Coder")
    f.write_bytes(preset_bytes(0.2))
    history.record(f, "coder.preset.json changed outside the app", outside=True)
    new, old = history.versions(f)
    assert (new.by, old.by) == ("outside", "tray")
    assert "changed outside the app" in new.message and "by LM Studio Tray" in old.message
    assert old.summary == "Saved preset Coder"


def test_deletion_keeps_versions_and_restore_recreates(
    tmp_path: Path, history: FileHistory
) -> None:
    f = tmp_path / "presets" / "coder.preset.json"
    f.parent.mkdir()
    f.write_bytes(preset_bytes(0.7))
    first = history.record(f, "created")
    f.unlink()
    gone = history.record_deletion(f, "coder.preset.json deleted outside the app", outside=True)
    assert history.record_deletion(f, "again") == gone  # already recorded: no new commit
    versions = history.versions(f)
    assert [v.deleted for v in versions] == [True, False]
    [tracked] = history.tracked()
    assert tracked.path == f and tracked.deleted and tracked.last_version is not None
    assert tracked.last_version.commit == gone
    with pytest.raises(ConfigError, match="deleted"):
        history.restore(f, gone)
    history.restore(f, first)
    assert f.read_bytes() == preset_bytes(0.7)
    [tracked] = history.tracked()
    assert not tracked.deleted
    with pytest.raises(ConfigError, match="never been recorded"):
        history.record_deletion(tmp_path / "other.json", "x")


def test_tracked_knows_real_paths_from_the_repository_alone(
    tmp_path: Path, history: FileHistory
) -> None:
    a, b = tmp_path / "a" / "mcp.json", tmp_path / "b" / "mcp.json"
    for p in (a, b):
        p.parent.mkdir()
        p.write_text("{}")
        history.record(p, "x")
    fresh = FileHistory(history.repo_dir)  # another process: nothing in memory
    assert {t.path for t in fresh.tracked()} == {a, b}
    # the index is a file of the tree, readable by any git tool
    repo = Repo(str(history.repo_dir))
    commit = repo[repo.refs[b"refs/heads/main"]]
    assert isinstance(commit, Commit)
    tree = repo[commit.tree]
    assert isinstance(tree, Tree)
    index = json.loads(repo[tree[b".paths.json"][1]].as_raw_string())
    assert sorted(index.values()) == sorted(str(p) for p in (a, b))


def test_a_token_in_a_file_name_never_reaches_the_index(
    tmp_path: Path, history: FileHistory
) -> None:
    f = tmp_path / f"{TOKEN}.json"
    f.write_text("{}")
    history.record(f, "x")
    for p in history.repo_dir.rglob("*"):
        if p.is_file():
            assert TOKEN.encode() not in p.read_bytes(), p
    repo = Repo(str(history.repo_dir))
    assert not any(
        TOKEN.encode() in repo.object_store[s].as_raw_string() for s in repo.object_store
    )


def test_diff_between_versions_and_with_the_current_file(
    tmp_path: Path, history: FileHistory
) -> None:
    f = tmp_path / "coder.preset.json"
    f.write_bytes(preset_bytes(0.7))
    v1 = history.record(f, "one")
    f.write_bytes(preset_bytes(0.2))
    v2 = history.record(f, "two")
    d = history.diff(f, v1, v2)
    assert [c.text for c in d.changes] == ["temperature 0.7 → 0.2"]
    f.write_bytes(preset_bytes(1.0))  # not recorded yet: compare with the disk
    assert [c.text for c in history.diff(f, v2).changes] == ["temperature 0.2 → 1.0"]
    assert history.previous(f, v2) == v1 and history.previous(f, v1) is None
    assert history.resolve(f, v1[:7]) == v1 and history.resolve(f, "latest") == v2
    with pytest.raises(ConfigError, match="no version"):
        history.resolve(f, "deadbeef")
    f.unlink()
    assert not history.diff(f, v2).new_exists


# --- sharing -------------------------------------------------------------------------


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "shared.git"
    Repo.init_bare(str(bare), mkdir=True)
    return bare


def machine(tmp_path: Path, name: str, remote: Path) -> FileHistory:
    h = FileHistory(tmp_path / name / "history")
    h.set_remote(str(remote))
    return h


def test_push_then_pull_fast_forwards_and_writes_unchanged_files(
    tmp_path: Path, remote: Path
) -> None:
    f = tmp_path / "coder.preset.json"  # the same path on both "machines"
    f.write_bytes(preset_bytes(0.7))
    a, b = machine(tmp_path, "a", remote), machine(tmp_path, "b", remote)
    assert b.pull().outcome == "empty_remote"
    a.record(f, "one")
    assert a.push().outcome == "pushed"
    assert a.push().outcome == "up_to_date"
    assert b.pull().outcome == "fast_forward"
    assert [v.summary for v in b.versions(f)] == ["one"]
    # a changes the preset; b's copy on disk is what b last knew: the pull updates it
    f.write_bytes(preset_bytes(0.2))
    a.record(f, "two")
    a.push()
    f.write_bytes(preset_bytes(0.7))  # "b's disk" (same path here) still at version one
    result = b.pull()
    assert result.outcome == "fast_forward" and result.written == [f]
    assert f.read_bytes() == preset_bytes(0.2)
    assert b.pull().outcome == "up_to_date"


def test_both_sides_changed_loses_nothing(tmp_path: Path, remote: Path) -> None:
    shared = tmp_path / "coder.preset.json"
    only_b = tmp_path / "mcp.json"
    shared.write_bytes(preset_bytes(0.5))
    only_b.write_text('{"mcpServers": {}}')
    a, b = machine(tmp_path, "a", remote), machine(tmp_path, "b", remote)
    a.record(shared, "base")
    a.push()
    b.pull()
    # both change the preset, differently; b also records another file
    shared.write_bytes(preset_bytes(0.1))
    a_commit = a.record(shared, "a: 0.1")
    a.push()
    shared.write_bytes(preset_bytes(0.9))
    b_commit = b.record(shared, "b: 0.9")
    b.record(only_b, "b: mcp")
    assert b.push().outcome == "rejected"  # never forced
    result = b.pull()
    assert result.outcome == "merged" and result.conflict is not None
    [c] = result.conflict.files
    assert c.path == shared and c.ours == b_commit and c.theirs == a_commit
    assert shared.read_bytes() == preset_bytes(0.9)  # ours kept on disk
    # both versions are in b's history and readable; the user picks one
    assert b.read(shared, a_commit) == preset_bytes(0.1)
    assert b.read(shared, b_commit) == preset_bytes(0.9)
    assert {a_commit, b_commit} <= {v.commit for v in b.versions(shared)}
    b.restore(shared, a_commit)
    assert shared.read_bytes() == preset_bytes(0.1)
    assert b.push().outcome == "pushed"
    # a gets everything back, fast-forward, including b's other file
    result = a.pull()
    assert result.outcome == "fast_forward"
    assert {t.path for t in a.tracked()} == {shared, only_b}
    assert a.read(only_b, a.versions(only_b)[0].commit) == b'{"mcpServers": {}}'
    for h in (a, b):
        assert_sound_repository(h.repo_dir)


def test_remote_errors_are_sentences_without_credentials(
    tmp_path: Path, history: FileHistory
) -> None:
    with pytest.raises(ConfigError, match="No remote"):
        history.push()
    # a URL with a password would be stored in plain text: refused, nothing stored
    with pytest.raises(ConfigError, match="plain text") as err:
        history.set_remote("https://alice:s3cretpass@127.0.0.1:9/history.git")
    assert "s3cretpass" not in err.value.message
    assert history.remote() is None
    history.set_remote("https://127.0.0.1:9/history.git")
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:9"):
        history.pull()
    assert display_url("https://tok3n@example.com/x.git") == "https://***@example.com/x.git"
    history.set_remote(str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match="Could not fetch from the remote"):
        history.pull()
    history.set_remote(None)
    assert history.remote() is None
