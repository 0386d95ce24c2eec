"""Inputs the fuzzing in tests/reliability/test_fuzz_parsers.py found to crash a parser
with an untyped exception; each is pinned here so the normal suite keeps them fixed."""

from __future__ import annotations

import pytest

from tray.core.chat_events import UnknownChatEvent, parse_chat_event
from tray.core.errors import BadResponse, FileParseError
from tray.core.load_profiles import LoadProfile, merge_default_config, profile_from_fields
from tray.core.mcp_config import parse_mcp
from tray.core.mcp_lockdown import locked_bytes
from tray.core.settings import SCHEMA_VERSION, migrate


@pytest.mark.parametrize("data", ['{"type": []}', '{"type": {"a": 1}}'])
def test_chat_event_with_a_non_string_type(data: str) -> None:
    """Was TypeError (unhashable list) while picking the event model."""
    try:
        event = parse_chat_event("chat.start", data)
    except BadResponse:
        return
    assert isinstance(event, UnknownChatEvent)


@pytest.mark.parametrize("version", ["two", 1e400, -1, True, [1], {"v": 2}])
def test_settings_with_a_broken_schema_version(version: object) -> None:
    """Were ValueError / OverflowError / KeyError out of migrate(): the app did not start."""
    with pytest.raises(FileParseError, match="schema_version"):
        migrate({"schema_version": version})


@pytest.mark.parametrize("version", [None, 0, 1, 2, 2.0, "2", " 1 "])
def test_settings_schema_versions_that_still_migrate(version: object) -> None:
    assert migrate({"schema_version": version})["schema_version"] == SCHEMA_VERSION


def test_per_model_default_field_with_a_non_string_key() -> None:
    """Were TypeError (unhashable) reading or updating LM Studio's per-model defaults."""
    fields = [{"key": []}, {"key": {}}, {"key": "llm.load.contextLength", "value": 4096}]
    assert profile_from_fields(fields).context_length == 4096
    doc = merge_default_config({"load": {"fields": fields}}, LoadProfile(context_length=8192))
    assert doc["load"]["fields"][:2] == [{"key": []}, {"key": {}}]
    assert doc["load"]["fields"][2]["value"] == 8192


def test_lockdown_keeps_the_name_of_an_unnamed_array_entry() -> None:
    """The locked file of `[null, {"name": null}]` allowing "server 2" held a server that
    parsed as "server 1" (named by position): the lock record and the file disagreed."""
    doc = parse_mcp(b'[null, {"name": null, "command": "npx"}]')
    assert [s.name for s in doc.servers] == ["server 2"]
    locked = parse_mcp(locked_bytes(doc, ["server 2"]))
    assert [s.name for s in locked.servers] == ["server 2"]
