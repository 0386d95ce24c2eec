"""A quick-chat conversation, pure: its turns, and the request each API needs for the
next question.

The native `/api/v1/chat` continues a conversation with `previous_response_id` (LM Studio
keeps the history); the OpenAI-compatible `/v1/chat/completions` gets the whole message
history each time. Both come from the same `Conversation`, so a fallback from one API to
the other mid-conversation keeps the context. `ChatOptions` (a preset's system prompt and
sampling) fill the fields each API has; a field an API lacks is not sent (`stop` and
`seed` exist only on the OpenAI API, `min_p` and `reasoning` only on the native one) —
`tray.core.chat_route` picks the API and names what it leaves out.

`ModelChoice` and `order_models`/`model_note` are the picker's rules: loaded models
first, and a not-loaded model says it will be loaded — never a surprise load.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from tray.core.api import ChatCompletionRequest, ChatMessage, ChatRequest, StreamOptions
from tray.core.chat_options import ChatOptions
from tray.core.inventory import LoadedModelRow

__all__ = ["Conversation", "ModelChoice", "Turn", "chat_choices", "model_note", "order_models"]


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    answer: str


class Conversation:
    """The turns so far and the native API's id of the last stored answer."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.previous_response_id: str | None = None
        # A turn went through the OpenAI API: LM Studio did not store it, so the native
        # API (continuing from `previous_response_id`) would answer without it.
        self.history_on_server = True

    @property
    def empty(self) -> bool:
        return not self.turns

    def clear(self) -> None:
        self.turns.clear()
        self.previous_response_id = None
        self.history_on_server = True

    def record(
        self, question: str, answer: str, response_id: str | None, *, native: bool = True
    ) -> None:
        """A finished (or stopped, or cut-off) answer joins the history.

        Without a new response id (stopped, cut off, `store` off) the native API keeps
        continuing from the last stored answer; the OpenAI history has this turn too.
        `native=False`: the answer came from the OpenAI API, which LM Studio does not
        store (see `history_on_server`)."""
        self.turns.append(Turn(question=question, answer=answer))
        if response_id is not None:
            self.previous_response_id = response_id
        if not native:
            self.history_on_server = False

    def native_request(
        self, question: str, model: str, options: ChatOptions | None = None
    ) -> ChatRequest:
        o = options or ChatOptions()
        return ChatRequest(
            model=model,
            input=question,
            system_prompt=o.system_prompt,
            temperature=o.temperature,
            top_p=o.top_p,
            top_k=o.top_k,
            min_p=o.min_p,
            repeat_penalty=o.repeat_penalty,
            max_output_tokens=o.max_tokens,
            reasoning=o.reasoning,
            previous_response_id=self.previous_response_id,
        )

    def openai_request(
        self, question: str, model: str, options: ChatOptions | None = None
    ) -> ChatCompletionRequest:
        o = options or ChatOptions()
        messages: list[ChatMessage] = []
        if o.system_prompt:
            messages.append(ChatMessage(role="system", content=o.system_prompt))
        for turn in self.turns:
            messages.append(ChatMessage(role="user", content=turn.question))
            messages.append(ChatMessage(role="assistant", content=turn.answer))
        messages.append(ChatMessage(role="user", content=question))
        return ChatCompletionRequest(
            model=model,
            messages=messages,
            stream_options=StreamOptions(include_usage=True),
            temperature=o.temperature,
            top_p=o.top_p,
            top_k=o.top_k,
            max_tokens=o.max_tokens,
            stop=list(o.stop) or None,
            repeat_penalty=o.repeat_penalty,
            seed=o.seed,
        )


class ModelChoice(BaseModel):
    """A model the picker offers: its key (what a request names) and whether it is loaded."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str = ""
    loaded: bool = False

    @property
    def shown(self) -> str:
        return self.label or self.key


def order_models(choices: Iterable[ModelChoice]) -> list[ModelChoice]:
    """Loaded models first (the first one is preselected), each key once, order kept."""
    seen: dict[str, ModelChoice] = {}
    for choice in choices:
        if choice.key not in seen or (choice.loaded and not seen[choice.key].loaded):
            seen[choice.key] = choice
    ordered = list(seen.values())
    return [c for c in ordered if c.loaded] + [c for c in ordered if not c.loaded]


def chat_choices(
    loaded: Iterable[LoadedModelRow],
    served: Iterable[str] = (),
    downloaded: Iterable[str] = (),
) -> list[ModelChoice]:
    """The picker's models: loaded instances (by identifier), what an OpenAI-compatible
    server serves, then downloaded models that have no instance — a model loaded under an
    identifier of its own is offered once, as that instance."""
    rows = list(loaded)
    choices = [ModelChoice(key=row.identifier, loaded=True) for row in rows]
    choices += [ModelChoice(key=name, loaded=True) for name in served]
    has_instance = {row.model_key for row in rows}
    choices += [ModelChoice(key=key) for key in downloaded if key not in has_instance]
    return order_models(choices)


def model_note(
    choice: ModelChoice | None, load_description: str = "", *, server_up: bool | None = True
) -> str:
    """What the picker says under a choice: nothing for a loaded model; for another, that
    asking will load it (and how). With the server down nothing is known to be loaded, so
    the note says that instead — a question then waits for the server, it loads nothing."""
    if server_up is False:
        return (
            "The LM Studio server is not running. Ask, then Start server: the question is "
            "answered once it is up."
        )
    if choice is None:
        return "No model: load one from the tray menu, or start the server."
    if choice.loaded:
        return ""
    how = f" ({load_description})" if load_description else ""
    return f"{choice.shown} is not loaded: asking will load it first{how}."
