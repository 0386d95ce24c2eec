"""The simulated LM Studio process: an always-on internal control server (what `lms`
talks to, FORMATS §1.2) plus the HTTP API server that can be started and stopped, and
the files LM Studio keeps in its home (§2.6, §2.7).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from tray.simulator.demo_acts import demo_act
from tray.simulator.faults import FaultList
from tray.simulator.gpu_files import SimulatedGpu
from tray.simulator.server import ApiServer, SimHttpServer, SimRequestHandler
from tray.simulator.state import VERSION, SimError, SimState

__all__ = ["Simulator", "install_fake_lms", "write_install_location"]

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 0.1

# What LM Studio writes on first start (observed full object, FORMATS §2.6).
DEFAULT_SERVER_CONFIG: dict[str, Any] = {
    "autoStartOnLaunch": False,
    "port": 1234,
    "cors": False,
    "networkInterface": "127.0.0.1",
    "justInTimeModelLoading": True,
    "logSensitiveData": False,
    "logIncomingTokens": False,
    "verbose": False,
    "logLinesLimit": 500,
    "fileLoggingMode": "succinct",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def install_fake_lms(home: Path) -> Path:
    """Write `<home>/bin/lms` (`lms.cmd` on Windows) running this simulator's fake `lms`."""
    bin_dir = Path(home) / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    if os.name == "nt":
        path = bin_dir / "lms.cmd"
        path.write_text(f'@"{sys.executable}" -m tray.simulator lms %*\r\n', encoding="utf-8")
    else:
        path = bin_dir / "lms"
        path.write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tray.simulator lms "$@"\n',
            encoding="utf-8",
        )
        path.chmod(0o755)
    return path


def write_install_location(home: Path) -> Path:
    """Write `.internal/llmster-install-location.json` so `lms` can wake a simulator."""
    path = Path(home) / ".internal" / "llmster-install-location.json"
    argv = [sys.executable, "-m", "tray.simulator", "serve", "--home", str(home), "--no-server"]
    _write_json(path, {"path": sys.executable, "argv": argv, "cwd": str(Path.cwd())})
    return path


class _ControlHandler(SimRequestHandler):
    server: _ControlServer

    def do_GET(self) -> None:
        self.read_body()
        if self.path == "/lms-status":
            self.send_json(200, {"package": "lmstudio-simulator", "version": VERSION})
        else:
            self.send_json(404, {"error": "Not found"})

    def do_POST(self) -> None:
        raw = self.read_body()
        if self.path != "/__sim/rpc":
            self.send_json(404, {"error": "Not found"})
            return
        try:
            request = json.loads(raw or b"{}")
            result = self.server.dispatch(str(request.get("method")), request.get("params") or {})
        except SimError as error:
            title = "Model not found" if error.status == 404 else "Request failed"
            self.send_json(200, {"error": {"title": title, "message": error.message}})
            return
        except (ValueError, TypeError, KeyError) as error:
            self.send_json(200, {"error": {"title": "Invalid request", "message": str(error)}})
            return
        # the fake `lms` may be stopped while it waits (`lms log stream`)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_json(200, {"result": result})


class _ControlServer(SimHttpServer):
    def __init__(self, port: int, dispatch: Callable[[str, dict[str, Any]], Any]) -> None:
        self.dispatch = dispatch
        super().__init__(("127.0.0.1", port), _ControlHandler)


class Simulator:
    """A simulated LM Studio on loopback. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        home: Path,
        *,
        auth_token: str | None = None,
        tokens_per_second: float = 200.0,
        load_seconds: float = 0.2,
        seed_models: bool = True,
        api_server_running: bool = True,
        gui: bool = False,
        api_port: int | None = None,
        control_port: int | None = None,
        gpu_bytes: int | None = None,
        showroom: bool = False,
        legacy: bool = False,
    ) -> None:
        """`gpu_bytes`: give the demo a simulated graphics card of that size, whose files
        (`gpu_root`) follow the loaded models; `showroom`: the demo's answers and pace
        (`tray.simulator.answers`) instead of the tests' echo; `legacy`: act as LM Studio
        0.3.x, with no REST API v1."""
        self.home = Path(home)
        self.gui = gui
        self.legacy = legacy  # LM Studio 0.3.x: REST API v0 only
        self.state = SimState(
            seed_models=seed_models,
            tokens_per_second=tokens_per_second,
            load_seconds=load_seconds,
            auth_token=auth_token,
        )
        self.state.showroom = showroom
        self.faults = FaultList()
        self.gpu = (
            SimulatedGpu(self.state, self.internal_dir / "sim-gpu", gpu_bytes)
            if gpu_bytes
            else None
        )
        self.pid = os.getpid()
        self.on_shutdown: Callable[[], None] | None = None  # set by `serve`
        self._api_port = api_port or free_port()
        self._requested_control_port = control_port or 0
        self._bind = "127.0.0.1"
        self._start_api = api_server_running
        self._api: ApiServer | None = None
        self._control: _ControlServer | None = None
        self._servers_lock = threading.RLock()
        self._stopped = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="sim-ttl", daemon=True)

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def internal_dir(self) -> Path:
        return self.home / ".internal"

    def start(self) -> None:
        self.internal_dir.mkdir(parents=True, exist_ok=True)
        config = self._read_server_config()
        if config is None:
            self._write_server_config(DEFAULT_SERVER_CONFIG | {"port": self._api_port})
        elif isinstance(config.get("justInTimeModelLoading"), bool):
            self.state.jit = config["justInTimeModelLoading"]
        self._control = _ControlServer(self._requested_control_port, self.rpc)
        self._control.start()
        if self._start_api:
            self.start_api_server()
        _write_json(
            self.internal_dir / "http-server.json",
            {"host": "127.0.0.1", "pid": self.pid, "port": self._control.port},
        )
        self._sweeper.start()
        logger.info("simulated LM Studio up: control %s, API %s", self.control_port, self.base_url)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.stop_api_server()
        with self._servers_lock:
            if self._control is not None:
                self._control.close()
        info = self.internal_dir / "http-server.json"
        try:
            if json.loads(info.read_text(encoding="utf-8")).get("pid") == self.pid:
                info.unlink()
        except (OSError, ValueError):
            pass
        if self._sweeper.is_alive():
            self._sweeper.join(timeout=2)

    def _sweep(self) -> None:
        while True:
            if self.gpu is not None:
                self.gpu.update()
            if self._stopped.wait(SWEEP_SECONDS):
                return
            self.state.tick()

    # --- the API server ----------------------------------------------------------------------

    @property
    def api_port(self) -> int:
        return self._api_port

    @property
    def control_port(self) -> int:
        assert self._control is not None, "start() the simulator first"
        return self._control.port

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self._bind in ("0.0.0.0", "localhost") else self._bind
        return f"http://{host}:{self._api_port}"

    @property
    def api_server_running(self) -> bool:
        return self._api is not None

    def start_api_server(
        self, port: int | None = None, bind: str | None = None, cors: bool = False
    ) -> None:
        """Start (or move) the API server; raises OSError when the port is taken."""
        with self._servers_lock:
            port = port or self._api_port
            bind = bind or self._bind
            if self._api is not None:
                if (port, bind, cors) == (self._api_port, self._bind, self._api.cors):
                    return
                self.stop_api_server()
            self._api = ApiServer(
                (bind, port), state=self.state, faults=self.faults, cors=cors, legacy=self.legacy
            )
            self._api.start()
            self._api_port, self._bind = self._api.port, bind
            config = self._read_server_config() or dict(DEFAULT_SERVER_CONFIG)
            self._write_server_config(
                config | {"port": self._api_port, "networkInterface": bind, "cors": cors}
            )

    def stop_api_server(self) -> bool:
        with self._servers_lock:
            if self._api is None:
                return False
            self._api.close()
            self._api = None
            return True

    # --- files ------------------------------------------------------------------------------------

    @property
    def server_config_path(self) -> Path:
        return self.internal_dir / "http-server-config.json"

    def _read_server_config(self) -> dict[str, Any] | None:
        try:
            config = json.loads(self.server_config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return config if isinstance(config, dict) else None

    def _write_server_config(self, config: dict[str, Any]) -> None:
        _write_json(self.server_config_path, config)

    def install_fake_lms(self) -> Path:
        return install_fake_lms(self.home)

    # --- what `lms` asks the daemon -------------------------------------------------------------

    def rpc(self, method: str, params: dict[str, Any]) -> Any:
        state = self.state
        if method.startswith("demo."):  # the demo's menu, not `lms`
            return demo_act(state, self.home, method, params)
        if method == "getInfo":
            return {"pid": self.pid, "isDaemon": not self.gui, "version": VERSION}
        if method == "listDownloaded":
            return state.ls_json()
        if method == "listLoaded":
            return state.ps_json()
        if method == "estimate":
            # sizeUnits is the simulator's switch between the GiB and GB builds of lms.
            return state.estimate(
                params["modelKey"],
                context_length=params.get("contextLength"),
                gpu_ratio=params.get("gpuRatio"),
            ) | {"sizeUnits": state.estimate_units}
        if method == "load":
            if state.model(params["modelKey"]) is None:
                raise SimError(404, {"error": {"message": "Model not found"}})
            time.sleep(state.load_seconds)
            identifier = state.load(
                params["modelKey"],
                identifier=params.get("identifier"),
                context_length=params.get("contextLength"),
                parallel=params.get("parallel"),
                ttl_seconds=params.get("ttlSeconds"),
                gpu_ratio=params.get("gpuRatio", 1.0),
            )
            return next(i for i in state.ps_json() if i["identifier"] == identifier)
        if method == "unload":
            state.unload(params["identifier"])
            return None
        if method == "unloadAll":
            return state.unload_all()
        if method == "startHttpServer":
            try:
                self.start_api_server(
                    port=params.get("port"), bind=params.get("bind"), cors=bool(params.get("cors"))
                )
            except OSError as error:
                # Like LM Studio, the RPC itself does not fail; `lms` notices through
                # its greeting check that nothing answers.
                logger.warning("cannot start the API server: %s", error)
            return None
        if method == "stopHttpServer":
            self.stop_api_server()
            return None
        if method == "logEvents":  # `lms log stream`: what came after `after`
            last, events = state.log.after(
                int(params.get("after", 0)),
                source=str(params.get("source", "model")),
                wait=min(float(params.get("wait", 0)), 5.0),
            )
            return {"last": last, "events": events}
        if method == "logLast":
            return state.log.last
        if method == "shutdown":
            threading.Thread(target=self._shutdown, daemon=True).start()
            return None
        raise ValueError(f"unknown method {method!r}")

    def _shutdown(self) -> None:
        self.stop()
        if self.on_shutdown is not None:
            self.on_shutdown()
