"""Conversation state and the requests built from it, for both chat APIs."""

from __future__ import annotations

import json

from tray.core.chat_options import ChatOptions
from tray.core.conversation import Conversation, ModelChoice, model_note, order_models

OPTIONS = ChatOptions(
    source="Coding",
    system_prompt="Be brief.",
    temperature=0.2,
    top_k=40,
    top_p=0.9,
    min_p=0.05,
    repeat_penalty=1.1,
    max_tokens=256,
    stop=("###",),
    seed=7,
    reasoning="low",
)


def test_the_first_native_request_carries_the_options_and_no_previous_id() -> None:
    body = json.loads(Conversation().native_request("Hi?", "qwen", OPTIONS).to_body())
    assert body == {
        "model": "qwen",
        "input": "Hi?",
        "system_prompt": "Be brief.",
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "repeat_penalty": 1.1,
        "max_output_tokens": 256,
        "reasoning": "low",
    }


def test_a_native_follow_up_names_the_last_stored_response() -> None:
    conversation = Conversation()
    conversation.record("Hi?", "Hello.", "resp_a")
    conversation.record("And?", "Stopped hal", None)  # stopped: no new id
    body = json.loads(conversation.native_request("More", "qwen").to_body())
    assert body["previous_response_id"] == "resp_a"
    assert body["input"] == "More"


def test_the_openai_request_carries_the_history_and_its_own_fields() -> None:
    conversation = Conversation()
    conversation.record("Hi?", "Hello.", None)
    body = json.loads(conversation.openai_request("More", "qwen", OPTIONS).to_body())
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "More"},
    ]
    assert body["stop"] == ["###"] and body["seed"] == 7 and body["max_tokens"] == 256
    assert body["stream_options"] == {"include_usage": True}
    assert "min_p" not in body and "reasoning" not in body


def test_clear_forgets_everything() -> None:
    conversation = Conversation()
    conversation.record("Hi?", "Hello.", "resp_a")
    conversation.clear()
    assert conversation.empty and conversation.previous_response_id is None
    assert "previous_response_id" not in json.loads(conversation.native_request("x", "m").to_body())


def test_loaded_models_come_first_and_each_key_once() -> None:
    ordered = order_models(
        [
            ModelChoice(key="a"),
            ModelChoice(key="b", loaded=True),
            ModelChoice(key="a", loaded=True),
            ModelChoice(key="c"),
        ]
    )
    assert [(c.key, c.loaded) for c in ordered] == [("a", True), ("b", True), ("c", False)]


def test_a_not_loaded_model_says_it_will_be_loaded_and_how() -> None:
    assert model_note(ModelChoice(key="a", loaded=True)) == ""
    note = model_note(ModelChoice(key="big/model"), "load profile Fast, 8k context")
    assert note == (
        "big/model is not loaded: asking will load it first (load profile Fast, 8k context)."
    )
    assert "No model" in model_note(None)
