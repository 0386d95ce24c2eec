"""Start at login: the real XDG entry on Linux (written, parsed, launched by GLib, removed),
and the macOS plist and Windows Run value checked on their content."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.core.errors import FileWriteError
from tray.platform.autostart import (
    Autostart,
    LaunchAgentAutostart,
    WindowsRunAutostart,
    XdgAutostart,
    autostart_command,
    select_autostart,
)
from tray.platform.autostart.linux import exec_value
from tray.platform.autostart.macos import LABEL
from tray.platform.autostart.windows import RUN_KEY, VALUE_NAME, command_line

AWKWARD = ["two words", 'q"uote', "$HOME", "back\\slash", "50%", "tab\there", "semi;colon", "=eq"]


# --- Linux: XDG autostart -----------------------------------------------------------------


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def split_exec(value: str) -> list[str]:
    """Undo an Exec value as the Desktop Entry spec says: string escapes first, then the
    quoting rule, then `%%`. Fails on anything the spec does not allow."""
    unescaped, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            nxt = value[i + 1]
            unescaped.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[nxt])
            i += 2
            continue
        unescaped.append(c)
        i += 1
    text = "".join(unescaped)
    args: list[str] = []
    current: list[str] | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            if current is not None:
                args.append("".join(current))
            current = None
        elif c == '"':
            current = current if current is not None else []
            i += 1
            while text[i] != '"':
                if text[i] == "\\":
                    assert text[i + 1] in '"`$\\', f"bad escape in {text!r}"
                    i += 1
                else:
                    assert text[i] not in "`$", f"unescaped {text[i]!r} in quotes in {text!r}"
                current.append(text[i])
                i += 1
        else:
            assert c not in "\t\n\"'\\><~|&;$*?#()`", f"unquoted reserved {c!r} in {text!r}"
            current = current if current is not None else []
            current.append(c)
        i += 1
    if current is not None:
        args.append("".join(current))
    for arg in args:
        assert "%" not in arg.replace("%%", ""), f"a field code in {arg!r}"
    return [a.replace("%%", "%") for a in args]


def test_enable_writes_a_desktop_entry_that_parses(tmp_path: Path) -> None:
    autostart = XdgAutostart(tmp_path)
    assert not autostart.is_enabled()
    command = ["/opt/LM Studio Tray/bin/lmstudio-tray", *AWKWARD]
    autostart.enable(command)

    path = tmp_path / "autostart" / "lmstudio-tray.desktop"
    assert autostart.path == path and path.is_file()
    entry = read_entry(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "LM Studio Tray"
    assert entry["Comment"]
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Terminal"] == "false"
    assert entry["TryExec"] == command[0]
    assert entry["Icon"].endswith("running.svg") and Path(entry["Icon"]).is_file()
    assert split_exec(entry["Exec"]) == command
    assert autostart.is_enabled()
    assert str(path) in autostart.describe()


def test_enable_is_idempotent_and_disable_removes_the_entry(tmp_path: Path) -> None:
    autostart = XdgAutostart(tmp_path)
    autostart.enable(["/usr/bin/lmstudio-tray"])
    first = autostart.path.read_bytes()
    autostart.enable(["/usr/bin/lmstudio-tray"])
    assert autostart.path.read_bytes() == first
    assert [p.name for p in autostart.path.parent.iterdir()] == ["lmstudio-tray.desktop"]

    autostart.enable(["/usr/local/bin/lmstudio-tray", "--demo"])  # a new command replaces it
    assert split_exec(read_entry(autostart.path)["Exec"]) == [
        "/usr/local/bin/lmstudio-tray",
        "--demo",
    ]

    autostart.disable()
    assert not autostart.path.exists()
    assert not autostart.is_enabled()
    autostart.disable()  # nothing to do, no error
    assert list(autostart.path.parent.iterdir()) == []


def test_follows_xdg_config_home_when_not_given_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    XdgAutostart().enable(["/usr/bin/lmstudio-tray"])
    assert (tmp_path / "cfg" / "autostart" / "lmstudio-tray.desktop").is_file()
    # A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/cfg")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert XdgAutostart().path == tmp_path / "home" / ".config" / "autostart" / (
        "lmstudio-tray.desktop"
    )


def test_an_entry_switched_off_by_the_desktop_counts_as_disabled(tmp_path: Path) -> None:
    autostart = XdgAutostart(tmp_path)
    autostart.enable(["/usr/bin/lmstudio-tray"])
    text = autostart.path.read_text()
    autostart.path.write_text(text.replace("X-GNOME-Autostart-enabled=true", "Hidden=true"))
    assert not autostart.is_enabled()
    autostart.path.write_text(text.replace("=true", "=false"))
    assert not autostart.is_enabled()
    autostart.path.write_text("not a desktop file at all")
    assert not autostart.is_enabled()


def test_a_read_only_folder_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    """A real permission failure. Root ignores file modes, so as root the write runs in a
    child without the capabilities that override them."""
    folder = tmp_path / "autostart"
    folder.mkdir()
    folder.chmod(0o555)
    code = f"""
import sys
from pathlib import Path
from tray.core.errors import FileWriteError
from tray.platform.autostart import XdgAutostart
try:
    XdgAutostart(Path({str(tmp_path)!r})).enable(["/usr/bin/lmstudio-tray"])
except FileWriteError as e:
    print(e); sys.exit(3)
"""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE"
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    try:
        result = subprocess.run(
            [*prefix, sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Could not save" in result.stdout and "permission denied" in result.stdout
    assert list(folder.iterdir()) == []


def test_removing_an_entry_that_cannot_be_removed_says_what_to_do(tmp_path: Path) -> None:
    autostart = XdgAutostart(tmp_path)
    autostart.path.mkdir(parents=True)  # a folder where the file should be: unlink fails
    with pytest.raises(FileWriteError, match="Delete it by hand"):
        autostart.disable()


@pytest.mark.skipif(shutil.which("gio") is None, reason="needs GLib's `gio` (libglib2.0-bin)")
def test_glib_launches_the_entry_with_the_exact_arguments(tmp_path: Path) -> None:
    """GLib's launcher (what GNOME uses for autostart entries) reads our Exec line back."""
    out = tmp_path / "argv.fifo"
    os.mkfifo(out)  # reading it blocks until the launched program has written and closed it
    script = f"import json, sys; open({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))"
    autostart = XdgAutostart(tmp_path)
    autostart.enable([sys.executable, "-c", script, *AWKWARD])
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"}
    subprocess.run(["gio", "launch", str(autostart.path)], check=True, env=env, timeout=30)
    assert json.loads(out.read_text()) == AWKWARD


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r")),
        min_size=1,
        max_size=5,
    )
)
def test_exec_quoting_round_trips(command: list[str]) -> None:
    assert split_exec(exec_value(command)) == command


# --- macOS: LaunchAgent -------------------------------------------------------------------


def test_launch_agent_plist_content(tmp_path: Path) -> None:
    autostart = LaunchAgentAutostart(home=tmp_path)
    assert not autostart.is_enabled()
    command = ["/Applications/LM Studio Tray.app/Contents/MacOS/lmstudio-tray", *AWKWARD]
    autostart.enable(command)

    path = tmp_path / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    assert autostart.path == path
    agent = plistlib.loads(path.read_bytes())
    assert agent == {
        "Label": LABEL,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
        "KeepAlive": False,
    }
    assert LABEL.count(".") >= 2  # reverse-DNS, as launchd expects
    assert path.read_bytes().startswith(b"<?xml")
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert autostart.is_enabled()
    assert str(path) in autostart.describe()

    autostart.enable(command)
    autostart.disable()
    assert not path.exists() and not autostart.is_enabled()
    autostart.disable()


def test_a_launch_agent_marked_disabled_is_not_enabled(tmp_path: Path) -> None:
    autostart = LaunchAgentAutostart(home=tmp_path)
    autostart.enable(["/usr/local/bin/lmstudio-tray"])
    agent = plistlib.loads(autostart.path.read_bytes()) | {"Disabled": True}
    autostart.path.write_bytes(plistlib.dumps(agent))
    assert not autostart.is_enabled()
    autostart.path.write_bytes(b"garbage")
    assert not autostart.is_enabled()


# --- Windows: HKCU Run value (an in-memory registry) ---------------------------------------


class MemoryRegistry:
    """The RegistryLike interface over a dict, optionally failing like a locked-down key."""

    def __init__(self, *, fail: bool = False) -> None:
        self.values: dict[str, str] = {}
        self.fail = fail

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        if self.fail:
            raise PermissionError(13, "Access is denied")
        self.values[name] = value

    def delete(self, name: str) -> None:
        if self.fail:
            raise PermissionError(13, "Access is denied")
        self.values.pop(name, None)


def test_windows_run_value_is_a_quoted_command_line() -> None:
    registry = MemoryRegistry()
    autostart = WindowsRunAutostart(registry)
    assert not autostart.is_enabled()
    autostart.enable([r"C:\Users\Ann Lee\venv\Scripts\pythonw.exe", "-m", "tray"])
    assert registry.values == {VALUE_NAME: r'"C:\Users\Ann Lee\venv\Scripts\pythonw.exe" -m tray'}
    assert autostart.is_enabled()

    autostart.enable([r"C:\Tools\lmstudio-tray.exe", "two words", 'q"uote', "trail\\", ""])
    assert registry.values[VALUE_NAME] == (
        r'"C:\Tools\lmstudio-tray.exe" "two words" q\"uote trail\ ""'
    )
    assert RUN_KEY.startswith("Software\\Microsoft") and "CurrentVersion\\Run" in (
        autostart.describe()
    )

    autostart.disable()
    assert registry.values == {} and not autostart.is_enabled()
    autostart.disable()


def test_windows_program_path_is_quoted_even_without_spaces() -> None:
    assert command_line([r"C:\bin\lmstudio-tray.exe"]) == r'"C:\bin\lmstudio-tray.exe"'
    with pytest.raises(ValueError, match="double quote"):
        command_line(['C:\\a"b.exe'])


def test_a_registry_refusal_is_a_clear_error() -> None:
    autostart = WindowsRunAutostart(MemoryRegistry(fail=True))
    with pytest.raises(FileWriteError, match="programs Windows starts at login"):
        autostart.enable([r"C:\bin\lmstudio-tray.exe"])
    with pytest.raises(FileWriteError, match="Access is denied"):
        autostart.disable()


def test_the_real_registry_is_not_touched_off_windows() -> None:
    if sys.platform == "win32":
        pytest.skip("on Windows this would write the user's real registry")
    with pytest.raises(FileWriteError, match="only on Windows"):
        WindowsRunAutostart().enable(["x.exe"])


# --- choosing one, and the command ---------------------------------------------------------


def test_select_autostart_by_platform(tmp_path: Path) -> None:
    assert isinstance(select_autostart("linux"), XdgAutostart)
    assert isinstance(select_autostart("freebsd14"), XdgAutostart)
    assert isinstance(select_autostart("darwin"), LaunchAgentAutostart)
    assert isinstance(select_autostart("win32"), WindowsRunAutostart)
    for impl in (XdgAutostart(tmp_path), LaunchAgentAutostart(tmp_path)):
        assert isinstance(impl, Autostart)
    assert isinstance(WindowsRunAutostart(MemoryRegistry()), Autostart)


def test_autostart_command_prefers_the_entry_point_beside_the_interpreter(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.touch()
    elsewhere = str(tmp_path / "elsewhere" / "lmstudio-tray")

    # Nothing installed anywhere: run the package with this interpreter.
    assert autostart_command(executable=str(python), platform="linux", which=lambda _: None) == [
        str(python),
        "-m",
        "tray",
    ]
    # Only on PATH: that one.
    assert autostart_command(
        executable=str(python), platform="linux", which=lambda _: elsewhere
    ) == [elsewhere]
    # Beside the interpreter (same install) wins over PATH.
    entry = bin_dir / "lmstudio-tray"
    entry.touch(mode=0o755)
    assert autostart_command(
        executable=str(python), platform="linux", which=lambda _: elsewhere
    ) == [str(entry)]


def test_autostart_command_on_windows_avoids_a_console_window(tmp_path: Path) -> None:
    scripts = tmp_path / "Scripts"
    scripts.mkdir()
    python = scripts / "python.exe"
    python.touch()
    (scripts / "lmstudio-tray.exe").touch()
    assert autostart_command(executable=str(python), platform="win32", which=lambda _: None) == [
        str(scripts / "lmstudio-tray.exe")
    ]
    (scripts / "pythonw.exe").touch()
    assert autostart_command(executable=str(python), platform="win32", which=lambda _: None) == [
        str(scripts / "pythonw.exe"),
        "-m",
        "tray",
    ]


def test_the_running_install_has_a_command_that_exists() -> None:
    command = autostart_command()
    assert Path(command[0]).is_absolute() and Path(command[0]).exists()


def test_an_appimage_starts_from_its_own_file_not_its_mount_point(tmp_path: Path) -> None:
    appimage = tmp_path / "LM_Studio_Tray-x86_64.AppImage"
    appimage.touch(mode=0o755)
    mounted = tmp_path / ".mount_LMStud" / "usr" / "bin" / "lmstudio-tray"
    mounted.parent.mkdir(parents=True)
    mounted.touch(mode=0o755)

    def command(environ: dict[str, str], platform: str = "linux") -> list[str]:
        return autostart_command(
            executable=str(mounted), platform=platform, which=lambda _: None, environ=environ
        )

    assert command({"APPIMAGE": str(appimage)}) == [str(appimage)]
    assert command({}) == [str(mounted)]  # not an AppImage: the bundle's own executable
    assert command({"APPIMAGE": str(tmp_path / "gone.AppImage")}) == [str(mounted)]
