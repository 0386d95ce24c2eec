"""The demo's LM Studio: the bundled simulator as a child process in a throw-away home,
stocked as a showroom (models of every kind with two loaded, a simulated 24 GiB graphics
card, config presets, an `mcp.json` with risks to find) so every capability has
something to show.

Layout: `<tmp>/` plays the user's home and `<tmp>/.lmstudio` LM Studio's home, so the fake
`lms` (which, like the real one, looks under $HOME) finds the simulated daemon. The demo's
own settings, history and state live in `<tmp>` too (`AppPaths.demo`): nothing of the
demo reaches the user's files, and stopping it removes the folder.

The command line reaches a running demo (`lmstudio-tray --demo COMMAND`) by asking this
user's one tray over its local channel (`WANT_DEMO`): the tray answers with its demo's
`DemoPlace`, so there is no file that could outlive a killed demo.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel

from tray.core.api import LoadRequest
from tray.core.errors import NotFound, TrayError
from tray.core.settings import ServerProfile, Settings
from tray.core.tokens import NoToken
from tray.services.lmstudio_client import LmStudioClient

if TYPE_CHECKING:  # the simulator is imported by the demo only, when it starts
    from tray.simulator.showroom import DemoLoad

__all__ = [
    "DEMO_GPU_GIB",
    "DEMO_OLLAMA_ID",
    "WANT_DEMO",
    "DemoLmStudio",
    "DemoNotRunning",
    "DemoPlace",
]

log = logging.getLogger(__name__)

START_SECONDS = 20.0
LOAD_SECONDS = 30.0
DEMO_GPU_GIB = 24
WANT_DEMO = "demo"  # what the command line asks the running tray for
DEMO_OLLAMA_ID = "demo-ollama"


class DemoPlace(BaseModel):
    """Where a running demo is: what a command needs to act on it."""

    base_url: str
    user_home: Path
    home: Path
    lms: Path | None = None
    gpu_root: Path | None = None


class DemoNotRunning(NotFound):
    title = "Demo"


class DemoLmStudio:
    """Start it (`start`), point everything at `base_url`, `home` and `lms_path`, and run
    its `lms` with `env`; `stop` ends the simulator and removes the throw-away home."""

    def __init__(self) -> None:
        self.user_home = Path(tempfile.mkdtemp(prefix="lmstudio-tray-demo-"))
        self.home = self.user_home / ".lmstudio"
        self.base_url = ""
        self.lms_path: Path | None = None
        self.gpu_root: Path | None = None
        self.control_url = ""  # the simulator's control server (what `lms` talks to)
        self.ollama_url = ""  # the demo's second server: a simulated Ollama
        self._proc: asyncio.subprocess.Process | None = None

    def place(self) -> DemoPlace:
        """Where this demo is, for a command that asks (`running_demo`)."""
        return DemoPlace(
            base_url=self.base_url,
            user_home=self.user_home,
            home=self.home,
            lms=self.lms_path,
            gpu_root=self.gpu_root,
        )

    @property
    def env(self) -> dict[str, str]:
        """Environment for running the demo's `lms`."""
        return {**os.environ, "HOME": str(self.user_home)}

    async def start(self, http: httpx.AsyncClient) -> None:
        """Start the simulator, stock it, and load the demo's models (the demo works
        without them)."""
        from tray.simulator import install_fake_lms
        from tray.simulator.showroom import demo_loads, write_showroom_files

        self.home.mkdir(parents=True)
        write_showroom_files(self.home, self.user_home)
        self.lms_path = install_fake_lms(self.home)
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tray.simulator",
            "serve",
            "--home",
            str(self.home),
            "--gpu-gib",
            str(DEMO_GPU_GIB),
            "--showroom",
            "--ollama",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env=self.env,
        )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), timeout=START_SECONDS)
        if not line:
            raise RuntimeError("the LM Studio simulator did not start (see the log above)")
        ready = json.loads(line)
        self.base_url = ready["base_url"]
        self.gpu_root = Path(ready["gpu_root"]) if ready.get("gpu_root") else None
        self.control_url = f"http://127.0.0.1:{ready['control_port']}"
        self.ollama_url = ready.get("ollama_url") or ""
        log.info("demo: simulated LM Studio at %s (home %s)", self.base_url, self.home)
        for load in demo_loads():
            await self._preload(http, load)

    def add_servers(self, settings: Settings) -> None:
        """Save the demo's Ollama as a second server (in the demo's own settings), so the
        Server submenu and `servers`/`status --all` have several servers to show."""
        if not self.ollama_url or any(p.id == DEMO_OLLAMA_ID for p in settings.profiles):
            return
        settings.profiles.append(
            ServerProfile(id=DEMO_OLLAMA_ID, name="Ollama (demo)", base_url=self.ollama_url)
        )

    async def act(self, http: httpx.AsyncClient, method: str) -> dict[str, Any]:
        """Make something happen in the simulated LM Studio, as if from outside the tray:
        `demo.<name>` of `tray.simulator.demo_acts`, or one of the calls `lms` makes
        (`stopHttpServer`). Raises `TrayError` with the simulator's sentence."""
        try:
            response = await http.post(
                f"{self.control_url}/__sim/rpc", json={"method": method, "params": {}}
            )
            reply = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TrayError(f"The demo's LM Studio did not answer: {exc}") from exc
        if not isinstance(reply, dict):
            raise TrayError("The demo's LM Studio gave an answer it should not have.")
        if isinstance(reply.get("error"), dict):
            raise TrayError(str(reply["error"].get("message", "it failed")))
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    async def _preload(self, http: httpx.AsyncClient, load: DemoLoad) -> None:
        """Load as a user would: `lms load` where an identifier or a timeout is wanted
        (REST has neither), else REST."""
        if load.identifier is None and load.ttl_seconds is None:
            try:
                client = LmStudioClient(http, self.base_url, token_provider=NoToken())
                await client.load_model(LoadRequest(model=load.key))
            except TrayError as exc:
                log.warning("demo: could not preload %s: %s", load.key, exc)
            return
        assert self.lms_path is not None
        # By key: lms's fuzzy match puts an exact key first (--exact would want the path).
        argv = [str(self.lms_path), "load", load.key, "-y"]
        for flag, value in (
            ("--identifier", load.identifier),
            ("--context-length", load.context_length),
            ("--ttl", load.ttl_seconds),
        ):
            if value is not None:
                argv += [flag, str(value)]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout=LOAD_SECONDS)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning("demo: lms load %s did not finish", load.key)
            return
        if proc.returncode != 0:
            log.warning("demo: could not preload %s: %s", load.key, err.decode(errors="replace"))

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()  # SIGTERM; TerminateProcess on Windows
            try:
                await asyncio.wait_for(self._proc.wait(), timeout=5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        shutil.rmtree(self.user_home, ignore_errors=True)
