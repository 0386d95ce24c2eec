"""The real app, idle for 60 s with status polling on, spawns no process and only makes the
cheap HTTP probes it should (DESIGN.md §3: polling never runs `lms`, never wakes LM Studio).

Measured from outside: the app's child processes are sampled from /proc every 20 ms (a
Python-based `lms` lives for hundreds of ms, a real one longer), and its requests are
counted from its own log.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tray.services.server_watch import OTHERS_IDLE_S

EXE = Path(sys.executable).with_name("lmstudio-tray")
IDLE_SECONDS = 60.0
POLL_IDLE = 2.0  # the fastest idle pace Settings allows, to make the 60 s count


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:  # field 4 of /proc/PID/stat: the parent's pid
            found.add(int(stat.parent.name))
    return found


@pytest.mark.ui
def test_sixty_seconds_of_idle_polling_spawn_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config" / "lmstudio-tray"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(
        json.dumps({"schema_version": 2, "polling": {"idle_seconds": POLL_IDLE}})
    )
    log = tmp_path / "app.log"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    with log.open("w") as out:
        app = subprocess.Popen(
            [
                str(EXE),
                "--demo",
                "--log-level",
                "info",
                "--settings",
                str(config / "settings.json"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while "(2 loaded) [demo]" not in log.read_text():  # the demo loads two
            assert time.monotonic() < deadline, log.read_text()
            assert app.poll() is None, log.read_text()
            time.sleep(0.1)
        simulator = children(app.pid)
        assert len(simulator) == 1, simulator  # the demo's simulated LM Studio, nothing else
        requests_before = log.read_text().count("HTTP Request:")

        seen: set[int] = set()
        end = time.monotonic() + IDLE_SECONDS
        while time.monotonic() < end:
            seen |= children(app.pid)
            time.sleep(0.02)
        text = log.read_text()
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=15)

    assert seen == simulator, f"processes spawned while idle: {seen - simulator}"
    probes = re.findall(r"HTTP Request: (\w+) \S+?(/[\w/.-]+) ", text)
    idle = probes[len(probes) - (text.count("HTTP Request:") - requests_before) :]
    # The demo's second server (its Ollama) is watched too, once a minute: one GET of its
    # own list each time (docs/servers.md).
    idle_probes = [p for p in idle if p != ("GET", "/api/ps")]
    other_server = len(idle) - len(idle_probes)
    assert idle_probes, "no polling happened at all"
    # One cheap GET per poll, nothing else, at the idle pace.
    assert {p for p in idle_probes} == {("GET", "/api/v1/models")}
    expected = IDLE_SECONDS / POLL_IDLE
    assert expected * 0.7 <= len(idle_probes) <= expected * 1.2, len(idle_probes)
    assert other_server <= IDLE_SECONDS / OTHERS_IDLE_S + 1, other_server
    assert "lms" not in " ".join(line for line in text.splitlines() if "tray.services.lms" in line)
