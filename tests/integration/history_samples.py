"""What the history tests share: a small preset's bytes, and checking a repository the way
both dulwich and (when installed) the real git do."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

__all__ = ["assert_sound_repository", "preset_bytes"]


def preset_bytes(temp: float) -> bytes:
    doc = {
        "identifier": "@local:coder",
        "name": "Coder",
        "operation": {"fields": [{"key": "llm.prediction.temperature", "value": temp}]},
        "load": {"fields": []},
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def assert_sound_repository(repo_dir: Path) -> list[Commit]:
    """Every commit, tree and blob reachable from the branch reads back through dulwich,
    and `git fsck --strict` agrees; returns the commits."""
    repo = Repo(str(repo_dir))
    commits = [e.commit for e in repo.get_walker()]
    for c in commits:
        tree = repo[c.tree]
        assert isinstance(tree, Tree)
        for item in tree.items():
            assert isinstance(repo[item.sha], Blob)
    git = shutil.which("git")
    if git is not None:
        result = subprocess.run(
            [git, "--git-dir", str(repo_dir), "fsck", "--strict"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    return commits
