from __future__ import annotations

import json
from pathlib import Path

from tray.core.api import ModelList
from tray.core.inventory import build_inventory
from tray.core.lms_output import LmsResult, read_ps

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lmstudio"


def _models() -> ModelList:
    raw = (FIXTURES / "rest-v1-models-response.json").read_text()
    return ModelList.model_validate_json(raw)


def _ps(entries: list[dict[str, object]]) -> LmsResult:
    return LmsResult(command=("ps", "--json"), exit_code=0, stdout=json.dumps(entries) + "\n")


PS_GEMMA = {
    "type": "llm",
    "modelKey": "google/gemma-4-26b-a4b",
    "format": "gguf",
    "displayName": "Gemma 4 26B A4B",
    "publisher": "google",
    "path": "google/gemma-4/x.gguf",
    "sizeBytes": 17990911801,
    "identifier": "google/gemma-4-26b-a4b",
    "ttlMs": 600000,
    "lastUsedTime": 1760000000000,
    "vision": True,
    "trainedForToolUse": True,
    "maxContextLength": 262144,
    "contextLength": 4096,
    "status": "generating",
    "queued": 2,
    "parallel": 4,
}


def test_http_only_gives_rows_without_status() -> None:
    inv = build_inventory(_models().models)
    assert [r.identifier for r in inv.loaded] == ["google/gemma-4-26b-a4b"]
    row = inv.loaded[0]
    assert (row.context_length, row.max_context_length) == (4096, 262144)
    assert (row.status, row.queued, row.ttl_seconds) == (None, None, None)
    keys = [d.model_key for d in inv.downloaded]
    assert keys == [
        "google/gemma-4-26b-a4b",
        "deepseek-r1",
        "text-embedding-nomic-embed-text-v1.5-embedding",
    ]
    assert inv.downloaded[2].type == "embedding" and inv.downloaded[2].quantization == "F16"


def test_lms_ps_fills_status_queue_and_ttl() -> None:
    inv = build_inventory(_models().models, read_ps(_ps([PS_GEMMA])))
    row = inv.loaded[0]
    assert (row.status, row.queued, row.ttl_seconds) == ("generating", 2, 600.0)
    assert len(inv.loaded) == 1  # merged by identifier, not listed twice


def test_instances_only_lms_knows_are_kept() -> None:
    remote = {
        **PS_GEMMA,
        "identifier": "gemma-remote",
        "deviceIdentifier": "dev-1",
        "status": "idle",
        "queued": 0,
        "ttlMs": None,
    }
    inv = build_inventory(_models().models, read_ps(_ps([PS_GEMMA, remote])))
    assert [r.identifier for r in inv.loaded] == ["google/gemma-4-26b-a4b", "gemma-remote"]
    assert inv.loaded[1].status == "idle" and inv.loaded[1].ttl_seconds is None


def test_a_local_instance_only_a_stale_lms_ps_knows_is_gone() -> None:
    evicted = {**PS_GEMMA, "identifier": "evicted-since", "deviceIdentifier": None}
    inv = build_inventory(_models().models, read_ps(_ps([PS_GEMMA, evicted])))
    assert [r.identifier for r in inv.loaded] == ["google/gemma-4-26b-a4b"]
