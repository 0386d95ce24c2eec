"""The static MCP audit over the assembled corpus (expected findings per file) and the 30
real-world configs (parse or a located error, no crash, spot-checked findings)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tray.core.mcp_audit import (
    AuditReport,
    ExposureFacts,
    FileFacts,
    Severity,
    audit,
    exit_code,
    render_text,
)
from tray.core.mcp_config import McpParseError, parse_mcp
from tray.services.known_packages import load_known_packages

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mcp"
ASSEMBLED = FIXTURES / "assembled"
HOME = "/home/u/.lmstudio"
SAFE = FileFacts(path="mcp.json", mode=0o600, owner_is_user=True, dir_mode=0o700, size=1)
LOCAL = ExposureFacts(network_interface="127.0.0.1", auth_required=True)

# the fake secrets in the assembled corpus: none may ever appear in any output
SECRET_VALUES = [
    "ghp_Q7wLm2Rk9Xz4Tn8Vb3Hc6Jd1Fs5Gp0Ya2Ke7",
    "a8Kq2Lm9Zx3Rt7Vn4Bc6Wd1Pf5Gh0Js",
    "sbp_4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e3b6d9f2a",
    "hf_kT3mQ9vX2pL7wR4zN8bC1dF6gH5jS0aY3uE",
    "Tr0ub4dor-3xKq9Lm",
    "Zk4Qm8Rt2Lx6Vn1Bc9Wd",
    "sk-proj-Zq8Rt3Lm6Wn1Xv4Bc7Kd2Pf5Gh9Js0Aa",
]


def _run(path: Path, exposure: ExposureFacts | None = LOCAL) -> AuditReport:
    data = path.read_bytes()
    try:
        doc, err = parse_mcp(data), None
    except McpParseError as exc:
        doc, err = None, exc
    facts = SAFE.model_copy(update={"path": path.name, "size": len(data)})
    return audit(
        doc, facts, exposure, lmstudio_home=HOME, parse_error=err, known=load_known_packages()
    )


def _corpus() -> list[Path]:
    return sorted(p for p in ASSEMBLED.iterdir() if ".expected." not in p.name)


def _expected(path: Path) -> dict:
    stem = path.name.rsplit(".", 1)[0]
    return json.loads((ASSEMBLED / f"{stem}.expected.json").read_text())


def _matches(f, want: dict) -> bool:
    return all((f.server if k == "server" else getattr(f, k)) == v for k, v in want.items())


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_assembled_corpus_gives_the_expected_findings(path: Path) -> None:
    expected = _expected(path)
    report = _run(path)
    if "parse_error" in expected:
        assert report.errors
        assert report.error_line == expected["parse_error"]["line"]
        assert report.error_column == expected["parse_error"]["column"]
        assert exit_code(report, Severity.CRITICAL) == 2
    else:
        assert not report.errors
        assert report.dialect is not None and report.dialect.value == expected["dialect"]
        assert report.servers == expected["servers"]
    for want in expected["must"]:
        assert any(_matches(f, want) for f in report.findings), (want, render_text(report))
    for banned in expected["must_not"]:
        hits = [f for f in report.findings if _matches(f, banned)]
        assert not hits, (banned, hits)


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_no_output_holds_a_secret(path: Path) -> None:
    report = _run(path)
    outputs = [
        render_text(report),
        report.model_dump_json(),
        json.dumps(report.model_dump(mode="json")),
    ]
    outputs += [f.message + f.fix for f in report.findings]
    for out in outputs:
        for secret in SECRET_VALUES:
            assert secret not in out
            assert secret[4:20] not in out  # not even a part of it


def test_secret_findings_say_kind_length_and_short_hash() -> None:
    report = _run(ASSEMBLED / "lmstudio-mixed.json")
    s1 = next(f for f in report.findings if f.id == "S1")
    assert "GitHub token" in s1.message
    assert re.search(r"\b40 characters, sha256 [0-9a-f]{8}\b", s1.message)
    assert s1.pointer == "/mcpServers/github/env/GITHUB_PERSONAL_ACCESS_TOKEN"
    assert s1.line == 6


def test_placeholders_and_references_are_never_secrets() -> None:
    for name in ("placeholders.json", "vscode-inputs.jsonc"):
        report = _run(ASSEMBLED / name)
        ids = {f.id for f in report.findings}
        assert not ids & {"S1", "S2", "S6"}, name
        # a reference passed as an argument or in a URL's query is an S3/S4 about where it
        # ends up once expanded (issue 17), never a secret itself: medium, says "reference"
        for f in report.findings:
            if f.id in {"S3", "S4"}:
                assert f.severity is Severity.MEDIUM and "secret reference" in f.message


def test_every_finding_has_a_location_and_a_fix() -> None:
    for path in _corpus():
        report = _run(path)
        for f in report.findings:
            assert f.message.endswith((".", ")")) and f.fix
            if f.server is not None:
                assert f.pointer.startswith(("/mcpServers/", "/servers/", "/mcp/servers/", "/"))
                assert f.line is not None, f


def test_world_writable_file_and_folder_are_high() -> None:
    doc = parse_mcp(b'{"mcpServers": {}}')
    loose = SAFE.model_copy(update={"mode": 0o666, "dir_mode": 0o777})
    report = audit(doc, loose, LOCAL, lmstudio_home=HOME)
    f3 = [f for f in report.findings if f.id == "F3"]
    assert len(f3) == 2 and all(f.severity is Severity.HIGH for f in f3)
    tight = audit(doc, SAFE, LOCAL, lmstudio_home=HOME)
    assert not [f for f in tight.findings if f.id == "F3"]


def test_windows_permissions_are_said_to_be_unchecked() -> None:
    doc = parse_mcp(b"{}")
    facts = FileFacts(path="mcp.json", mode=None, owner_is_user=None, dir_mode=None)
    report = audit(doc, facts, LOCAL, lmstudio_home=HOME)
    f3 = [f for f in report.findings if f.id == "F3"]
    assert len(f3) == 1 and f3[0].severity is Severity.INFO and "not checked" in f3[0].message


def test_lmstudio_exposure() -> None:
    doc = parse_mcp(b'{"mcpServers": {}}')
    lan_open = audit(
        doc,
        SAFE,
        ExposureFacts(network_interface="0.0.0.0", auth_required=False),
        lmstudio_home=HOME,
    )
    l3 = [f for f in lan_open.findings if f.id == "L3"]
    assert l3 and l3[0].severity is Severity.HIGH
    unknown = audit(doc, SAFE, None, lmstudio_home=HOME)
    # issue 17: what the tray cannot read is one note, not four on every file
    (note,) = [f for f in unknown.findings if f.id.startswith("L")]
    assert note.id == "L1" and note.severity is Severity.INFO
    for switch, id_ in (
        ("Allow per-request MCPs", "L1"),
        ("Allow calling servers from mcp.json", "L2"),
        ("Require Authentication", "L3"),
        ("Add to LM Studio", "L5"),
    ):
        assert switch in note.message and f"({id_}" in note.message
        assert switch in note.fix or id_ == "L5"
    assert "Developer tab → Server Settings" in note.fix
    # authentication known: not in the note
    known = audit(doc, SAFE, LOCAL, lmstudio_home=HOME)
    (note,) = [f for f in known.findings if f.id.startswith("L")]
    assert "Require Authentication" not in note.message + note.fix


def test_exit_code_follows_the_threshold_not_the_output_format() -> None:
    report = _run(ASSEMBLED / "remote-hosts.json")  # highest: high
    assert exit_code(report, Severity.CRITICAL) == 0
    assert exit_code(report, Severity.HIGH) == 1
    assert Severity.parse("HIGH") is Severity.HIGH
    with pytest.raises(ValueError, match="critical"):
        Severity.parse("severe")
    assert Severity.CRITICAL.rank > Severity.HIGH.rank > Severity.INFO.rank


def test_missing_file_is_not_an_error() -> None:
    facts = FileFacts(path="mcp.json", exists=False)
    report = audit(None, facts, LOCAL, lmstudio_home=HOME)
    assert not report.errors and not report.exists
    assert exit_code(report, Severity.LOW) == 0


def test_toxic_flow_needs_both_sides() -> None:
    both = parse_mcp(
        json.dumps(
            {
                "mcpServers": {
                    "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]},
                    "gmail": {"command": "npx", "args": ["-y", "@example/gmail-mcp@1.0.0"]},
                }
            }
        )
    )
    assert any(f.id == "P6" for f in audit(both, SAFE, LOCAL, lmstudio_home=HOME).findings)
    one = parse_mcp(
        json.dumps(
            {
                "mcpServers": {
                    "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]},
                }
            }
        )
    )
    assert not any(f.id == "P6" for f in audit(one, SAFE, LOCAL, lmstudio_home=HOME).findings)


# --- the 30 real-world configs ---------------------------------------------------------

REAL = sorted(FIXTURES.glob("*.json"))


def test_the_real_world_corpus_is_there() -> None:
    assert len(REAL) == 30


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_world_configs_parse_and_audit(path: Path) -> None:
    report = _run(path)
    assert not report.errors, report.errors
    assert report.servers
    render_text(report)


def _ids(name: str) -> set[tuple[str, str | None]]:
    return {(f.id, f.server) for f in _run(FIXTURES / name).findings}


def test_real_world_spot_checks() -> None:
    # CHECKS.md C3: `uvx pkg@latest` floats
    assert ("C3", "kubernets-mcp-server") in _ids("017-amazonq-uvx-latest.json")
    # C8: cargo run builds at launch
    assert ("C8", "mcp-rust-docs") in _ids("005-vscode-cargo-run.json")
    # S7: an access-token input without password: true
    assert ("S7", None) in _ids("012-vscode-freee-inputs-no-password.json")
    # F1: JSONC comment
    assert ("F1", None) in _ids("042-vscode-jsonc-comment-latest.json")
    # C9: uvicorn on 0.0.0.0; S5 not S2 for `your_…_here`; PYTHONPATH is the server's own
    # cwd (the project), so it is not an S8 (issue 17: a PYTHONPATH inside the project is fine)
    ids = _ids("045-claude-desktop-uvicorn-0000-extra-keys.json")
    assert {("C9", "nexus-core"), ("S5", "nexus-core")} <= ids
    assert ("S2", "nexus-core") not in ids
    assert ("S8", "nexus-core") not in ids
    # live-looking secrets in env are reported (fakes of the same shape)
    ids = _ids("043-cursor-live-secrets-whop-pipedream.json")
    assert ("S2", "whop") in ids and ("S2", "pipedream") in ids
    # R4 + R6: SSE on railway without credentials
    ids = _ids("034-vscode-sse-third-party-hosting.json")
    assert {("R4", "fetch"), ("R6", "fetch")} <= ids
    # C2: bash running a script
    assert ("C2", "netbox") in _ids("050-cursor-bash-wrapper-envfile.json")
    # C12: docker MCP gateway; mcp-remote bridge
    assert ("C12", "docker-gateway") in _ids("028-cursor-docker-gateway-playwright-latest.json")
    assert ("C12", "AdaptivMCP") in _ids("053-claude-desktop-mcp-remote-placeholder.json")
    # a placeholder URL is not a remote host
    assert ("R3", "AdaptivMCP") not in _ids("053-claude-desktop-mcp-remote-placeholder.json")
    # ${VAR} references are not secrets
    ids = _ids("026-claude-desktop-security-suite-envrefs.json")
    assert not {i for i, _ in ids} & {"S1", "S2", "S3", "S4"}


@pytest.mark.parametrize(
    ("interface", "auth", "said"),
    [
        ("0.0.0.0", False, "any device on your network could do this"),
        ("0.0.0.0", True, "only devices and programs holding a token could do this"),
        ("127.0.0.1", False, "any program running on this machine could do this"),
        ("127.0.0.1", True, "only programs on this machine that hold a token could do this"),
        ("127.0.0.1", None, "only programs running on this machine could do this"),
        (None, None, "if it does, any device on your network could do this"),
    ],
)
def test_per_request_mcps_say_who_could_use_them_in_plain_words(
    interface: str | None, auth: bool | None, said: str
) -> None:
    """Not "serves on this machine only, so the risk is HIGH": who could do it."""
    doc = parse_mcp(b'{"mcpServers": {}}')
    exposure = ExposureFacts(network_interface=interface, auth_required=auth)
    (l1,) = [f for f in audit(doc, SAFE, exposure, lmstudio_home=HOME).findings if f.id == "L1"]
    assert said in l1.message
    assert "risk is" not in l1.message and "HIGH" not in l1.message


def _sev(name: str) -> set[tuple[str, str | None, str]]:
    return {(f.id, f.server, f.severity.value) for f in _run(FIXTURES / name).findings}


def test_real_world_spot_checks_after_issue_17() -> None:
    """The corpus changes issue 17 made, each for its rule."""
    # C3 follows trust: the vendor's scope / a well-known package is low, an unknown one
    # medium (no longer high just because `npx -y` fetches an unscoped name)
    got = _sev("043-cursor-live-secrets-whop-pipedream.json")
    assert ("C3", "pipedream", "low") in got and ("C3", "whop", "medium") in got
    assert ("C3", "atlassian", "low") in _sev("029-amazonq-mcp-remote-atlassian.json")
    # C5: an official-looking package the list does not know
    assert ("C5", "n3-empire-filesystem", "high") in _sev(
        "052-claude-desktop-suspicious-fs-package.json"
    )
    # the server *name* "kubernets-…" is a typo, the package name is right: no C5
    assert not [f for f in _sev("017-amazonq-uvx-latest.json") if f[0] == "C5"]
    # a relative PYTHONPATH inside the server's cwd is the project's own
    assert not [f for f in _sev("059-claude-code-venv-python-cwd.json") if f[:2] == ("S8", "tools")]
    # one L note per file, not four
    for path in REAL:
        assert [f.id for f in _run(path).findings if f.id.startswith("L")] == ["L1"], path.name
