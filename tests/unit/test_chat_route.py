"""Which chat API a question goes to: the native one unless the options need stop strings
or a seed (which only the OpenAI-compatible API takes), and what is not applied is said."""

from __future__ import annotations

import pytest

from tray.core.chat_options import ChatOptions
from tray.core.chat_route import choose_route
from tray.core.conversation import Conversation


@pytest.mark.parametrize(
    "options",
    [None, ChatOptions(), ChatOptions(temperature=0.2, min_p=0.05, reasoning="off")],
)
def test_native_when_nothing_needs_the_openai_api(options: ChatOptions | None) -> None:
    route = choose_route(options, native_available=True)
    assert (route.api, route.not_applied, route.notice) == ("native", (), "")


@pytest.mark.parametrize(
    "options", [ChatOptions(stop=("###",)), ChatOptions(seed=7), ChatOptions(seed=0)]
)
def test_stop_strings_or_a_seed_take_the_openai_api(options: ChatOptions) -> None:
    route = choose_route(options, native_available=True)
    assert (route.api, route.not_applied, route.notice) == ("openai", (), "")


def test_what_the_openai_api_lacks_is_named() -> None:
    options = ChatOptions(source="Coding", stop=("###",), seed=1, min_p=0.05, reasoning="on")
    route = choose_route(options, native_available=True)
    assert route.api == "openai"
    assert route.not_applied == ("min-p", "thinking")
    assert route.notice == (
        "Stop strings and seed need LM Studio's OpenAI-compatible chat API, which has no "
        "min-p or thinking setting: the min-p and thinking of preset Coding are not applied."
    )


def test_a_server_without_native_chat_names_what_it_leaves_out() -> None:
    route = choose_route(ChatOptions(min_p=0.1), native_available=False)
    assert route.api == "openai" and route.not_applied == ("min-p",)
    assert route.notice.startswith("This server only has the OpenAI-compatible chat API")
    assert "is not applied" in route.notice
    assert choose_route(ChatOptions(), native_available=False).notice == ""


def test_a_conversation_with_an_openai_turn_stays_there() -> None:
    conversation = Conversation()
    assert conversation.history_on_server
    conversation.record("One", "Answer", None, native=False)
    assert not conversation.history_on_server
    route = choose_route(
        ChatOptions(reasoning="off"),
        native_available=True,
        history_on_server=conversation.history_on_server,
    )
    assert route.api == "openai" and route.not_applied == ("thinking",)
    assert "New chat" in route.notice
    conversation.clear()
    assert conversation.history_on_server
