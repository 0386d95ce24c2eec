"""What a chat request takes from a config preset: the system prompt and sampling.

Presets (`PresetStore`) produce it, the quick chat and `lmstudio-tray chat` consume it and
put each field into whichever request they send (native `/api/v1/chat` or the OpenAI
compatible `/v1/chat/completions`). A field left None is not sent: LM Studio then uses the
model's own defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatOptions", "ReasoningChoice"]

# The native API's `reasoning` values (FORMATS §3.5).
ReasoningChoice = Literal["off", "low", "medium", "high", "on"]


class ChatOptions(BaseModel):
    """System prompt and sampling for one chat request; None = not sent."""

    model_config = ConfigDict(frozen=True)

    # Where these options came from, for the UI ("preset Coding"); None = no preset.
    source: str | None = None
    system_prompt: str | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_k: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    min_p: float | None = Field(default=None, ge=0, le=1)
    repeat_penalty: float | None = None
    # None = the model's limit (LM Studio's "-1"/unchecked).
    max_tokens: int | None = Field(default=None, gt=0)
    stop: tuple[str, ...] = ()
    seed: int | None = None
    reasoning: ReasoningChoice | None = None
