"""`python -m tray.simulator serve …` runs a simulated LM Studio in the foreground;
`python -m tray.simulator lms …` is the fake `lms` CLI."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tray.simulator.daemon import Simulator, write_install_location

__all__ = ["main"]


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tray.simulator serve")
    parser.add_argument("--home", type=Path, required=True, help="the simulated LM Studio home")
    parser.add_argument("--port", type=int, help="API server port (default: a free one)")
    parser.add_argument("--auth-token-env", metavar="VAR", help="require the token in $VAR")
    parser.add_argument("--tps", type=float, default=200.0, help="tokens per second")
    parser.add_argument("--no-server", action="store_true", help="do not start the API server")
    parser.add_argument("--gui", action="store_true", help="act as the LM Studio GUI app")
    parser.add_argument(
        "--gpu-gib", type=float, help="simulate a graphics card of this size (the demo's)"
    )
    parser.add_argument(
        "--showroom", action="store_true", help="the demo's answers and pace, not an echo"
    )
    parser.add_argument(
        "--ollama", action="store_true", help="also a simulated Ollama (the demo's second server)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    token = os.environ.get(args.auth_token_env) if args.auth_token_env else None
    home = args.home.resolve()
    done = threading.Event()
    sim = Simulator(
        home,
        auth_token=token or None,
        tokens_per_second=args.tps,
        api_server_running=not args.no_server,
        gui=args.gui,
        api_port=args.port,
        gpu_bytes=int(args.gpu_gib * 1024**3) if args.gpu_gib else None,
        showroom=args.showroom,
    )
    sim.on_shutdown = done.set

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sim.start()
    ollama = None
    if args.ollama:
        from tray.simulator.ollama import OllamaSimulator

        ollama = OllamaSimulator()
        ollama.start()
        ollama.load("llama3.2:3b", "30m")
    try:
        write_install_location(home)
        ready = {
            "base_url": sim.base_url,
            "api_port": sim.api_port,
            "control_port": sim.control_port,
            "pid": os.getpid(),
            "gpu_root": str(sim.gpu.root) if sim.gpu is not None else None,
            "ollama_url": ollama.base_url if ollama is not None else None,
        }
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not done.wait(0.5):
            pass
    finally:
        if ollama is not None:
            ollama.stop()
        sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    if argv[:1] == ["lms"]:
        from tray.simulator.lms_cli import main as lms_main

        return lms_main(argv[1:])
    sys.stderr.write("usage: python -m tray.simulator serve --home DIR … | lms ARGS…\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
