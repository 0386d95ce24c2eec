"""A known test token, in the place a user puts it — the environment (LM_API_TOKEN), the
OS keyring (real Secret Service, `keyring`-marked) and an `mcp.json` — must appear nowhere
else after EVERY CLI command ran with `--log-level debug`: not in stdout or stderr, not in
any file under the throw-away HOME (config, data and state folders, logs, lock records),
and not in any object of the history repository (every blob, tree and commit message,
read through dulwich, so packed and zlib-compressed objects are seen too).

The commands are enumerated from `tray.cli.build_parser()`, so a new command is covered
without touching this file; a command whose arguments are unknown here still runs (with
a placeholder) and its output is scanned.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from cli_runner import EXE, TOKEN_VARS

from tray.cli import build_parser
from tray.simulator import Simulator

# Made up for this test, in LM Studio's token shape (FORMATS §2.9).
TOKEN = "sk-lm-Qz7Rt2Pw:Hx4Nm8Kd2Lf6Vb9Cj3Gs"
SECRET_HALF = TOKEN.partition(":")[2]
NEEDLES = (TOKEN.encode(), SECRET_HALF.encode())
QWEN = "qwen/qwen3-4b"
PROFILE = "this-machine"


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command path (`("models", "load")`) with its parser; a group that can run
    without a subcommand is listed too."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    if path:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from leaves(sub, (*path, name))


def positionals(parser: argparse.ArgumentParser, home: Path, user_home: Path) -> list[str]:
    """Plausible values for a command's required positional arguments, by their names."""
    known = {
        "question": ["Hello"],
        "model": [QWEN],
        "identifier": [],
        "target": [PROFILE],
        "paths": [str(home / "mcp.json")],
        "action": ["restart"],
        "name": ["tray-secret-test"],
        "assignments": ["temperature=0.5"],
        "items": ["context_length=4096"],
        "file": [str(user_home / "preset-export.json")],
        "path": [str(home / "mcp.json")],
        "rev": ["latest"],
        "rev2": [],
        "url": [],
    }
    out: list[str] = []
    for action in parser._actions:
        if action.option_strings or isinstance(action, argparse._SubParsersAction):
            continue
        if action.choices:
            out.append(str(next(iter(action.choices))))
        else:
            out.extend(known.get(action.dest, ["placeholder"]))
    return out


def write_mcp(home: Path) -> Path:
    path = home / "mcp.json"
    doc = {
        "mcpServers": {
            "lmstudio-bridge": {
                "command": "npx",
                "args": ["-y", "some-lmstudio-bridge"],
                "env": {"LM_API_TOKEN": TOKEN},
            },
            "remote": {
                "url": "https://mcp.example.invalid/sse",
                "headers": {"Authorization": f"Bearer {TOKEN}"},
            },
        }
    }
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def history_objects(repo_dir: Path) -> Iterator[tuple[str, bytes]]:
    """Every object of a git repository, decompressed: (kind and id, raw bytes)."""
    from dulwich.repo import Repo

    repo = Repo(str(repo_dir))
    try:
        for sha in repo.object_store:
            obj = repo.object_store[sha]
            yield f"{obj.type_name.decode()} {sha.decode()}", obj.as_raw_string()
    finally:
        repo.close()


def scan_tree(root: Path, allowed: set[Path]) -> list[str]:
    """Files under `root` holding the token, other than `allowed`; git repositories are
    read object by object."""
    found: list[str] = []
    for path in sorted(root.rglob("*")):
        if path in allowed or not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if any(n in data for n in NEEDLES):
            found.append(str(path.relative_to(root)))
    for git_dir in {p.parent for p in root.rglob("HEAD") if (p.parent / "objects").is_dir()}:
        for what, raw in history_objects(git_dir):
            if any(n in raw for n in NEEDLES):
                found.append(f"{git_dir.relative_to(root)}: {what}")
    return found


def run_every_command(user_home: Path, home: Path, token_env: bool) -> tuple[list[str], int]:
    """Run every CLI command with --log-level debug; the leaks in its output and how many
    commands ran."""
    env = {k: v for k, v in os.environ.items() if k not in (*TOKEN_VARS, "PATH")}
    env.update(
        HOME=str(user_home),
        XDG_CONFIG_HOME=str(user_home / ".config"),
        XDG_STATE_HOME=str(user_home / ".state"),
        XDG_DATA_HOME=str(user_home / ".local" / "share"),
        PATH=f"{home / 'bin'}:/usr/bin:/bin",
    )
    if token_env:
        env["LM_API_TOKEN"] = TOKEN
    # Deleting the token first would leave the other commands nothing to leak: it runs
    # last; the others run four at a time (each is a fresh process: mostly start-up).
    commands = list(leaves(build_parser()))
    last = [c for c in commands if c[0] == ("tokens", "delete")]
    # Lockdown and restore change mcp.json: run in parallel with each other, the file's
    # last state would depend on their order. They run after the rest, in this order.
    in_order = [("mcp", "lockdown"), ("mcp", "restore")]
    ordered = sorted((c for c in commands if c[0] in in_order), key=lambda c: in_order.index(c[0]))
    first = [c for c in commands if c[0] != ("tokens", "delete") and c[0] not in in_order]

    def run(command: tuple[tuple[str, ...], argparse.ArgumentParser], extra: list[str]) -> str:
        path, parser = command
        argv = [str(EXE), *path, *positionals(parser, home, user_home), "--log-level", "debug"]
        if any("--duration" in a.option_strings for a in parser._actions):
            argv += ["--duration", "2"]  # a command that streams until stopped (activity)
        r = subprocess.run(
            [*argv, *extra],
            input="",  # `tokens set` reads stdin: empty, so it refuses
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )
        print(f"[secrets] {' '.join(path)} {' '.join(extra)} -> exit {r.returncode}")
        leaked = [
            name
            for name, data in (("stdout", r.stdout), ("stderr", r.stderr))
            if any(n in data for n in NEEDLES)
        ]
        return ", ".join(f"{' '.join(path)} {' '.join(extra)}: {s}" for s in leaked)

    runs = [(c, extra) for c in first for extra in ([], ["--json"])]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: run(*job), runs))
    results += [run(c, extra) for c in ordered for extra in ([], ["--json"])]
    results += [run(c, extra) for c in last for extra in ([], ["--json"])]
    leaks = [r for r in results if r]
    ran = len(results)
    return leaks, ran


def arrange(tmp_path: Path) -> tuple[Path, Path]:
    user_home = tmp_path / "home"
    home = user_home / ".lmstudio"
    home.mkdir(parents=True)
    return user_home, home


def check(user_home: Path, home: Path, mcp: Path, token_env: bool) -> None:
    # The scan can see the token where it is (so an empty result below means something).
    assert scan_tree(user_home, allowed=set()) == [str(mcp.relative_to(user_home))]
    leaks, ran = run_every_command(user_home, home, token_env)
    # Where the user put it: mcp.json itself is allowed to hold it.
    leaks += scan_tree(user_home, allowed={mcp})
    print(f"\n[secrets] {ran} command runs scanned, plus every file and history object")
    assert not leaks, f"the token leaked into: {leaks}"
    # `mcp lockdown` then `mcp restore` gives the file back from history, which never
    # keeps a token: the user is told to put it back where the marker is (by design).
    text = mcp.read_text(encoding="utf-8")
    assert TOKEN in text or "sk-lm-REMOVED-by-LM-Studio-Tray" in text


@pytest.mark.timeout(900)  # ~70 runs of the real executable
def test_the_token_from_the_environment_and_mcp_json_leaks_nowhere(tmp_path: Path) -> None:
    user_home, home = arrange(tmp_path)
    with Simulator(home, auth_token=TOKEN, tokens_per_second=5000) as sim:
        sim.install_fake_lms()
        sim.state.load(QWEN)
        mcp = write_mcp(home)
        check(user_home, home, mcp, token_env=True)
        # The commands really talked to the server with the token.
        assert any(auth for _, _, auth in sim.state.requests)


@pytest.mark.keyring
@pytest.mark.timeout(900)
def test_the_token_from_the_keyring_and_mcp_json_leaks_nowhere(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
    from keyring_probe import secret_service

    from tray.services.token_vault import TokenVault

    backend = secret_service()
    user_home, home = arrange(tmp_path)
    backend.set_password(TokenVault.SERVICE, PROFILE, TOKEN)
    try:
        with Simulator(home, auth_token=TOKEN, tokens_per_second=5000) as sim:
            sim.install_fake_lms()
            sim.state.load(QWEN)
            mcp = write_mcp(home)
            check(user_home, home, mcp, token_env=False)
            assert any(auth for _, _, auth in sim.state.requests)
    finally:
        if backend.get_password(TokenVault.SERVICE, PROFILE) is not None:
            backend.delete_password(TokenVault.SERVICE, PROFILE)
