"""`lmstudio-tray presets …` as a user runs it: the real executable, a throw-away HOME whose
`~/.lmstudio/config-presets` holds the fixtures; exit codes 0, 1 (no LM Studio home) and 2
(bad input), the same with and without --json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "presets"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / ".lmstudio" / "config-presets"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("*.md"))
    return target


def test_list_and_show(cli: Cli, folder: Path) -> None:
    doc = cli.json("presets", "list")
    names = [r["name"] for r in doc["presets"]]
    assert "Coding assistant" in names and "broken" in names
    broken = next(r for r in doc["presets"] if r["name"] == "broken")
    assert "not valid JSON" in broken["error"]
    text = cli("presets")
    assert text.returncode == 0 and "! broken" in text.stdout

    shown = cli.json("presets", "show", "Coding assistant")
    assert shown["fields"]["temperature"] == 0.2
    assert shown["fields"]["top_p"] == {"checked": True, "value": 0.9}
    assert shown["other_fields"] == [
        {"section": "operation", "key": "llm.prediction.llama.cpuThreads", "value": 8}
    ]
    assert shown["chat_options"]["max_tokens"] == 4096
    text = cli("presets", "show", "@local:coding-assistant")
    assert text.returncode == 0 and "temperature" in text.stdout and "0.2" in text.stdout


def test_set_changes_only_those_fields_and_keeps_history(cli: Cli, folder: Path) -> None:
    path = folder / "coding-assistant.preset.json"
    original = path.read_bytes()
    r = cli("presets", "set", "Coding assistant", "temperature=0.7", "max_tokens=none")
    assert r.returncode == 0, r.stderr
    assert "Saved preset “Coding assistant”" in r.stdout
    doc = json.loads(path.read_bytes())
    items = {i["key"]: i["value"] for i in doc["operation"]["fields"]}
    assert items["llm.prediction.temperature"] == 0.7
    assert items["llm.prediction.maxPredictedTokens"] == {"checked": False, "value": 4096}
    assert len(path.read_bytes().splitlines()) == len(original.splitlines())

    cli.json("presets", "set", "Coding assistant", "llm.prediction.llama.cpuThreads=4")
    assert json.loads(path.read_bytes())["operation"]["fields"][-1]["value"] == 4

    # the history keeps every version, with what changed (read from the repository
    # itself: its keys are the history service's business)
    from dulwich.repo import Repo

    repo = Repo(str(cli.user_home / ".local" / "share" / "lmstudio-tray" / "history"))
    messages = [e.commit.message.decode().splitlines()[0] for e in repo.get_walker()]
    repo.close()
    assert messages == [
        "Preset “Coding assistant”: llm.prediction.llama.cpuThreads 8 → 4",
        "Preset “Coding assistant”: temperature 0.2 → 0.7, max tokens 4096 → no limit",
        "before: Preset “Coding assistant” before the tray changed it",
    ]


@pytest.mark.parametrize("as_json", [False, True])
def test_bad_input_exits_2_with_the_sentence(cli: Cli, folder: Path, as_json: bool) -> None:
    path = folder / "coding-assistant.preset.json"
    original = path.read_bytes()
    extra = ["--json"] if as_json else []
    for args, words in (
        (["top_p=1.5"], "Top-p must be between 0 and 1 (it is 1.5)."),
        (["temperature=warm"], "Temperature must be a number"),
        (["colour=red"], "Unknown setting “colour”"),
        (["top_k"], "is not KEY=VALUE"),
    ):
        r = cli("presets", "set", "Coding assistant", *args, *extra)
        assert r.returncode == 2, r.stdout + r.stderr
        said = json.loads(r.stdout)["error"]["message"] if as_json else r.stdout + r.stderr
        assert words in said
    assert path.read_bytes() == original
    r = cli("presets", "show", "Nope", *extra)  # not found: 1, as README says
    said = json.loads(r.stdout)["error"]["message"] if as_json else r.stdout + r.stderr
    assert r.returncode == 1 and "There is no preset “Nope”" in said


def test_export_and_import(cli: Cli, folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared.preset.json"
    cli.json("presets", "export", "Windows notes", str(out))
    assert out.read_bytes() == (folder / "bom-crlf.preset.json").read_bytes()
    doc = cli.json("presets", "import", str(out))
    assert doc["name"] == "Windows notes 2"
    assert (folder / "Windows notes 2.preset.json").exists()
    missing = cli("presets", "import", str(tmp_path / "nothing.json"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_no_lm_studio_home_exits_1(cli: Cli) -> None:
    r = cli("presets", "list")
    assert r.returncode == 1 and "does not exist" in r.stderr
