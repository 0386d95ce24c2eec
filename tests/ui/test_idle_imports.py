"""The idle import set (issue 20, docs/benchmarks.md): what the real tray has imported once
it has started and polled, checked against a list, so that a new eager import is caught in
review rather than found later in the memory benchmark.

The app runs as users run it (`python -m tray`, default settings, pointed at the simulator
with a fake `lms`) on the real X display with its tray host, and is asked over its local
channel which modules it holds. Three rules:

- the tray's own modules are exactly those in `idle_modules.txt` (beside this file): one
  more means something is now imported at start-up that was not — import it where it is
  first needed, or add it to the list with the reason in the commit;
- no third-party package outside the stack (PySide6, httpx, pydantic, keyring, qasync,
  watchfiles, platformdirs, httpx-sse and what they import);
- none of what idle must not hold: the history repository (dulwich), the keyring's
  backend (the Secret Service stack), the simulator outside the demo, windows never opened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from tray.platform.single_instance import WANT_MODULES, ask_running
from tray.simulator import Simulator

LIST = Path(__file__).with_name("idle_modules.txt")

# Top-level packages of the stack and of what they import (stdlib is not checked: it varies
# with the Python version).
STACK = {
    "PySide6", "shiboken6", "shibokensupport", "__feature__", "signature_bootstrap",
    "httpx", "httpcore", "h11", "h2", "hpack", "hyperframe", "anyio", "sniffio", "idna",
    "certifi", "httpx_sse",
    "pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection",
    "keyring", "jaraco", "importlib_metadata", "zipp", "more_itertools", "backports",
    "qasync", "watchfiles", "platformdirs", "exceptiongroup", "_distutils_hack",
    "lazy_importer", "_cffi_backend", "_openssl", "_brotli", "brotli", "zstandard",
}  # fmt: skip

# Never at idle, whatever the list says.
NEVER = (
    "dulwich",  # the history: when a version is written or the History window opens
    "secretstorage", "jeepney", "cryptography", "keyring.backends.SecretService",
    "tray.simulator",  # the demo's only
    "tray.ui.quick_chat_window", "tray.ui.markdown_view",  # built at the first hotkey
    "tray.ui.load_model_dialog", "tray.ui.mcp_audit_dialog", "tray.ui.server_options_dialog",
    "tray.ui.history_window", "tray.ui.settings_dialog", "tray.ui.tokens_dialog",
    "tray.ui.preset_dialog", "tray.ui.load_profiles_dialog", "tray.ui.scenes_window",
    "tray.ui.no_tray_window",  # there is a tray here
)  # fmt: skip


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(home / "runtime"),
    )
    env.pop("LM_API_TOKEN", None)
    return env


def idle_modules(tmp_path: Path) -> list[str]:
    """Start the tray, let it settle and poll twice, and ask for its modules."""
    home = tmp_path / "home"
    (home / "runtime").mkdir(parents=True, mode=0o700)
    settings = home / "settings.json"
    settings.write_text(json.dumps({"schema_version": 2}))
    with Simulator(tmp_path / "lmstudio") as sim:
        lms = sim.install_fake_lms()
        cmd = [sys.executable, "-m", "tray", "--server", sim.base_url]
        cmd += ["--settings", str(settings), "--home", str(sim.home), "--lms", str(lms)]
        proc = subprocess.Popen(
            cmd, env=_env(home), cwd=home, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            polls = 0
            while time.monotonic() < deadline and polls < 2:
                assert proc.poll() is None, "the tray ended"
                polls = sum(1 for m, p, _ in sim.state.requests if p == "/api/v1/models")
                time.sleep(0.1)
            assert polls >= 2, "the tray did not poll"
            time.sleep(1.0)  # what follows a poll (the menu's refresh) is done
            reply = ask_running({"want": WANT_MODULES}, folder=home / "runtime" / "lmstudio-tray")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    assert reply is not None and isinstance(reply.get("modules"), list), reply
    return [str(m) for m in reply["modules"]]


@pytest.mark.ui
def test_the_idle_tray_imports_what_the_list_says_and_nothing_it_must_not(
    qapp: QApplication, tmp_path: Path
) -> None:
    modules = idle_modules(tmp_path)
    assert "tray.ui.tray_app" in modules  # the app really started

    held = [m for m in modules if any(m == n or m.startswith(n + ".") for n in NEVER)]
    assert held == [], f"idle must not hold these: {held}"

    tops = {m.split(".")[0] for m in modules}
    foreign = sorted(tops - STACK - set(sys.stdlib_module_names) - {"tray", "__main__"})
    foreign = [t for t in foreign if not t.startswith("_")]  # C parts of stdlib modules
    assert foreign == [], f"packages outside the stack at idle: {foreign}"

    ours = {m for m in modules if m == "tray" or m.startswith("tray.")}
    listed = {line.strip() for line in LIST.read_text().splitlines()} - {""}
    listed = {m for m in listed if not m.startswith("#")}
    new = sorted(ours - listed)
    gone = sorted(listed - ours)
    assert not new, (
        f"imported at idle and not in {LIST.name}: {new} — import it where it is first "
        "needed, or add it to the list (and say why in the commit)"
    )
    assert not gone, f"in {LIST.name} but no longer imported at idle (remove them): {gone}"
