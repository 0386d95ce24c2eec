"""Issue 17, "false alarms to remove": each class with a real-world-like example and a
variant, and the case the rule must still catch (so every test can fail)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tray.core.mcp_audit import AuditReport, ExposureFacts, FileFacts, Finding, Severity, audit
from tray.core.mcp_audit.checks_scope import changes_things, tool_words
from tray.core.mcp_config import parse_mcp
from tray.core.secrets_scan import is_placeholder
from tray.services.known_packages import load_known_packages

SAFE = FileFacts(path="mcp.json", mode=0o600, owner_is_user=True, dir_mode=0o700, size=1)
LOCAL = ExposureFacts(network_interface="127.0.0.1", auth_required=True)


def _audit(servers: dict[str, Any]) -> AuditReport:
    doc = parse_mcp(json.dumps({"mcpServers": servers}))
    return audit(doc, SAFE, LOCAL, lmstudio_home="/home/u/.lmstudio", known=load_known_packages())


def _of(report: AuditReport, id_: str) -> list[Finding]:
    return [f for f in report.findings if f.id == id_]


# --- placeholders in any language and style ---------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "REMPLACEZ_PAR_VOTRE_CLE",  # French
        "ERSETZEN_DURCH_IHREN_TOKEN",  # German
        "TU_TOKEN_AQUI",  # Spanish
        "SEU_TOKEN_AQUI",  # Portuguese
        "<your key>",
        "xxxx",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
        "changeme",
        "[API_KEY]",
        "insert-your-key",
    ],
)
def test_placeholders_in_any_language_are_not_secrets(value: str) -> None:
    assert is_placeholder(value)
    report = _audit(
        {"svc": {"command": "node", "args": ["server.js"], "env": {"SERVICE_API_KEY": value}}}
    )
    assert not {f.id for f in report.findings} & {"S1", "S2", "S3", "S4", "S6"}
    assert _of(report, "S5"), "a literal placeholder still makes the server fail (S5 note)"


@pytest.mark.parametrize(
    "value", ["a8Kq2Lm9Zx3Rt7Vn4Bc6Wd1Pf5Gh0Js", "tuA8Kq2Lm9Zx3Rt7Vn", "hierZk4Qm8Rt2Lx6"]
)
def test_real_looking_values_stay_secrets(value: str) -> None:
    assert not is_placeholder(value)
    report = _audit({"svc": {"command": "node", "env": {"SERVICE_API_KEY": value}}})
    assert [f.severity for f in _of(report, "S2")] == [Severity.HIGH]


# --- a tutorial's default password to a local database ----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:postgres@localhost:5432/mydb",
        "mysql://root:password@127.0.0.1:3306/app",
        "mongodb://admin:admin@host.docker.internal:27017",
    ],
)
def test_tutorial_default_password_to_a_local_database_is_a_note(url: str) -> None:
    report = _audit(
        {"db": {"command": "npx", "args": ["-y", "some-db-mcp@1.0.0"], "env": {"DB_URL": url}}}
    )
    s4 = _of(report, "S4")
    assert [f.severity for f in s4] == [Severity.LOW]
    assert "default password" in s4[0].message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:Zk4Qm8Rt2Lx6Vn1B@localhost:5432/mydb",  # a real password
        "postgresql://postgres:postgres@db.example.com:5432/mydb",  # not this machine
    ],
)
def test_a_real_or_remote_database_password_stays_high(url: str) -> None:
    report = _audit({"db": {"command": "node", "args": ["s.js"], "env": {"DB_URL": url}}})
    assert [f.severity for f in _of(report, "S4")] == [Severity.HIGH]


# --- NODE_OPTIONS and PYTHONPATH ---------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        "--use-openssl-ca",
        "--use-system-ca --max-old-space-size=4096",
        "--enable-source-maps --no-warnings",
    ],
)
def test_node_options_that_only_tune_node_are_fine(options: str) -> None:
    report = _audit({"n": {"command": "node", "args": ["s.js"], "env": {"NODE_OPTIONS": options}}})
    assert not _of(report, "S8")


@pytest.mark.parametrize(
    "options",
    ["--require ./hook.js", "-r /tmp/x.js", "--import=./loader.mjs", "--use-openssl-ca -r x"],
)
def test_node_options_that_load_a_file_are_high(options: str) -> None:
    report = _audit({"n": {"command": "node", "args": ["s.js"], "env": {"NODE_OPTIONS": options}}})
    assert [f.severity for f in _of(report, "S8")] == [Severity.HIGH]


def test_unknown_node_options_still_warn() -> None:
    report = _audit(
        {"n": {"command": "node", "args": ["s.js"], "env": {"NODE_OPTIONS": "--inspect=0.0.0.0"}}}
    )
    assert [f.severity for f in _of(report, "S8")] == [Severity.MEDIUM]


@pytest.mark.parametrize(
    "server",
    [
        {
            "command": "python",
            "args": ["-m", "app"],
            "cwd": "/home/u/proj/backend",
            "env": {"PYTHONPATH": "/home/u/proj/backend"},
        },
        {
            "command": "python",
            "args": ["/home/u/proj/server.py"],
            "env": {"PYTHONPATH": "/home/u/proj/src:./lib"},
        },
        {
            "command": "python",
            "args": ["-m", "app"],
            "env": {"PYTHONPATH": "${workspaceFolder}/src"},
        },
    ],
)
def test_pythonpath_inside_the_project_is_fine(server: dict[str, Any]) -> None:
    assert not _of(_audit({"p": server}), "S8")


def test_pythonpath_outside_the_project_still_warns() -> None:
    server = {
        "command": "python",
        "args": ["-m", "app"],
        "cwd": "/home/u/proj",
        "env": {"PYTHONPATH": "/tmp/elsewhere"},
    }
    assert [f.severity for f in _of(_audit({"p": server}), "S8")] == [Severity.MEDIUM]


# --- shell switches are not folders -----------------------------------------------------


@pytest.mark.parametrize("switches", [["/c"], ["/s", "/c"], ["/d", "/k"], ["/v:on", "/c"]])
def test_cmd_switches_are_not_folders(switches: list[str]) -> None:
    args = [*switches, "npx", "-y", "@modelcontextprotocol/server-filesystem@1.0.0", "C:\\proj"]
    report = _audit({"fs": {"command": "cmd", "args": args}})
    shown = [f.message for f in _of(report, "P1")]
    assert not [m for m in shown if any(f"“{s}”" in m for s in switches)], shown
    assert any("C:\\proj" in m for m in shown)  # the real folder is still seen


# --- tool names as words; a query is not a change; read-only hints ----------------------


def test_tool_names_are_matched_as_words() -> None:
    assert tool_words("getOutput") == ["get", "output"]
    assert not changes_things("get_output")
    assert not changes_things("read_input")
    assert not changes_things("run_query")
    assert not changes_things("executeSearch")
    assert changes_things("put_object")
    assert changes_things("run_command")
    assert changes_things("delete-file")
    assert changes_things("*")


def test_auto_approved_read_tools_are_low() -> None:
    report = _audit(
        {
            "db": {
                "command": "node",
                "args": ["s.js"],
                "autoApprove": ["get_output", "read_input", "run_query", "list_tables"],
            }
        }
    )
    assert [f.severity for f in _of(report, "P3")] == [Severity.LOW]


def test_auto_approved_write_tool_is_high() -> None:
    report = _audit(
        {"db": {"command": "node", "args": ["s.js"], "autoApprove": ["run_query", "drop_table"]}}
    )
    p3 = _of(report, "P3")
    assert [f.severity for f in p3] == [Severity.HIGH] and "drop_table" in p3[0].message
    assert "run_query" not in p3[0].message


@pytest.mark.parametrize(
    "extra",
    [
        {"args": ["s.js", "--read-only"]},
        {"readOnly": True},
        {"env": {"POSTGRES_READ_ONLY": "true"}},
        {"tools": {"update_row": {"annotations": {"readOnlyHint": True}}}},
    ],
)
def test_read_only_hints_are_honoured(extra: dict[str, Any]) -> None:
    server = {"command": "node", "args": ["s.js"], "autoApprove": ["update_row"], **extra}
    assert [f.severity for f in _of(_audit({"db": server}), "P3")] == [Severity.LOW]


# --- a server's name alone never makes a finding high -----------------------------------


def test_a_name_alone_is_never_high() -> None:
    report = _audit({"my-shell": {"command": "node", "args": ["/home/u/proj/s.js"]}})
    p2 = _of(report, "P2")
    assert p2 and all(f.severity.rank <= Severity.MEDIUM.rank for f in p2)


def test_the_package_itself_still_makes_it_high() -> None:
    report = _audit(
        {"x": {"command": "npx", "args": ["-y", "@wonderwhy-er/desktop-commander@0.2.3"]}}
    )
    assert [f.severity for f in _of(report, "P2")] == [Severity.HIGH]
