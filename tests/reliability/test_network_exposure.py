"""The app opens no listening socket and talks only to the configured server.

The real `lmstudio-tray` runs in a subprocess with an audit hook (installed through a
`sitecustomize` on PYTHONPATH, so it is in place before any of our code runs) that logs
every `socket.bind`, `socket.connect` and `socket.getaddrinfo` with the process id and
the address family. Child processes (the fake `lms`) inherit the hook and log under their
own id; they are LM Studio's CLI, not the app, and are judged separately. For the running
tray the kernel is asked too: no socket in /proc/<pid>/fd is in LISTEN state in
/proc/<pid>/net/tcp{,6}.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from process_facts import listening_tcp, socket_inodes  # tests/process_facts.py

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from cli_runner import EXE, TOKEN_VARS

from tray.simulator import Simulator

QWEN = "qwen/qwen3-4b"

SITECUSTOMIZE = r"""
import json, os, socket, sys

_LOG = os.environ.get("NETLOG")


def _hook(event, args):
    if _LOG is None or event not in ("socket.bind", "socket.connect", "socket.getaddrinfo"):
        return
    if event == "socket.getaddrinfo":
        family, address = "lookup", [args[0], args[1]]
    else:
        sock, address = args[0], args[1]
        family = socket.AddressFamily(sock.family).name
        address = list(address) if isinstance(address, tuple) else str(address)
    line = json.dumps(
        {"pid": os.getpid(), "argv0": sys.argv[0] if sys.argv else "", "event": event,
         "family": family, "address": address}
    )
    with open(_LOG, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


sys.addaudithook(_hook)
"""


def environment(user_home: Path, home: Path, log: Path, hook_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*TOKEN_VARS, "PATH")}
    env.update(
        HOME=str(user_home),
        XDG_CONFIG_HOME=str(user_home / ".config"),
        XDG_STATE_HOME=str(user_home / ".state"),
        XDG_DATA_HOME=str(user_home / ".local" / "share"),
        PATH=f"{home / 'bin'}:/usr/bin:/bin",
        PYTHONPATH=os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")])),
        NETLOG=str(log),
    )
    return env


def records(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def is_app(record: dict[str, Any]) -> bool:
    return Path(record["argv0"]).name == "lmstudio-tray"


def judge_app(rows: list[dict[str, Any]], allowed: set[tuple[str, int]]) -> list[str]:
    """What the app did on the network that it should not have: any bind of an internet
    socket, or a connect to anything but the configured server."""
    bad: list[str] = []
    for row in rows:
        if not is_app(row) or row["family"] not in ("AF_INET", "AF_INET6"):
            continue  # AF_UNIX (D-Bus, X11, the signal wake-up pair) is not the network
        host, port = row["address"][0], int(row["address"][1])
        if row["event"] == "socket.bind":
            bad.append(f"bind {host}:{port}")
        elif row["event"] == "socket.connect" and (host, port) not in allowed:
            bad.append(f"connect {host}:{port}")
    return bad


@pytest.fixture
def arranged(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    user_home = tmp_path / "home"
    home = user_home / ".lmstudio"
    home.mkdir(parents=True)
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return user_home, home, tmp_path / "net.jsonl", hook_dir


def test_cli_commands_only_connect_to_the_configured_server(
    arranged: tuple[Path, Path, Path, Path],
) -> None:
    user_home, home, log, hook_dir = arranged
    with Simulator(home, tokens_per_second=5000) as sim:
        sim.install_fake_lms()
        sim.state.load(QWEN)
        env = environment(user_home, home, log, hook_dir)
        for argv in (
            ["status"],
            ["models", "load", QWEN],
            ["chat", "Hello", "--model", QWEN],
            ["mcp", "audit"],
            ["gpu"],
            ["server", "restart"],
            ["doctor"],
        ):
            subprocess.run(
                [str(EXE), *argv], capture_output=True, env=env, timeout=120, check=False
            )
        # The server, and LM Studio's own local API server on loopback (the port it
        # publishes in .internal/http-server.json), which alone tells its version.
        allowed = {
            ("127.0.0.1", sim.api_port),
            ("localhost", sim.api_port),
            ("127.0.0.1", sim.control_port),
        }
        rows = records(log)
    app_rows = [r for r in rows if is_app(r)]
    connects = [r for r in app_rows if r["event"] == "socket.connect"]
    print(f"\n[network] CLI: {len(app_rows)} socket events, {len(connects)} connects")
    assert connects, "the hook saw nothing: is sitecustomize loaded?"
    assert not judge_app(rows, allowed), judge_app(rows, allowed)


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_the_running_tray_listens_on_nothing_and_talks_only_to_its_server(
    arranged: tuple[Path, Path, Path, Path],
) -> None:
    if os.environ.get("LMSTRAY_DESKTOP") != "1":
        pytest.skip("needs the desktop session (installers/desktop-session.sh)")
    user_home, home, log, hook_dir = arranged
    with Simulator(home, tokens_per_second=5000) as sim:
        sim.install_fake_lms()
        sim.state.load(QWEN)
        env = environment(user_home, home, log, hook_dir)
        proc = subprocess.Popen(
            [str(EXE), "--log-level", "debug"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            # Running = it has polled the server twice (start-up and a regular poll).
            polled = sim.state.wait_until(
                lambda s: sum(p == "/api/v1/models" for _, p, _ in s.requests) >= 2,
                timeout=60,
            )
            assert polled, "the tray never polled the simulator"
            assert proc.poll() is None, "the tray exited"
            listening = listening_tcp(proc.pid)
            sockets = len(socket_inodes(proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
        # The server, and LM Studio's own local API server on loopback (the port it
        # publishes in .internal/http-server.json), which alone tells its version.
        allowed = {
            ("127.0.0.1", sim.api_port),
            ("localhost", sim.api_port),
            ("127.0.0.1", sim.control_port),
        }
        rows = records(log)
    app_rows = [r for r in rows if is_app(r)]
    families = sorted({r["family"] for r in app_rows})
    print(
        f"\n[network] tray: {sockets} sockets open while running, none listening "
        f"({len(listening)}); {len(app_rows)} socket events, families {families}"
    )
    assert not listening, f"the tray listens: {listening}"
    assert not judge_app(rows, allowed), judge_app(rows, allowed)
    assert any(r["event"] == "socket.connect" for r in app_rows), err.decode(errors="replace")
