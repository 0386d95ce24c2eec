"""Issue 17: C3's severity follows trust, and C5 (impersonation, typosquats) against the
bundled list of well-known MCP packages — offline."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tray.core.mcp_audit import ExposureFacts, FileFacts, Finding, Severity, audit
from tray.core.mcp_audit.known_packages import (
    KnownPackages,
    Trust,
    edit_distance,
    imitates,
    package_name,
    trust_of,
)
from tray.core.mcp_config import parse_mcp
from tray.services.known_packages import load_known_packages

SAFE = FileFacts(path="mcp.json", mode=0o600, owner_is_user=True, dir_mode=0o700, size=1)
LOCAL = ExposureFacts(network_interface="127.0.0.1", auth_required=True)
ROOT = Path(__file__).resolve().parents[2]


def _findings(args: list[str], command: str = "npx", id_: str | None = None) -> list[Finding]:
    doc = parse_mcp(json.dumps({"mcpServers": {"s": {"command": command, "args": args}}}))
    report = audit(doc, SAFE, LOCAL, lmstudio_home="/h/.lmstudio", known=load_known_packages())
    return [f for f in report.findings if id_ is None or f.id == id_]


def test_the_bundled_list_is_there_with_its_date() -> None:
    known = load_known_packages()
    assert known is not None
    assert known.date[:2] == "20" and len(known.date) == 10
    assert "@modelcontextprotocol/server-filesystem" in known.npm
    assert "mcp-server-fetch" in known.pypi
    assert "@modelcontextprotocol" in known.npm_official_scopes


def test_package_names_and_distance() -> None:
    assert package_name("@scope/pkg@1.2.3", python=False) == "@scope/pkg"
    assert package_name("pkg@latest", python=False) == "pkg"
    assert package_name("pkg[cli]==1.0", python=True) == "pkg"
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("abc", "abc") == 0


@pytest.mark.parametrize(
    ("spec", "python", "like"),
    [
        (
            "@modelcontextprotcol/server-filesystem",
            False,
            "@modelcontextprotocol/server-filesystem",
        ),
        ("@evil/server-filesystem", False, "@modelcontextprotocol/server-filesystem"),
        ("server-filesystem", False, "@modelcontextprotocol/server-filesystem"),
        ("mcp-remot", False, "mcp-remote"),
        ("context7-mcp", False, "@upstash/context7-mcp"),
        ("@anthropic-ai/mcp-filesystem-server", False, "@modelcontextprotocol/server-filesystem"),
        ("mcp-server-fetc", True, "mcp-server-fetch"),
        ("kubernets-mcp-server", True, "kubernetes-mcp-server"),
    ],
)
def test_lookalikes_are_high(spec: str, python: bool, like: str) -> None:
    known = load_known_packages()
    assert imitates(package_name(spec, python=python), known, python=python) == like
    c5 = _findings([spec] if python else ["-y", spec], "uvx" if python else "npx", "C5")
    assert [f.severity for f in c5] == [Severity.HIGH]
    assert like in c5[0].message and known is not None and known.date in c5[0].message


@pytest.mark.parametrize(
    ("spec", "python"),
    [
        ("@modelcontextprotocol/server-filesystem@2025.8.21", False),
        ("@playwright/mcp@0.0.41", False),
        ("mcp-remote@0.1.29", False),
        ("some-unrelated-thing@1.0.0", False),
        ("mcp-server-fetch==2025.4.7", True),
        ("my-own-tool==1.0", True),
    ],
)
def test_the_real_ones_and_unrelated_ones_are_not_lookalikes(spec: str, python: bool) -> None:
    assert not _findings([spec] if python else ["-y", spec], "uvx" if python else "npx", "C5")


def test_unpinned_severity_follows_trust_not_scope() -> None:
    official = _findings(["-y", "@modelcontextprotocol/server-memory"], id_="C3")
    known = _findings(["-y", "mcp-remote", "https://x.example.com/mcp"], id_="C3")
    unknown_scoped = _findings(["-y", "@someone/some-mcp"], id_="C3")
    unknown_bare = _findings(["-y", "some-mcp"], id_="C3")
    assert [f.severity for f in official] == [Severity.LOW]
    assert "vendor's own npm scope" in official[0].message
    assert [f.severity for f in known] == [Severity.LOW]
    # before issue 17 a bare `npx -y pkg` was high and a scoped one medium
    assert [f.severity for f in unknown_scoped] == [Severity.MEDIUM]
    assert [f.severity for f in unknown_bare] == [Severity.MEDIUM]


def test_without_the_list_nothing_is_trusted_and_c5_is_off() -> None:
    doc = parse_mcp(json.dumps({"mcpServers": {"s": {"command": "npx", "args": ["mcp-remot"]}}}))
    report = audit(doc, SAFE, LOCAL, lmstudio_home=None)
    assert not [f for f in report.findings if f.id == "C5"]
    assert trust_of("@modelcontextprotocol/x", None, python=False) is Trust.UNKNOWN


def test_list_parsing_rejects_what_is_not_the_list() -> None:
    with pytest.raises(ValueError, match="date"):
        KnownPackages.from_json('{"npm": []}')
    k = KnownPackages.from_json('{"date": "2026-01-01", "pypi": ["Mcp_Server.Fetch"]}')
    assert trust_of("mcp-server-fetch", k, python=True) is Trust.KNOWN


def test_the_real_world_suspicious_fs_package_is_caught() -> None:
    path = ROOT / "tests" / "fixtures" / "mcp" / "052-claude-desktop-suspicious-fs-package.json"
    doc = parse_mcp(path.read_bytes())
    report = audit(doc, SAFE, LOCAL, lmstudio_home=None, known=load_known_packages())
    c5 = [f for f in report.findings if f.id == "C5"]
    assert [(f.server, f.severity) for f in c5] == [("n3-empire-filesystem", Severity.HIGH)]


def _script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "refresh_known", ROOT / "scripts" / "refresh_known_mcp_packages.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["refresh_known"] = module
    spec.loader.exec_module(module)
    return module


def test_the_refresh_script_drops_missing_names_and_dates_the_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    data = {"date": "2000-01-01", "npm": ["gone", "kept"], "pypi": ["here"]}
    target = tmp_path / "known.json"
    target.write_text(json.dumps(data))
    monkeypatch.setattr(script, "LIST", target)
    monkeypatch.setattr(script, "npm_exists", lambda n: n != "gone")
    monkeypatch.setattr(script, "pypi_exists", lambda n: True)
    assert script.main(["--add", "pypi:new-one"]) == 0
    out = json.loads(target.read_text())
    assert out["npm"] == ["kept"] and out["pypi"] == ["here", "new-one"]
    assert out["date"] != "2000-01-01"
