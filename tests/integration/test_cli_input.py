"""Bad input on the command line is a sentence and an exit code, never a traceback: server
addresses from every place one comes from, things that are not there (exit 1, as README
says), and readers that stop reading early (`| head -1`). The real executable, the real
simulator, real pipes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import EXE, TOKEN_VARS, Cli  # tests/integration/cli_runner.py

from tray.simulator import Simulator
from tray.simulator.catalog import downloaded_model_from_name
from tray.simulator.state import Reply

QWEN = "qwen/qwen3-4b"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000) as s:
        s.install_fake_lms()
        yield s


def cli_env(cli: Cli) -> dict[str, str]:
    """The environment `Cli` runs the executable with (for pipes it cannot set up)."""
    env = {k: v for k, v in os.environ.items() if k not in (*TOKEN_VARS, "PATH")}
    env.update(
        HOME=str(cli.user_home),
        XDG_CONFIG_HOME=str(cli.user_home / ".config"),
        XDG_STATE_HOME=str(cli.user_home / ".state"),
        PATH="/usr/bin:/bin",
    )
    return env


def one_sentence(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- server addresses ----------------------------------------------------------------------

BAD_ADDRESSES = [
    ("http://127.0.0.1:99999", "port must be a number from 1 to 65535"),  # was a traceback
    ("http://127.0.0.1:0", "port must be a number from 1 to 65535"),
    ("http://127.0.0.1:abc", "port must be a number from 1 to 65535"),
    ("http://[::1", "close the bracket"),  # was a traceback
    ("http://[::1]x:1234", "only a port may follow"),
    ("http://::1:1234", "IPv6 address in brackets"),
    ("ws://127.0.0.1:1234", "(not ws:)"),
    ("ftp://127.0.0.1:1234", "(not ftp:)"),
    ("htp:/192.168.1.20:99999", "(not htp:)"),
    ("http:/127.0.0.1:1234", "two slashes"),
    ("http://:1234", "needs a host"),
    ("http://me:hunter2@127.0.0.1:1234", "OS keyring"),
    ("", "type an address"),
]


@pytest.mark.parametrize(("address", "says"), BAD_ADDRESSES, ids=[a for a, _ in BAD_ADDRESSES])
def test_a_bad_server_flag_is_a_usage_error_with_one_sentence(
    cli: Cli, address: str, says: str
) -> None:
    r = cli("status", "--server", address)
    assert r.returncode == 2, r.stdout + r.stderr
    line = one_sentence(r.stderr)
    assert line.startswith("Invalid server address: The server address “")
    assert "given with --server is not usable: " in line and says in line
    assert r.stdout == ""
    assert "hunter2" not in r.stdout + r.stderr
    doc = cli.json("models", "--server", address, code=2)
    assert doc["error"]["kind"] == "InvalidServerUrl"
    assert says in doc["error"]["message"] and "given with --server" in doc["error"]["message"]


def test_an_address_without_a_scheme_is_taken_as_http(cli: Cli, sim: Simulator) -> None:
    address = f"localhost:{sim.api_port}"  # was "unreachable"
    doc = cli.json("status", "--server", address)
    assert doc["server"]["url"] == f"http://localhost:{sim.api_port}"
    assert doc["server"]["state"] == "running"
    assert cli.json("status", "--server", f"{sim.base_url}/v1/")["server"]["url"] == sim.base_url


def bad_profile_settings(cli: Cli, url: str) -> Path:
    cli.settings.parent.mkdir(parents=True, exist_ok=True)
    cli.settings.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "profiles": [
                    {"id": "this-machine", "name": "This machine"},
                    {"id": "gpu-box", "name": "GPU box", "base_url": url},
                ],
                "active_profile": "gpu-box",
            }
        )
    )
    return cli.settings


@pytest.mark.parametrize(
    ("url", "says"),
    [("http://192.168.1.20:99999", "port must be"), ("http://[fe80::1", "close the bracket")],
)
def test_a_bad_address_in_the_settings_names_the_profile_and_the_file(
    cli: Cli, sim: Simulator, url: str, says: str
) -> None:
    settings = bad_profile_settings(cli, url)
    for command in (("status",), ("models",), ("doctor",), ("chat", "Hi")):
        r = cli(*command)
        assert r.returncode == 2, (command, r.stdout + r.stderr)
        line = one_sentence(r.stderr)
        assert f"“{url}” of the server profile “GPU box” in the settings file {settings}" in line
        assert says in line
    # Commands that do not talk to the server still work, and so does another profile.
    assert cli("presets", "list").returncode == 0
    assert cli.json("status", "--profile", "this-machine")["server"]["state"] == "running"
    assert cli.json("status", "--server", sim.base_url)["server"]["state"] == "running"


def test_a_bad_port_in_lm_studios_server_settings_names_that_file(cli: Cli, sim: Simulator) -> None:
    config = cli.user_home / ".lmstudio" / ".internal" / "http-server-config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "port": 99999}))
    r = cli("status")
    assert r.returncode == 2
    line = one_sentence(r.stderr)
    assert f"made from LM Studio's server settings in {config}" in line
    assert "port must be a number from 1 to 65535" in line


def run_tray(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """The tray itself (no command). Should it get as far as Qt, it would start and run
    until the timeout: the refusal must come first."""
    env = cli_env(cli) | {"QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("address", "says"), BAD_ADDRESSES[:5], ids=[a for a, _ in BAD_ADDRESSES[:5]]
)
def test_the_tray_refuses_a_bad_server_flag_before_showing_anything(
    cli: Cli, address: str, says: str
) -> None:
    r = run_tray(cli, "--server", address)
    assert r.returncode == 2, r.stderr
    line = one_sentence(r.stderr)
    assert line.startswith("lmstudio-tray: Invalid server address: The server address “")
    assert says in line


def test_the_tray_refuses_an_unknown_profile_before_showing_anything(cli: Cli) -> None:
    r = run_tray(cli, "--profile", "nope")
    assert r.returncode == 1, r.stderr
    line = one_sentence(r.stderr)
    assert line == (
        "lmstudio-tray: Not found: There is no server profile “nope” in the settings "
        "(known: this-machine)."
    )


# --- not found is exit 1 ---------------------------------------------------------------------

NOT_FOUND = [
    (("presets", "show", "nope"), "There is no preset “nope”"),
    (("presets", "set", "nope", "temperature=0.5"), "There is no preset “nope”"),
    (("presets", "export", "nope", "out.json"), "There is no preset “nope”"),
    (("presets", "import", "no-such-file.json"), "does not exist"),
    (("chat", "Hi", "--preset", "nope"), "There is no preset “nope”"),
    (("history", "log", "no-such-file.json"), "never been recorded"),
    (("history", "diff", "no-such-file.json", "latest"), "never been recorded"),
    (("models", "unload", "nope"), "does not know that model"),
    (("models", "load", QWEN, "--load-profile", "nope"), "There is no load profile for “nope”"),
    (("tokens", "test", "nope"), "There is no server profile “nope”"),
    (("tokens", "delete", "nope"), "There is no server profile “nope”"),
    (("tokens", "env", "nope"), "There is no server profile “nope”"),
    (("status", "--profile", "nope"), "There is no server profile “nope”"),
    (("mcp", "audit", "--file", "no-such-mcp.json"), "There is no file"),
    (("mcp", "lockdown", "--allow", "nope"), "has no server named nope"),
]


@pytest.mark.parametrize(("args", "says"), NOT_FOUND, ids=[" ".join(a) for a, _ in NOT_FOUND])
def test_what_is_not_there_is_exit_1_not_2(
    cli: Cli, sim: Simulator, args: tuple[str, ...], says: str
) -> None:
    (cli.user_home / ".lmstudio" / "config-presets").mkdir(exist_ok=True)
    if args[0] == "mcp":
        (cli.user_home / ".lmstudio" / "mcp.json").write_text('{"mcpServers": {}}')
    r = cli(*args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert says in one_sentence(r.stderr)
    doc = cli.json(*args, code=1)
    assert says in doc["error"]["message"]


# --- readers that stop early -------------------------------------------------------------------


def piped_to_head(cli: Cli, *args: str) -> tuple[int, str, str]:
    """`lmstudio-tray ARGS | head -1` through a real pipe: (our exit code, head's output,
    our stderr)."""
    ours = subprocess.Popen(
        [str(EXE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(cli),
    )
    assert ours.stdout is not None and ours.stderr is not None
    head = subprocess.run(
        ["head", "-1"], stdin=ours.stdout, capture_output=True, timeout=60, check=True
    )
    ours.stdout.close()  # head holds the only reading end; it exits after one line
    stderr = ours.stderr.read().decode()
    return ours.wait(timeout=60), head.stdout.decode(), stderr


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_reader_that_stops_early_ends_the_command_quietly(
    cli: Cli, sim: Simulator, as_json: bool
) -> None:
    # More output than a pipe holds (64 KiB), so we are still writing when head has gone.
    for i in range(3000):
        model = downloaded_model_from_name(f"lmstudio-community/model-{i:04}", 10**9)
        sim.state.catalog[model.key] = model
    code, first, stderr = piped_to_head(cli, "models", *(["--json"] if as_json else []))
    assert first == ("{\n" if as_json else "No models loaded.\n")
    assert stderr == ""  # no BrokenPipeError, no "Exception ignored"
    assert code == 0  # the command itself went well


def test_a_streamed_chat_stops_asking_when_its_reader_has_gone(cli: Cli, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.state.next_reply = Reply(text="word " * 5000)  # 2.5 s at 2,000 tokens/s
    ours = subprocess.Popen(
        [str(EXE), "chat", "Hi"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(cli)
    )
    assert ours.stdout is not None and ours.stderr is not None
    ours.stdout.close()  # the reader is gone before the first word arrives
    stderr = ours.stderr.read().decode()
    assert ours.wait(timeout=60) == 0
    assert stderr == ""
    # The answer was not asked to the end: the server saw its stream closed.
    assert sim.state.wait_until(lambda s: s.cancelled_streams >= 1)
