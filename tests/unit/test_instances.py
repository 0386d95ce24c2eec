"""The "never load twice" rule (core/instances.py): which live instance a load or a
question would duplicate."""

from __future__ import annotations

import pytest

from tray.core.api import ModelList
from tray.core.errors import IdentifierInUse
from tray.core.instances import (
    LiveInstance,
    instance_for_load,
    instance_for_use,
    instances_from_models,
    instances_from_ps,
)
from tray.core.lms_output import LmsLoadedModel
from tray.core.restore import LoadedResult, load_outcome_text

GEMMA = LiveInstance(model_key="google/gemma-3-12b", identifier="google/gemma-3-12b")
CODER = LiveInstance(model_key="qwen/qwen3-coder", identifier="coder", context_length=32768)
LIVE = [GEMMA, CODER]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("google/gemma-3-12b", GEMMA),  # a key that is also the identifier
        ("qwen/qwen3-coder", CODER),  # a key loaded under another identifier
        ("coder", CODER),  # an identifier
        ("qwen/qwen3-4b", None),  # not loaded
    ],
)
def test_a_question_uses_any_instance_of_the_model(
    name: str, expected: LiveInstance | None
) -> None:
    assert instance_for_use(LIVE, name) == expected


@pytest.mark.parametrize(
    ("key", "identifier", "expected"),
    [
        ("google/gemma-3-12b", None, GEMMA),  # loaded: not again
        ("qwen/qwen3-coder", None, CODER),  # loaded under its own identifier: not again
        ("qwen/qwen3-coder", "coder", CODER),  # key and identifier match
        ("qwen/qwen3-coder", "coder-2", None),  # a second copy under its own identifier
        ("qwen/qwen3-4b", None, None),  # not loaded
    ],
)
def test_a_load_matches_key_and_identifier(
    key: str, identifier: str | None, expected: LiveInstance | None
) -> None:
    assert instance_for_load(LIVE, key, identifier) == expected


def test_an_identifier_held_by_another_model_is_a_conflict() -> None:
    with pytest.raises(IdentifierInUse) as caught:
        instance_for_load(LIVE, "qwen/qwen3-4b", "coder")
    assert "qwen/qwen3-coder" in caught.value.message
    assert "another identifier" in caught.value.message


def test_live_lists_from_the_http_api_and_from_lms_ps() -> None:
    models = ModelList.model_validate(
        {
            "models": [
                {
                    "key": "qwen/qwen3-coder",
                    "size_bytes": 100,
                    "loaded_instances": [
                        {"id": "coder", "config": {"context_length": 32768}},
                        {"id": "qwen/qwen3-coder:2", "config": {}},
                    ],
                },
                {"key": "google/gemma-3-12b", "loaded_instances": []},
            ]
        }
    ).models
    assert [
        (i.model_key, i.identifier, i.context_length) for i in instances_from_models(models)
    ] == [
        ("qwen/qwen3-coder", "coder", 32768),
        ("qwen/qwen3-coder", "qwen/qwen3-coder:2", None),
    ]
    ps = [
        LmsLoadedModel.model_validate(
            {
                "type": "llm",
                "modelKey": "qwen/qwen3-coder",
                "path": "q/c.gguf",
                "sizeBytes": 7,
                "identifier": "coder",
                "contextLength": 4096,
                "status": "idle",
                "queued": 0,
            }
        )
    ]
    assert instances_from_ps(ps) == [
        LiveInstance(
            model_key="qwen/qwen3-coder", identifier="coder", context_length=4096, size_bytes=7
        )
    ]


def test_the_result_of_a_load_that_found_the_model_says_so() -> None:
    result = LoadedResult.existing(CODER)
    assert result.already_loaded and result.via is None
    text = load_outcome_text(result)
    assert "already loaded as “coder” with 32,768 tokens of context" in text
    assert "not loaded again" in text
