"""One tray per user: a second `lmstudio-tray` (or `--demo`) hands over to the running one
through the local channel, prints a sentence and exits 0 — no second icon, no second
simulator, no TCP socket; a crashed owner's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from process_facts import listening_tcp, wait_for  # tests/process_facts.py
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication
from screen import grab_screen  # tests/ui/screen.py

from tray.platform.single_instance import ask_running, claim, hand_over_text

EXE = Path(sys.executable).with_name("lmstudio-tray")


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line mentions `text` (the demo's simulator names its home)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and "tray.simulator" in cmdline:
            found.append(int(entry.name))
    return found


def test_the_channel_answers_a_second_start_and_the_lock_is_exclusive(
    qapp: QApplication, tmp_path: Path
) -> None:
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    owner = claim(folder)
    assert owner is not None
    assert claim(folder) is None  # a second claimant in the same session loses
    seen: list[dict[str, Any]] = []
    owner.serve(lambda request: seen.append(request) or {"demo": True, "shown": "menu"})
    replies: list[dict[str, Any] | None] = []
    asker = threading.Thread(
        target=lambda: replies.append(ask_running({"want": "show", "demo": False}, folder))
    )
    asker.start()
    deadline = time.monotonic() + 10
    while asker.is_alive() and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    asker.join(1)
    assert seen == [{"want": "show", "demo": False}]
    (reply,) = replies
    assert reply == {"pid": os.getpid(), "demo": True, "shown": "menu"}
    assert hand_over_text(reply, demo=False) == (
        f"The LM Studio Tray demo is already running (process {os.getpid()}): its menu is "
        "open at its icon in the tray. Quit it from its menu to start the tray for your "
        "LM Studio."
    )
    owner.close()
    assert ask_running({"want": "show"}, folder, timeout=1) is None  # nobody listens
    again = claim(folder)  # the lock was released
    assert again is not None
    again.close()


def test_what_a_second_start_says() -> None:
    assert "still starting" in hand_over_text(None, demo=False)
    mine = {"pid": 7, "demo": False, "shown": "notification"}
    assert hand_over_text(mine, demo=False) == (
        "LM Studio Tray is already running (process 7): it shows where it is in a notification."
    )
    assert hand_over_text(mine, demo=True).endswith("Quit it from its menu to start the demo.")


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    # TMPDIR: the demo's throw-away home (and so its simulator's command line) lands here.
    temp = tmp_path / "tmp"
    temp.mkdir()
    return {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TMPDIR": str(temp),
    }


@pytest.mark.ui
def test_a_second_start_hands_over_to_the_running_tray_and_leaves(
    qapp: QApplication,
    tmp_path: Path,
    demo_env: dict[str, str],
    publish_screenshot: Callable[..., Path],
) -> None:
    log = tmp_path / "first.log"
    with log.open("w") as out:
        first = subprocess.Popen(
            [str(EXE), "--demo", "--log-level", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=demo_env,
        )
    try:
        wait_for(lambda: "[demo]" in log.read_text(), 30, "the demo to run")
        simulators = _processes_mentioning(demo_env["TMPDIR"])
        assert len(simulators) == 1

        for args, sentence in (
            (["--demo"], "its menu is open at its icon in the tray."),
            ([], "Quit it from its menu to start the tray for your LM Studio."),
        ):
            second = subprocess.run(
                [str(EXE), *args], capture_output=True, text=True, env=demo_env, timeout=30
            )
            assert second.returncode == 0, second.stderr
            assert second.stdout.startswith(
                f"The LM Studio Tray demo is already running (process {first.pid})"
            )
            assert sentence in second.stdout
            assert "Traceback" not in second.stderr
            wait_for(
                lambda: "another start handed over to this tray: shown its menu" in log.read_text(),
                10,
                "the first tray to show its menu",
            )
            shot = tmp_path / "second-start-menu.png"
            grab_screen(shot)
            subprocess.run(["xdotool", "key", "Escape"], check=False)
        publish_screenshot(shot, docs=False)
        assert _processes_mentioning(demo_env["TMPDIR"]) == simulators  # no second one
        assert listening_tcp(first.pid) == set()  # the channel is local only
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0, log.read_text()


@pytest.mark.ui
def test_a_crashed_tray_does_not_keep_the_next_one_out(
    qapp: QApplication, tmp_path: Path, demo_env: dict[str, str]
) -> None:
    logs = [tmp_path / "crashed.log", tmp_path / "next.log"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for path in logs:
            with path.open("w") as out:
                procs.append(
                    subprocess.Popen(
                        [str(EXE), "--demo", "--log-level", "info"],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=demo_env,
                    )
                )
            wait_for(lambda p=path: "[demo]" in p.read_text(), 30, f"{path.stem} to run")
            if len(procs) == 1:
                procs[0].send_signal(signal.SIGKILL)  # its lock and socket stay behind
                procs[0].wait(timeout=10)
        assert "already running" not in logs[1].read_text()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)
        for pid in _processes_mentioning(demo_env["TMPDIR"]):  # the killed one's simulator
            os.kill(pid, signal.SIGTERM)


def _trays_with(env_value: str) -> list[int]:
    """`lmstudio-tray` processes whose environment holds `env_value` (our TMPDIR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        is_tray = any(part.endswith(b"lmstudio-tray") for part in cmdline) or (
            b"-m" in cmdline and b"tray" in cmdline
        )
        if is_tray and env_value.encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.mark.ui
def test_try_the_demo_hands_the_tray_over_to_the_demo(
    qapp: QApplication, tmp_path: Path, demo_env: dict[str, str]
) -> None:
    """ "Try the demo…" starts the demo and quits: the demo must not find the leaving tray
    still holding the lock and hand over to it (then nothing would run)."""
    log = tmp_path / "tray.log"
    env = {**demo_env, "PATH": "/usr/bin:/bin"}  # no LM Studio here: the item is offered
    with log.open("w") as out:
        first = subprocess.Popen(
            [str(EXE), "--log-level", "info"], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_for(lambda: "status: " in log.read_text(), 30, "the tray to run")
        reply = ask_running({"want": "show", "demo": False})  # opens its menu
        assert reply is not None and reply["shown"] == "menu"
        time.sleep(0.3)
        for key in ("Up", "Up", "Return"):  # from the bottom: Quit, then Try the demo…
            subprocess.run(["xdotool", "key", key], check=True)
            time.sleep(0.2)
        assert first.wait(timeout=20) == 0
        wait_for(lambda: "[demo]" in log.read_text(), 30, "the demo to run")
        (demo,) = _trays_with(demo_env["TMPDIR"])
        reply = ask_running({"want": "show", "demo": True})
        assert reply is not None and reply["pid"] == demo and reply["demo"] is True
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=15)
        for pid in _trays_with(demo_env["TMPDIR"]):
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _trays_with(demo_env["TMPDIR"]), 20, "the demo to quit")
