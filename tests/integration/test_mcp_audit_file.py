"""`audit_file` on real files with real permissions, a symlink, a BOM, an empty file, a
broken file, and LM Studio's real http-server-config.json."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tray.core.mcp_audit import Severity, exit_code
from tray.services.mcp_audit import audit_file, file_facts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")

GOOD = b'{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time==0.6.2"]}}}'


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / ".lmstudio"
    (home / ".internal").mkdir(parents=True)
    home.chmod(0o700)
    return home


def _write(path: Path, data: bytes, mode: int) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _f3(report) -> list:
    return [f for f in report.findings if f.id == "F3"]


async def test_world_writable_file_is_high(home: Path) -> None:
    path = _write(home / "mcp.json", GOOD, 0o666)
    report, doc = await audit_file(path, lmstudio_home=home, server_auth=True)
    assert doc is not None and doc.servers[0].name == "time"
    f3 = _f3(report)
    assert [f.severity for f in f3] == [Severity.HIGH]
    assert "666" in f3[0].message
    assert exit_code(report, Severity.HIGH) == 1


async def test_private_file_has_no_permission_finding(home: Path) -> None:
    path = _write(home / "mcp.json", GOOD, 0o600)
    report, _ = await audit_file(path, lmstudio_home=home, server_auth=True)
    assert _f3(report) == []
    facts = file_facts(path)
    assert facts.mode == 0o600 and facts.owner_is_user is True and facts.dir_mode == 0o700


async def test_group_writable_folder_is_reported(home: Path) -> None:
    path = _write(home / "mcp.json", GOOD, 0o600)
    os.chmod(home, 0o770)
    try:
        report, _ = await audit_file(path, lmstudio_home=home, server_auth=True)
    finally:
        os.chmod(home, 0o700)
    assert [f.severity for f in _f3(report)] == [Severity.MEDIUM]


async def test_readable_by_others_with_a_secret(home: Path) -> None:
    data = json.dumps(
        {
            "mcpServers": {
                "gh": {
                    "command": "x",
                    "env": {"GITHUB_TOKEN": "ghp_" + "Q7wLm2Rk9Xz4Tn8Vb3Hc6Jd1Fs5Gp0Ya2Ke7"},
                }
            }
        }
    ).encode()
    path = _write(home / "mcp.json", data, 0o644)
    report, _ = await audit_file(path, lmstudio_home=home, server_auth=True)
    assert [f.severity for f in _f3(report)] == [Severity.MEDIUM]
    assert any(f.id == "S1" for f in report.findings)


async def test_symlink_is_reported(home: Path, tmp_path: Path) -> None:
    target = _write(tmp_path / "elsewhere.json", GOOD, 0o600)
    link = home / "mcp.json"
    link.symlink_to(target)
    report, doc = await audit_file(link, lmstudio_home=home, server_auth=True)
    assert doc is not None
    assert any(f.id == "F3" and "symbolic link" in f.message for f in report.findings)
    assert file_facts(link).is_symlink


async def test_dangling_symlink_is_a_missing_file(home: Path, tmp_path: Path) -> None:
    link = home / "mcp.json"
    link.symlink_to(tmp_path / "gone.json")
    report, doc = await audit_file(link, lmstudio_home=home, server_auth=True)
    assert doc is None and not report.exists and not report.errors


async def test_bom_and_empty(home: Path) -> None:
    path = _write(home / "mcp.json", b"\xef\xbb\xbf" + GOOD, 0o600)
    report, doc = await audit_file(path, lmstudio_home=home, server_auth=True)
    assert doc is not None and doc.had_bom
    assert any(f.id == "F1" and "byte-order mark" in f.message for f in report.findings)
    _write(path, b"", 0o600)
    report, doc = await audit_file(path, lmstudio_home=home, server_auth=True)
    # issue 17: an empty file is not JSON (LM Studio cannot read it): a parse error
    assert doc is None and report.dialect is None
    assert report.errors and (report.error_line, report.error_column) == (1, 1)


async def test_broken_file_is_reported_not_raised_and_left_alone(home: Path) -> None:
    data = b'{\n  "mcpServers": {\n    "a": {"command": "x",}\n    "b": {}\n  }\n}\n'
    path = _write(home / "mcp.json", data, 0o600)
    before = os.stat(path)
    report, doc = await audit_file(path, lmstudio_home=home, server_auth=None)
    assert doc is None
    assert report.errors and (report.error_line, report.error_column) == (4, 5)
    assert "line 4, column 5" in report.errors[0]
    assert exit_code(report, Severity.CRITICAL) == 2
    assert path.read_bytes() == data and os.stat(path).st_mtime_ns == before.st_mtime_ns


async def test_missing_file(home: Path) -> None:
    report, doc = await audit_file(home / "mcp.json", lmstudio_home=home, server_auth=None)
    assert doc is None and not report.exists and report.errors == []


async def test_lan_serving_without_auth_from_the_real_settings_file(home: Path) -> None:
    (home / ".internal" / "http-server-config.json").write_text(
        json.dumps({"port": 1234, "networkInterface": "0.0.0.0", "cors": False})
    )
    path = _write(home / "mcp.json", GOOD, 0o600)
    report, _ = await audit_file(path, lmstudio_home=home, server_auth=False)
    l3 = [f for f in report.findings if f.id == "L3"]
    assert l3 and l3[0].severity is Severity.HIGH
    # unknown auth on loopback: say where to check, nothing worse
    (home / ".internal" / "http-server-config.json").write_text('{"networkInterface": "127.0.0.1"}')
    report, _ = await audit_file(path, lmstudio_home=home, server_auth=None)
    # (since issue 17 that is part of the one L1 note about what the tray cannot read)
    assert not [f for f in report.findings if f.id == "L3"]
    notes = [f for f in report.findings if f.id.startswith("L")]
    assert [(f.id, f.severity) for f in notes] == [("L1", Severity.INFO)]
    assert "Require Authentication" in notes[0].message
    assert "Developer tab → Server Settings" in notes[0].fix


async def test_a_broken_settings_file_does_not_stop_the_audit(home: Path) -> None:
    (home / ".internal" / "http-server-config.json").write_text("{not json")
    path = _write(home / "mcp.json", GOOD, 0o600)
    report, doc = await audit_file(path, lmstudio_home=home, server_auth=None)
    assert doc is not None and not report.errors
