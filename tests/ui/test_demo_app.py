"""End to end: the real `lmstudio-tray --demo` process on a real display with a real tray host.

It must start the simulator, show a running (green) icon in the tray, open its menu on a
real right-click, and on SIGTERM quit cleanly, stopping the simulator and removing the
throw-away demo home. While it runs, `lmstudio-tray --demo COMMAND` acts on it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from process_facts import wait_for  # tests/process_facts.py
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage
from screen import count_close, grab_screen, x11  # tests/ui/screen.py

from tray.core.status import ServerState
from tray.ui.icons import render_state_image

EXE = Path(sys.executable).with_name("lmstudio-tray")
TRAY_BAND = 40  # trayer sits at the top edge, 32 px high


def _green_box(image: QImage) -> QRect | None:
    """Where the running tile's green shows in the tray band, if anywhere."""
    green = render_state_image(ServerState.RUNNING, 32).pixelColor(6, 16)
    xs, ys = [], []
    for y in range(min(TRAY_BAND, image.height())):
        for x in range(image.width() - 300, image.width()):
            c = image.pixelColor(x, y)
            if (
                max(
                    abs(c.red() - green.red()),
                    abs(c.green() - green.green()),
                    abs(c.blue() - green.blue()),
                )
                <= 40
            ):
                xs.append(x)
                ys.append(y)
    if len(xs) < 20:
        return None
    return QRect(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


@pytest.mark.ui
def test_demo_app_shows_a_running_tray_opens_its_menu_and_quits_cleanly(
    qapp: object, tmp_path: Path, publish_screenshot: object
) -> None:
    # `qapp`: rendering the reference icon and reading screenshots need a QGuiApplication;
    # without one PySide6 crashes at interpreter exit.
    log = tmp_path / "app.log"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(EXE), "--demo", "--log-level", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for(lambda: "(2 loaded) [demo]" in log.read_text(), 30, "the demo to run")
        text = log.read_text()
        assert re.search(r"status: running http://127\.0\.0\.1:\d+ \(2 loaded\) \[demo\]", text)
        base_url = re.search(r"simulated LM Studio at (http://\S+)", text)
        home = re.search(r"\(home (\S+)\)", text)
        assert base_url and home
        assert Path(home.group(1)).is_dir()

        screen = tmp_path / "screen.png"
        box: list[QRect] = []
        wait_for(
            lambda: bool(box.append(_green_box(grab_screen(screen))) or box[-1]),
            15,
            "a green (running) icon in the tray",
        )
        icon = box[-1]

        centre = icon.center()
        x11("xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "3")
        # The menu opens below the panel: a large light area appears under the icon.
        below = QRect(max(0, icon.left() - 250), TRAY_BAND, 300, 120)
        white = QImage(1, 1, QImage.Format.Format_RGB32)
        white.fill(0xEFEFEF)
        wait_for(
            lambda: count_close(grab_screen(screen), below, white.pixelColor(0, 0), 24) > 3000,
            15,
            "the tray menu to open",
        )
        shot = tmp_path / "demo-app-menu.png"
        full = QImage(str(screen))
        whole_menu = QRect(icon.right() - 440, 0, 460, 520).intersected(full.rect())
        assert full.copy(whole_menu).save(str(shot))
        publish_screenshot(shot)  # type: ignore[operator]
        x11("xdotool", "key", "Escape")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, log.read_text()
    assert not Path(home.group(1)).exists()  # the throw-away demo home is gone
    host, port = base_url.group(1).removeprefix("http://").split(":")
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((host, int(port)), timeout=2),
    ):
        pass  # the simulator stopped with the app


def _command(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), "--demo", *argv], env=env, capture_output=True, text=True, timeout=90
    )


def _json_of(env: dict[str, str], *argv: str, code: int = 0) -> dict[str, object]:
    done = _command(env, *argv, "--json")
    assert done.returncode == code, done.stderr + done.stdout
    doc = json.loads(done.stdout)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.ui
def test_commands_with_demo_act_on_the_running_demo_and_say_when_there_is_none(
    qapp: object, tmp_path: Path
) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    none = _command(env, "models")
    assert none.returncode == 1
    assert "No demo is running; start one with `lmstudio-tray --demo`" in none.stderr
    assert "Traceback" not in none.stderr

    log = tmp_path / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(EXE), "--demo", "--log-level", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for(lambda: "(2 loaded) [demo]" in log.read_text(), 30, "the demo to run")
        models = _json_of(env, "models")
        loaded = {m["identifier"]: m for m in models["loaded"]}  # type: ignore[attr-defined]
        assert set(loaded) == {"qwen/qwen3-4b", "gemma-vision"}
        assert loaded["gemma-vision"]["context_length"] == 16384
        assert 0 < loaded["gemma-vision"]["ttl_remaining_seconds"] <= 1800
        kinds = {m["type"] for m in models["downloaded"]}  # type: ignore[attr-defined]
        assert kinds == {"llm", "embedding"} and len(models["downloaded"]) >= 6  # type: ignore[arg-type]

        presets = _json_of(env, "presets", "list")
        names = {p["name"] for p in presets["presets"]}  # type: ignore[attr-defined]
        assert {"Coding", "Concise", "Creative"} <= names

        audit = _json_of(env, "mcp", "audit", code=1)  # 1: findings at or above "high"
        codes = {f["id"] for f in audit["findings"]}  # type: ignore[attr-defined]
        assert {"S1", "C10", "P1", "C3"} <= codes, codes

        gpu = _json_of(env, "gpu")
        (device,) = gpu["devices"]  # type: ignore[misc]
        assert device["source"] == "simulated" and "demo" in device["name"].lower()
        assert 0 < device["used_bytes"] < device["total_bytes"]

        doctor = _command(env, "doctor")
        assert "GPU:             Simulated GPU (demo): " in doctor.stdout, doctor.stdout

        chat = _command(env, "chat", "Write a Python function that reverses a string")
        assert chat.returncode == 0, chat.stderr
        assert "def reverse_string(s: str) -> str:" in chat.stdout, chat.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, log.read_text()
    gone = _command(env, "gpu")
    assert gone.returncode == 1 and "No demo is running" in gone.stderr
