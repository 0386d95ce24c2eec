"""The leak finder on real files: mcp.json (JSON, JSONC, BOM, broken), LM Studio's own
JSON files, env/rc files; and taking a token out — exactly its characters, atomically,
with both versions in the history and no token in it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dulwich.repo import Repo

from tray.core.errors import ConfigError, FileWriteError
from tray.core.secrets_scan import SecretKind, digest_of
from tray.services.history import FileHistory
from tray.services.leak_finder import (
    ENV_PLACEHOLDER,
    Leak,
    find_leaks,
    remove_token_from_file,
)
from tray.simulator import Simulator

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
OTHER = "sk-lm-Wxyz9876:Zyxwvutsrq0987654321"
GITHUB = "ghp_" + "a1B2c3D4e5" * 3 + "F6g7H8"
CORPUS = Path(__file__).parent.parent / "fixtures" / "mcp"

JSONC = f"""\ufeff{{
  // LM Studio's own server, with auth on
  "mcpServers": {{
    "lmstudio": {{
      "url": "http://127.0.0.1:1234/mcp",
      "headers": {{ "Authorization": "Bearer {TOKEN}" }}, /* keep me */
    }},
    "gh": {{ "command": "gh-mcp", "env": {{ "GITHUB_TOKEN": "{GITHUB}" }} }},
  }},
}}
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / ".lmstudio"
    h.mkdir()
    return h


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "history")


def assert_no_token_in_repo(repo_dir: Path, *tokens: str) -> None:
    repo = Repo(str(repo_dir))
    for sha in repo.object_store:
        raw = repo.object_store[sha].as_raw_string()
        for token in tokens:
            assert token.encode() not in raw


def only(leaks: list[Leak], kind: SecretKind) -> Leak:
    [leak] = [x for x in leaks if x.kind is kind]
    return leak


def test_an_empty_or_missing_home_is_clean(home: Path) -> None:
    report = find_leaks([], home=home)
    assert report.leaks == [] and report.problems == []
    report = find_leaks([], home=None)
    assert report.leaks == [] and report.scanned == []


def test_a_simulated_lmstudio_home_is_clean_until_a_token_is_planted(tmp_path: Path) -> None:
    with Simulator(tmp_path / ".lmstudio") as sim:
        report = find_leaks([], home=sim.home)
        assert report.leaks == [] and report.problems == []
        assert sim.home / ".internal" / "http-server-config.json" in report.scanned
        presets = sim.home / "config-presets"
        presets.mkdir(exist_ok=True)
        (presets / "mine.json").write_text(
            json.dumps({"note": f"token {TOKEN}", "sessionId": "Zk3v9QpL2mX8rT4w"})
        )
        (sim.home / ".internal" / "blob.json").write_bytes(b"\x00\x01" + TOKEN.encode())
        [leak] = find_leaks([], home=sim.home).leaks
    # LM Studio's own files: reported, but not ours to rewrite; a binary file is skipped
    assert (leak.path.name, leak.pointer, leak.lmstudio, leak.movable) == (
        "mine.json",
        "/note",
        True,
        False,
    )


def test_jsonc_mcp_json_with_bom_comments_and_trailing_commas(home: Path) -> None:
    (home / "mcp.json").write_text(JSONC, encoding="utf-8")
    report = find_leaks([], home=home)
    assert report.problems == []
    lm = only(report.leaks, SecretKind.LMSTUDIO)
    assert (lm.pointer, lm.line, lm.movable) == (
        "/mcpServers/lmstudio/headers/Authorization",
        6,
        True,
    )
    assert lm.digest == digest_of(TOKEN) and lm.length == len(TOKEN)
    gh = only(report.leaks, SecretKind.GITHUB)
    assert (gh.pointer, gh.lmstudio, gh.movable) == (
        "/mcpServers/gh/env/GITHUB_TOKEN",
        False,
        False,
    )
    assert TOKEN not in report.model_dump_json() and GITHUB[4:] not in report.model_dump_json()


def test_an_unparseable_mcp_json_is_a_problem_with_line_and_column_and_still_scanned(
    home: Path,
) -> None:
    (home / "mcp.json").write_text(
        f'{{\n  "mcpServers": {{\n    "x": {{ "env": {{ "T": "{TOKEN}" }}\n  oops\n}}\n'
    )
    report = find_leaks([], home=home)
    [problem] = report.problems
    assert "mcp.json is not valid JSON" in problem and "line 4, column 3" in problem
    [leak] = report.leaks
    assert (leak.kind, leak.line, leak.pointer, leak.movable) == (
        SecretKind.LMSTUDIO,
        3,
        None,
        True,
    )


def test_env_and_rc_files_and_bad_paths(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"LM_API_TOKEN={TOKEN}\nPORT=1234\n")
    rc = tmp_path / ".zshrc"
    rc.write_text(f'alias ll="ls -l"\nexport LM_API_TOKEN="{OTHER}"\nexport GH={GITHUB}\n')
    report = find_leaks([env, rc, tmp_path / "nope", tmp_path], home=None)
    assert [(p.name, x.line, x.kind) for x in report.leaks for p in [x.path]] == [
        (".env", 1, SecretKind.LMSTUDIO),
        (".zshrc", 2, SecretKind.LMSTUDIO),
        (".zshrc", 3, SecretKind.GITHUB),
    ]
    assert len(report.problems) == 2
    assert "does not exist" in report.problems[0] and "is a folder" in report.problems[1]


def test_a_huge_file_is_skipped_with_a_problem(tmp_path: Path) -> None:
    big = tmp_path / ".bashrc"
    big.write_bytes(b"# x\n" * 700_000 + f"T={TOKEN}\n".encode())
    report = find_leaks([big], home=None)
    assert report.leaks == [] and "larger than" in report.problems[0]


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.json")))
def test_corpus_as_mcp_json(home: Path, name: str) -> None:
    shutil.copy(CORPUS / name, home / "mcp.json")
    report = find_leaks([], home=home)
    assert report.problems == []  # JSONC files (012, 035, 039, 042) parse too
    expected = 2 if name.startswith("043-") else 0
    assert len(report.leaks) == expected
    assert not any(x.movable for x in report.leaks)  # none of them is an LM Studio token


# --- moving a token out ------------------------------------------------------------------


def test_jsonc_keeps_every_byte_but_the_token(home: Path, history: FileHistory) -> None:
    mcp = home / "mcp.json"
    mcp.write_text(JSONC, encoding="utf-8")
    mcp.chmod(0o600)
    before = mcp.read_bytes()
    leak = only(find_leaks([], home=home).leaks, SecretKind.LMSTUDIO)
    remove_token_from_file(leak, history=history, profile_id="this-machine")
    after = mcp.read_bytes()
    assert after == before.replace(TOKEN.encode(), ENV_PLACEHOLDER.encode())
    assert after.startswith(b"\xef\xbb\xbf") and b"/* keep me */" in after
    assert (mcp.stat().st_mode & 0o777) == 0o600
    # the other secret is untouched (report-only) and the token is gone
    report = find_leaks([], home=home)
    assert [x.kind for x in report.leaks] == [SecretKind.GITHUB]
    versions = history.versions(mcp)
    assert len(versions) == 2
    assert versions[0].message.startswith("after:") and versions[1].message.startswith("before:")
    assert history.read(mcp, versions[0].commit) == after
    assert TOKEN.encode() not in history.read(mcp, versions[1].commit)
    assert b"/* keep me */" in history.read(mcp, versions[1].commit)
    assert_no_token_in_repo(history.repo_dir, TOKEN)


def test_every_occurrence_of_that_token_goes_and_another_token_stays(
    tmp_path: Path, history: FileHistory
) -> None:
    cfg = tmp_path / "claude_desktop_config.json"
    doc = {
        "mcpServers": {
            "a": {"env": {"LM_API_TOKEN": TOKEN}},
            "b": {"args": ["--header", f"Authorization:Bearer {TOKEN}"]},
            "c": {"env": {"LM_API_TOKEN": OTHER}},
        }
    }
    cfg.write_text(json.dumps(doc, indent=2))
    leaks = find_leaks([cfg], home=None).leaks
    assert len(leaks) == 3
    remove_token_from_file(leaks[0], history=history, profile_id="p")
    after = json.loads(cfg.read_text())
    assert after["mcpServers"]["a"]["env"]["LM_API_TOKEN"] == ENV_PLACEHOLDER
    assert after["mcpServers"]["b"]["args"][1] == f"Authorization:Bearer {ENV_PLACEHOLDER}"
    assert after["mcpServers"]["c"]["env"]["LM_API_TOKEN"] == OTHER


def test_rc_file_line_is_commented_out_with_a_note(tmp_path: Path, history: FileHistory) -> None:
    rc = tmp_path / ".bashrc"
    rc.write_text(
        f'alias ll="ls -l"\n  export LM_API_TOKEN="{TOKEN}"  # lm studio\nexport EDITOR=vim\n'
    )
    [leak] = find_leaks([rc], home=None).leaks
    remove_token_from_file(leak, history=history, profile_id="work-box")
    lines = rc.read_text().splitlines()
    assert lines[0] == 'alias ll="ls -l"' and lines[-1] == "export EDITOR=vim"
    assert lines[-2] == '  # export LM_API_TOKEN="<moved to keyring>"  # lm studio'
    note = "\n".join(lines[1:-2])
    assert "lmstudio-tray tokens env work-box --reveal" in note and digest_of(TOKEN) in note
    assert all(line.lstrip().startswith("#") for line in lines[1:-1])
    assert TOKEN not in rc.read_text()
    assert find_leaks([rc], home=None).leaks == []
    # and the shell still reads the file
    bash = shutil.which("bash")
    if bash:
        subprocess.run([bash, "-n", str(rc)], check=True)
    assert_no_token_in_repo(history.repo_dir, TOKEN)


def test_a_read_only_file_is_refused_and_left_intact(home: Path, history: FileHistory) -> None:
    mcp = home / "mcp.json"
    mcp.write_text(JSONC, encoding="utf-8")
    before = mcp.read_bytes()
    leak = only(find_leaks([], home=home).leaks, SecretKind.LMSTUDIO)
    mcp.chmod(0o444)
    with pytest.raises(FileWriteError, match="read-only") as info:
        remove_token_from_file(leak, history=history, profile_id="p")
    assert TOKEN not in str(info.value)
    assert mcp.read_bytes() == before
    assert history.versions(mcp) == []


def test_a_failed_write_leaves_the_file_intact(home: Path, tmp_path: Path) -> None:
    """A real failed write in a child process: the file-size limit makes write() fail."""
    mcp = home / "mcp.json"
    mcp.write_text(JSONC, encoding="utf-8")
    before = mcp.read_bytes()
    code = f"""
import resource, signal, sys
from pathlib import Path
from tray.services.history import FileHistory
from tray.services.leak_finder import find_leaks, remove_token_from_file
from tray.core.errors import FileWriteError
history = FileHistory(Path({str(tmp_path / "history")!r}))
[leak] = [x for x in find_leaks([], home=Path({str(home)!r})).leaks if x.lmstudio]
history.record(leak.path, "warm up")  # the repository exists before the limit
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
try:
    remove_token_from_file(leak, history=history, profile_id="p")
except FileWriteError as e:
    print(e); sys.exit(3)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 3, result.stderr
    assert "Could not save" in result.stdout and TOKEN not in result.stdout + result.stderr
    assert mcp.read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == ["mcp.json"]  # no temp file left


def test_what_cannot_be_moved_says_why(home: Path, tmp_path: Path, history: FileHistory) -> None:
    (home / "mcp.json").write_text(JSONC, encoding="utf-8")
    gh = only(find_leaks([], home=home).leaks, SecretKind.GITHUB)
    with pytest.raises(ConfigError, match="Only LM Studio tokens"):
        remove_token_from_file(gh, history=history, profile_id="p")
    (home / "settings.json").write_text(json.dumps({"x": TOKEN}))
    own = next(x for x in find_leaks([], home=home).leaks if x.path.name == "settings.json")
    with pytest.raises(ConfigError, match="belongs to LM Studio"):
        remove_token_from_file(own, history=history, profile_id="p")
    lm = next(x for x in find_leaks([], home=home).leaks if x.movable)
    (home / "mcp.json").write_text("{}")
    with pytest.raises(ConfigError, match="no longer in"):
        remove_token_from_file(lm, history=history, profile_id="p")
