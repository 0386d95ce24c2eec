"""The simulated LM Studio's downloaded models, and how each API renders them.

One `CatalogModel` per downloaded model; the render functions produce the three shapes
LM Studio documents for the same model: REST v1 (FORMATS §3.1), REST v0 (§3.8) and the
SDK `ModelInfo` that `lms ls/ps --json` print (§1.4–1.5). Sizes and context lengths are
those of the real community builds, so estimates and tables look like a real machine.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["SEED_MODELS", "CatalogModel", "downloaded_model_from_name"]

GIB = 1024**3


class CatalogModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    type: Literal["llm", "embedding"] = "llm"
    publisher: str
    display_name: str
    architecture: str
    quant_name: str
    quant_bits: int
    size_bytes: int
    params_string: str | None
    max_context_length: int
    format: Literal["gguf", "mlx"] = "gguf"
    path: str
    vision: bool = False
    tool_use: bool = False
    reasoning_options: tuple[str, ...] = ()  # empty: not a reasoning model
    reasoning_default: str | None = None
    num_experts: int | None = None  # MoE models echo it in their load config
    # KV-cache bytes per context token (layers x kv-heads x head-dim x 2 x fp16): the
    # part of an estimate that grows with the context length.
    kv_bytes_per_token: int = 131072

    @property
    def is_llm(self) -> bool:
        return self.type == "llm"

    @property
    def default_context_length(self) -> int:
        return min(4096 if self.is_llm else 2048, self.max_context_length)

    @property
    def lms_format(self) -> str:
        # `lms` reports MLX models with their file format (observed, FORMATS §1.4).
        return "safetensors" if self.format == "mlx" else "gguf"

    def v1_json(self, loaded_instances: list[dict[str, Any]]) -> dict[str, Any]:
        """`GET /api/v1/models` item (FORMATS §3.1); embeddings lack the LLM-only keys."""
        out: dict[str, Any] = {
            "type": self.type,
            "publisher": self.publisher,
            "key": self.key,
            "display_name": self.display_name,
        }
        if self.is_llm:
            out["architecture"] = self.architecture
        out |= {
            "quantization": {"name": self.quant_name, "bits_per_weight": self.quant_bits},
            "size_bytes": self.size_bytes,
            "params_string": self.params_string,
            "loaded_instances": loaded_instances,
            "max_context_length": self.max_context_length,
            "format": self.format,
        }
        if self.is_llm:
            capabilities: dict[str, Any] = {
                "vision": self.vision,
                "trained_for_tool_use": self.tool_use,
            }
            if self.reasoning_options:
                capabilities["reasoning"] = {
                    "allowed_options": list(self.reasoning_options),
                    "default": self.reasoning_default,
                }
            out["capabilities"] = capabilities
            out["description"] = None
        return out

    def v0_json(self, loaded_context_length: int | None) -> dict[str, Any]:
        """`GET /api/v0/models` item (FORMATS §3.8)."""
        kind = "embeddings" if not self.is_llm else ("vlm" if self.vision else "llm")
        out: dict[str, Any] = {
            "id": self.key,
            "object": "model",
            "type": kind,
            "publisher": self.publisher,
            "arch": self.architecture,
            "compatibility_type": self.format,
            "quantization": self.quant_name,
            "state": "not-loaded" if loaded_context_length is None else "loaded",
            "max_context_length": self.max_context_length,
        }
        if loaded_context_length is not None:
            out["loaded_context_length"] = loaded_context_length
        if self.is_llm:
            out["capabilities"] = ["tool_use"] if self.tool_use else []
        return out

    def lms_json(self) -> dict[str, Any]:
        """The SDK's `ModelInfo` as `lms ls --json` prints it (FORMATS §1.5)."""
        out: dict[str, Any] = {
            "type": self.type,
            "modelKey": self.key,
            "format": self.lms_format,
            "displayName": self.display_name,
            "publisher": self.publisher,
            "path": self.path,
            "sizeBytes": self.size_bytes,
            "indexedModelIdentifier": self.path,
            "deviceIdentifier": None,
        }
        if self.params_string is not None:
            out["paramsString"] = self.params_string
        out["architecture"] = self.architecture
        out["quantization"] = {"name": self.quant_name, "bits": self.quant_bits}
        if self.is_llm:
            out["vision"] = self.vision
            out["trainedForToolUse"] = self.tool_use
        out["maxContextLength"] = self.max_context_length
        return out


SEED_MODELS: tuple[CatalogModel, ...] = (
    CatalogModel(
        key="qwen/qwen3-4b",
        publisher="qwen",
        display_name="Qwen3 4B",
        architecture="qwen3",
        quant_name="Q4_K_M",
        quant_bits=4,
        size_bytes=2_497_280_256,
        params_string="4B",
        max_context_length=32768,
        path="lmstudio-community/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf",
        tool_use=True,
        reasoning_options=("off", "on"),
        reasoning_default="on",
        kv_bytes_per_token=147456,
    ),
    CatalogModel(
        key="google/gemma-3-12b",
        publisher="google",
        display_name="Gemma 3 12B",
        architecture="gemma3",
        quant_name="Q4_K_M",
        quant_bits=4,
        size_bytes=8_149_190_144,
        params_string="12B",
        max_context_length=131072,
        path="lmstudio-community/gemma-3-12b-it-GGUF/gemma-3-12b-it-Q4_K_M.gguf",
        vision=True,
        kv_bytes_per_token=393216,
    ),
    CatalogModel(
        key="openai/gpt-oss-20b",
        publisher="openai",
        display_name="gpt-oss 20B",
        architecture="gpt-oss",
        quant_name="MXFP4",
        quant_bits=4,
        size_bytes=12_109_566_560,
        params_string="20B",
        max_context_length=131072,
        path="lmstudio-community/gpt-oss-20b-GGUF/gpt-oss-20b-MXFP4.gguf",
        tool_use=True,
        reasoning_options=("low", "medium", "high"),
        reasoning_default="medium",
        num_experts=4,
        kv_bytes_per_token=49152,
    ),
    CatalogModel(
        key="meta-llama-3.1-8b-instruct",
        publisher="lmstudio-community",
        display_name="Meta Llama 3.1 8B Instruct",
        architecture="llama",
        quant_name="Q4_K_M",
        quant_bits=4,
        size_bytes=4_920_734_016,
        params_string="8B",
        max_context_length=131072,
        path="lmstudio-community/Meta-Llama-3.1-8B-Instruct-GGUF/"
        "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        tool_use=True,
        kv_bytes_per_token=131072,
    ),
    CatalogModel(
        key="mistralai/devstral-small-2507",
        publisher="mistralai",
        display_name="Devstral Small 2507",
        architecture="mistral",
        quant_name="4bit",
        quant_bits=4,
        size_bytes=13_282_332_672,
        params_string="24B",
        max_context_length=131072,
        format="mlx",
        path="lmstudio-community/Devstral-Small-2507-MLX-4bit",
        tool_use=True,
        kv_bytes_per_token=163840,
    ),
    CatalogModel(
        key="qwen/qwen3-235b-a22b",
        publisher="qwen",
        display_name="Qwen3 235B A22B",
        architecture="qwen3moe",
        quant_name="Q4_K_M",
        quant_bits=4,
        size_bytes=142_652_547_072,
        params_string="235B-A22B",
        max_context_length=40960,
        path="lmstudio-community/Qwen3-235B-A22B-GGUF/Qwen3-235B-A22B-Q4_K_M-00001-of-00004.gguf",
        tool_use=True,
        reasoning_options=("off", "on"),
        reasoning_default="on",
        num_experts=8,
        kv_bytes_per_token=192512,
    ),
    CatalogModel(
        key="text-embedding-nomic-embed-text-v1.5",
        type="embedding",
        publisher="nomic-ai",
        display_name="Nomic Embed Text v1.5",
        architecture="nomic-bert",
        quant_name="Q4_0",
        quant_bits=4,
        size_bytes=84_106_624,
        params_string=None,
        max_context_length=2048,
        path="nomic-ai/nomic-embed-text-v1.5-GGUF/nomic-embed-text-v1.5.Q4_0.gguf",
        kv_bytes_per_token=36864,
    ),
)

_HF_URL = re.compile(r"^https://huggingface\.co/(?P<owner>[^/\s]+)/(?P<repo>[^/\s]+)")


def downloaded_model_from_name(name: str, size_bytes: int) -> CatalogModel:
    """The model a finished download adds: a catalog id (`ibm/granite-4-micro`) or a
    Hugging Face URL, turned into a plausible GGUF entry."""
    match = _HF_URL.match(name)
    if match:
        publisher, repo = match["owner"], match["repo"]
        key = re.sub(r"-gguf$", "", repo.lower())
    else:
        publisher, _, repo = name.rpartition("/")
        publisher = publisher or "lmstudio-community"
        key = name.lower()
    return CatalogModel(
        key=key,
        publisher=publisher,
        display_name=repo.replace("-", " ").title(),
        architecture="llama",
        quant_name="Q4_K_M",
        quant_bits=4,
        size_bytes=size_bytes,
        params_string=None,
        max_context_length=32768,
        path=f"{publisher}/{repo}-GGUF/{repo}-Q4_K_M.gguf",
    )
