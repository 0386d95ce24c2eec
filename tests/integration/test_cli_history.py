"""`lmstudio-tray history …` as a user runs it: the real executable in a throw-away home,
over a history recorded by the same service the tray uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dulwich.repo import Repo

from tests.integration.cli_runner import Cli
from tests.integration.history_samples import preset_bytes
from tray.services.history import FileHistory


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)  # the history lives in the fake home
    return Cli(tmp_path / "home")


@pytest.fixture
def history(user: Cli) -> FileHistory:
    return FileHistory(user.user_home / ".local" / "share" / "lmstudio-tray" / "history")


@pytest.fixture
def preset(tmp_path: Path, history: FileHistory) -> tuple[Path, list[str]]:
    # outside the fake home, so this process and the CLI name it the same way
    f = tmp_path / "presets" / "coder.preset.json"
    f.parent.mkdir()
    commits = []
    for temp in (0.7, 0.2):
        f.write_bytes(preset_bytes(temp))
        commits.append(history.record(f, f"Saved preset Coder ({temp})"))
    return f, commits


def test_files_log_diff_restore(user: Cli, preset: tuple[Path, list[str]]) -> None:
    f, (v1, v2) = preset
    files = user.json("history", "files")["files"]
    assert [(x["path"], x["deleted"]) for x in files] == [(str(f), False)]
    assert files[0]["label"] == "Preset: Coder"
    text = user("history", "files").stdout.splitlines()
    assert text[0].endswith("  Preset: Coder") and text[1].strip() == str(f)
    log = user.json("history", "log", str(f))
    assert [v["commit"] for v in log["versions"]] == [v2, v1]
    assert log["versions"][0]["by"] == "tray"
    text = user("history", "log", str(f))
    assert (
        text.returncode == 0
        and v2[:10] in text.stdout
        and "Saved preset Coder (0.2)" in text.stdout
    )
    diff = user.json("history", "diff", str(f), v1[:8], v2[:8])
    assert diff["kind"] == "preset"
    assert [c["text"] for c in diff["changes"]] == ["temperature 0.7 → 0.2"]
    text = user("history", "diff", str(f), v1[:8])  # against the current file
    assert text.returncode == 0 and "~ temperature 0.7 → 0.2" in text.stdout
    restored = user.json("history", "restore", str(f), v1[:8])
    assert f.read_bytes() == preset_bytes(0.7) and restored["restored_from"] == v1
    assert len(user.json("history", "log", str(f))["versions"]) == 3


def test_unknown_paths_and_versions_are_not_found(
    user: Cli, tmp_path: Path, preset: tuple[Path, list[str]]
) -> None:
    f, _ = preset
    never = tmp_path / "never.json"
    r = user("history", "log", str(never))
    assert r.returncode == 1 and "never been recorded" in r.stderr
    assert user.json("history", "diff", str(f), "abcdef12", code=1)["error"]["kind"] == "NotFound"
    r = user("history", "restore", str(f), "zzzz")
    assert r.returncode == 1 and "no version" in r.stderr
    assert f.read_bytes() == preset_bytes(0.2)  # untouched
    assert user("history").returncode == 2


def test_remote_push_pull_between_two_homes(
    tmp_path: Path, preset: tuple[Path, list[str]], user: Cli
) -> None:
    f, (_, v2) = preset
    bare = tmp_path / "shared.git"
    Repo.init_bare(str(bare), mkdir=True)
    assert user.json("history", "push", code=2)["error"]["message"].startswith("No remote")
    assert user.json("history", "remote", str(bare))["remote"] == str(bare)
    saved = json.loads(user.settings.read_text(encoding="utf-8"))
    assert saved["history"]["remote_url"] == str(bare)
    assert user.json("history", "push")["outcome"] == "pushed"
    other = Cli(tmp_path / "home2")
    other.json("history", "remote", str(bare))
    pulled = other.json("history", "pull")
    assert pulled["outcome"] == "fast_forward" and pulled["changed"] == [str(f)]
    assert other.json("history", "log", str(f))["versions"][0]["commit"] == v2
    # a remote that does not exist: exit 1, a sentence, no traceback
    user.json("history", "remote", "https://127.0.0.1:9/x.git")
    r = user("history", "pull")
    assert r.returncode == 1
    assert "Could not fetch from the remote https://127.0.0.1:9/x.git" in r.stdout
    assert user.json("history", "remote")["remote"] == "https://127.0.0.1:9/x.git"


def test_a_remote_with_a_password_is_refused_and_saved_nowhere(user: Cli) -> None:
    result = user("history", "remote", "https://me:hunter2@example.com/p.git")
    assert result.returncode == 2
    assert "plain text" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    user("history", "remote", "git@example.com:me/p.git").check_returncode()  # this one is fine
    written = [p.read_bytes() for p in user.user_home.rglob("*") if p.is_file()]
    assert written and not any(b"hunter2" in data for data in written)
