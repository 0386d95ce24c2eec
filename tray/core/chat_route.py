"""Which chat API a question goes to, and what of the preset that API cannot carry.

LM Studio's native `POST /api/v1/chat` takes no `stop` and no `seed` (lmstudio-ai/docs
`1_developer/2_rest/chat.md` lists neither, and LM Studio 0.4 refuses them: "Unrecognized
key(s) in object: 'stop'"); the OpenAI-compatible `POST /v1/chat/completions` takes both
but has no `min_p` and no `reasoning` (docs `3_openai-compat/chat-completions.md`). So a
preset with stop strings or a seed is asked through the OpenAI-compatible API, and
whatever the chosen API cannot carry is named to the user — never dropped silently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tray.core.chat_options import ChatOptions

__all__ = ["ChatApi", "ChatRoute", "choose_route"]

ChatApi = Literal["native", "openai"]

# What only one API carries, in the preset dialog's words.
_OPENAI_ONLY = (("stop", "stop strings"), ("seed", "seed"))
_NATIVE_ONLY = (("min_p", "min-p"), ("reasoning", "thinking"))


class ChatRoute(BaseModel):
    """The API to ask, and a sentence naming what of the options it leaves out ("" = all
    applied)."""

    model_config = ConfigDict(frozen=True)

    api: ChatApi
    not_applied: tuple[str, ...] = ()
    notice: str = ""


def _set(options: ChatOptions, fields: tuple[tuple[str, str], ...]) -> list[str]:
    return [label for name, label in fields if getattr(options, name) not in (None, ())]


def _names(labels: list[str], joint: str = "and") -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} {joint} {labels[-1]}"


def choose_route(
    options: ChatOptions | None,
    *,
    native_available: bool,
    history_on_server: bool = True,
) -> ChatRoute:
    """The API for the next question.

    `native_available`: the server has `/api/v1/chat` (LM Studio 0.4+, not learnt missing).
    `history_on_server`: every earlier turn of this conversation is stored by the native
    API (False once a turn went through the OpenAI API, which LM Studio does not store:
    the native API would continue without it).
    """
    o = options or ChatOptions()
    wants_openai = _set(o, _OPENAI_ONLY)
    if native_available and history_on_server and not wants_openai:
        return ChatRoute(api="native")
    lost = _set(o, _NATIVE_ONLY)
    if not lost:
        return ChatRoute(api="openai")
    source = f"preset {o.source}" if o.source else "the chat options"
    if not native_available:
        why = "This server only has the OpenAI-compatible chat API"
    elif wants_openai:
        need = "needs" if len(wants_openai) == 1 else "need"
        why = f"{_names(wants_openai).capitalize()} {need} LM Studio's OpenAI-compatible chat API"
    else:
        why = (
            "This conversation continues on the OpenAI-compatible chat API (an earlier "
            "answer used it; New chat starts afresh)"
        )
    verb = "is" if len(lost) == 1 else "are"
    notice = (
        f"{why}, which has no {_names(lost, 'or')} setting: the {_names(lost)} of {source} "
        f"{verb} not applied."
    )
    return ChatRoute(api="openai", not_applied=tuple(lost), notice=notice)
