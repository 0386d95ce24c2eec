"""A real llama.cpp server for the tests: llama-cpp-python's `python -m llama_cpp.server`
(an OpenAI-compatible FastAPI/uvicorn server over libllama; not the C++ `llama-server`),
serving a tiny random "llama" model that the suite writes itself (no download):
tests/fixtures/llama_cpp/make_gguf.py.

`start_llama_cpp_server` starts it on a free loopback port, waits until `/v1/models`
answers (the model is loaded before uvicorn listens), and returns a `LlamaCppServer`;
`stop` ends it (SIGTERM, then SIGKILL) and leaves no process. When llama-cpp-python (with
its `[server]` extra) or `gguf` is missing, it FAILS with what to install: a skip would let
a machine without them pass without ever running these tests.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

__all__ = [
    "MODEL_ALIAS",
    "N_CTX",
    "SERVER_MODULES",
    "LlamaCppServer",
    "missing_modules",
    "start_llama_cpp_server",
]

MODEL_ALIAS = "tiny"  # the id /v1/models lists (--model_alias); the file path without it
N_CTX = 256
# What `python -m llama_cpp.server` imports: llama-cpp-python[server], and gguf to write
# the model.
SERVER_MODULES = (
    "llama_cpp",
    "gguf",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
READY_TIMEOUT = 60.0  # seconds; the tiny model loads in well under one
STOP_TIMEOUT = 10.0
_MAKE_GGUF = Path(__file__).resolve().parents[1] / "fixtures" / "llama_cpp" / "make_gguf.py"


@dataclass
class LlamaCppServer:
    base_url: str  # http://127.0.0.1:PORT, no trailing slash
    model_path: Path
    model_alias: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down), then SIGKILL after STOP_TIMEOUT; reaps it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)


def missing_modules() -> list[str]:
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def _require_server_modules() -> None:
    missing = missing_modules()
    if missing:
        pytest.fail(
            f"the llama.cpp server tests need llama-cpp-python[server] and gguf, and "
            f"{', '.join(missing)} cannot be imported by {sys.executable}. Install them "
            f"with `bash installers/setup.sh` (it builds llama-cpp-python from source once; "
            f"pip caches the wheel), or by hand: CMAKE_ARGS='-DGGML_NATIVE=OFF "
            f"-DLLAVA_BUILD=OFF' {sys.executable} -m pip install "
            f"'llama-cpp-python[server]==0.3.36' gguf",
            pytrace=False,
        )


def _write_model(folder: Path) -> Path:
    """Run make_gguf.py as the file it is (tests/fixtures is no package)."""
    spec = importlib.util.spec_from_file_location("make_gguf", _MAKE_GGUF)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path: Path = module.write_tiny_llama(folder / "tiny-random-llama.gguf")
    return path


def _settings_names() -> set[str]:
    """The field names of llama_cpp.server's pydantic settings, read from its source (not
    imported: that would load libllama into the test process). pydantic-settings fills
    any field not given on the command line from an environment variable of that name
    (API_KEY, VERBOSE, N_GPU_LAYERS, ...), and CONFIG_FILE replaces the arguments whole."""
    spec = importlib.util.find_spec("llama_cpp")
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "server" / "settings.py"
    names = {"config_file"}
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _server_env() -> dict[str, str]:
    names = _settings_names()
    return {k: v for k, v in os.environ.items() if k.lower() not in names}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(server: LlamaCppServer, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"llama_cpp.server exited with {server.process.returncode} before it "
                f"answered; its log ({server.log_path}):\n{server.log_tail()}"
            )
        try:
            answer = httpx.get(f"{server.base_url}/v1/models", headers=headers, timeout=2.0)
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(
        f"llama_cpp.server did not answer /v1/models within {READY_TIMEOUT:.0f} s; its log "
        f"({server.log_path}):\n{server.log_tail()}"
    )


def start_llama_cpp_server(
    folder: Path,
    *,
    extra_args: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    attempts: int = 3,
) -> LlamaCppServer:
    """Write the tiny model into `folder`, start the server on it (with `extra_args`, e.g.
    `--api_key KEY`), wait until it answers (`/v1/models` with `headers`). A port taken
    between choosing and binding it is retried with another one."""
    _require_server_modules()
    folder.mkdir(parents=True, exist_ok=True)
    model = _write_model(folder)
    env = _server_env()
    for attempt in range(1, attempts + 1):
        port = _free_port()
        log_path = folder / f"server-{attempt}.log"
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(N_CTX),
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
            *extra_args,
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        server = LlamaCppServer(f"http://127.0.0.1:{port}", model, MODEL_ALIAS, log_path, process)
        try:
            _wait_until_ready(server, headers or {})
        except RuntimeError:
            server.stop()
            if attempt < attempts and "address already in use" in server.log_tail().lower():
                continue
            raise
        except BaseException:  # pytest-timeout's Failed, KeyboardInterrupt: no orphan
            server.stop()
            raise
        return server
    raise AssertionError("unreachable")
