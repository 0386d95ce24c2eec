"""The demo's LM Studio: the bundled simulator as a child process in a throw-away home.

Layout: `<tmp>/` plays the user's home and `<tmp>/.lmstudio` LM Studio's home, so the fake
`lms` (which, like the real one, looks under $HOME) finds the simulated daemon. The demo's
own settings, history and state live in `<tmp>` too (`AppPaths.demo`): nothing of the
demo reaches the user's files, and stopping it removes the folder.
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

import httpx

from tray.core.api import LoadRequest
from tray.core.errors import TrayError
from tray.core.tokens import NoToken
from tray.services.lmstudio_client import LmStudioClient
from tray.simulator import install_fake_lms

__all__ = ["DEMO_MODEL", "DemoLmStudio"]

log = logging.getLogger(__name__)

DEMO_MODEL = "qwen/qwen3-4b"  # loaded at start, so the demo has something to show
START_SECONDS = 20.0


class DemoLmStudio:
    """Start it (`start`), point everything at `base_url`, `home` and `lms_path`, and run
    its `lms` with `env`; `stop` ends the simulator and removes the throw-away home."""

    def __init__(self) -> None:
        self.user_home = Path(tempfile.mkdtemp(prefix="lmstudio-tray-demo-"))
        self.home = self.user_home / ".lmstudio"
        self.base_url = ""
        self.lms_path: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for running the demo's `lms`."""
        return {**os.environ, "HOME": str(self.user_home)}

    async def start(self, http: httpx.AsyncClient) -> None:
        """Start the simulator and load the demo's model (the demo works without it)."""
        self.home.mkdir(parents=True)
        self.lms_path = install_fake_lms(self.home)
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tray.simulator",
            "serve",
            "--home",
            str(self.home),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env=self.env,
        )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), timeout=START_SECONDS)
        if not line:
            raise RuntimeError("the LM Studio simulator did not start (see the log above)")
        self.base_url = json.loads(line)["base_url"]
        log.info("demo: simulated LM Studio at %s (home %s)", self.base_url, self.home)
        try:
            client = LmStudioClient(http, self.base_url, token_provider=NoToken())
            await client.load_model(LoadRequest(model=DEMO_MODEL))
        except TrayError as exc:
            log.warning("demo: could not preload %s: %s", DEMO_MODEL, exc)

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()  # SIGTERM; TerminateProcess on Windows
            try:
                await asyncio.wait_for(self._proc.wait(), timeout=5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        shutil.rmtree(self.user_home, ignore_errors=True)
