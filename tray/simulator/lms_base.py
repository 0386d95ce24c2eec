"""What every command of the fake `lms` shares: its logger and output formats, finding
and waking LM Studio (FORMATS §1.1–1.3), and commander-like argument parsing."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "SIM_LMS_ENV",
    "Cli",
    "CommanderParser",
    "Daemon",
    "Exit",
    "Logger",
    "RpcError",
    "format_elapsed",
    "format_size",
    "format_time_lean",
    "gpu_ratio",
    "json_line",
    "make_logger",
    "older_lms",
    "parser_for",
    "refined_number",
    "stdout_line",
    "table",
]

CLI_COMMIT = "8d2c1f5"
SIM_HOME_ENV = "LMSTUDIO_SIM_HOME"
# "older": an lms from before 2026-02 (lms commit 066002e): `lms load` matches paths, its
# spinner shows the path without a percentage, and there is no `daemon` group (added in
# 5793881, 2025-11).
SIM_LMS_ENV = "LMSTUDIO_SIM_LMS"


def older_lms() -> bool:
    return os.environ.get(SIM_LMS_ENV) == "older"


DEFAULT_SERVER_PORT = 1234
WAKE_TIMEOUT_SECONDS = 10.0
STATUS_TIMEOUT_SECONDS = 3.0
GREETING_TIMEOUT_SECONDS = 0.5


class Exit(Exception):
    """Leave with this exit code (the CLI only ever exits 0 or 1)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class RpcError(Exception):
    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title
        self.message = message


# --- output -------------------------------------------------------------------------------


class Logger:
    """`lms`'s logger: every level goes to stderr, warnings as `W <text>`, errors as
    `Error: <text>`, info bare (lms src/logLevel.ts `createLogger` over lmstudio-js
    SimpleLogger @ 07b7252d / 6ec11db1); titled errors are printed without a prefix
    (`errorWithoutPrefix`)."""

    LEVELS = ("debug", "info", "warn", "error", "none")

    def __init__(self, level: str) -> None:
        self.level = self.LEVELS.index(level)

    def _emit(self, level: str, text: str) -> None:
        if self.LEVELS.index(level) >= self.level:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def debug(self, text: str) -> None:
        self._emit("debug", text)

    def info(self, text: str) -> None:
        self._emit("info", text)

    def warn(self, text: str) -> None:
        self._emit("warn", f"W {text}")

    def error(self, text: str) -> None:
        self._emit("error", f"Error: {text}")

    def titled_error(self, title: str, text: str) -> None:
        # makeTitledPrettyError without a fancy terminal: title, blank line, content.
        self._emit("error", f"{title}\n\n{text}")


def stdout_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def json_line(obj: Any) -> None:
    stdout_line(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


def format_size(n: float, base: int) -> str:
    """formatSizeBytes1000 / formatSizeBytes1024: two decimals, largest fitting unit."""
    units = ("B", "KB", "MB", "GB", "TB") if base == 1000 else ("Bytes", "KiB", "MiB", "GiB", "TiB")
    value, unit = float(n), units[0]
    for unit in units:
        if value < base or unit == units[-1]:
            break
        value /= base
    return f"{value:.2f} {unit}"


def format_elapsed(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.2f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}m {rest:.2f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)}h {int(minutes)}m {rest:.2f}s"


def format_time_lean(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "    ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- finding and waking LM Studio -------------------------------------------------------------


def lmstudio_home() -> Path:
    """The home as `findLMStudioHome` resolves it (pointer file, legacy cache, default).

    Unlike LM Studio this never writes the pointer file: a simulator must not change a
    real user's home. `LMSTUDIO_SIM_HOME` names the home directly (for `--demo`).
    """
    override = os.environ.get(SIM_HOME_ENV)
    if override:
        return Path(override)
    # findLMStudioHome.ts (FORMATS §1.1), written here from that description rather than
    # by importing the app's resolver, so the two can disagree and a test can see it.
    user_home = Path(os.path.realpath(os.path.expanduser("~")))
    try:
        pointed = (user_home / ".lmstudio-home-pointer").read_text(encoding="utf-8").strip()
    except OSError:
        pointed = ""
    if pointed:
        return Path(pointed)
    legacy = user_home / ".cache" / "lm-studio"
    return legacy if legacy.is_dir() else user_home / ".lmstudio"


def http_json(
    url: str, *, body: Any = None, timeout: float = STATUS_TIMEOUT_SECONDS
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, None


class Daemon:
    """A running (simulated) LM Studio, reached through its control server."""

    def __init__(self, port: int) -> None:
        self.port = port

    def rpc(self, method: str, **params: Any) -> Any:
        _, answer = http_json(
            f"http://127.0.0.1:{self.port}/__sim/rpc",
            body={"method": method, "params": params},
            timeout=120,
        )
        if not isinstance(answer, dict):
            raise RpcError("Unexpected answer", "LM Studio gave an unexpected answer.")
        if "error" in answer:
            error = answer["error"]
            raise RpcError(str(error.get("title")), str(error.get("message")))
        return answer.get("result")


class Cli:
    def __init__(self, log: Logger) -> None:
        self.log = log
        self.home = lmstudio_home()
        self.internal = self.home / ".internal"

    def read_json(self, name: str) -> Any:
        try:
            return json.loads((self.internal / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def find_daemon(self) -> Daemon | None:
        """The daemon named by http-server.json, if it answers /lms-status."""
        info = self.read_json("http-server.json")
        if not isinstance(info, dict) or not isinstance(info.get("port"), int):
            return None
        try:
            status, body = http_json(f"http://127.0.0.1:{info['port']}/lms-status")
        except (OSError, ValueError):
            return None
        if (
            status == 200
            and isinstance(body, dict)
            and isinstance(body.get("package"), str)
            and isinstance(body.get("version"), str)
        ):
            return Daemon(info["port"])
        return None

    def connect(self) -> Daemon:
        """Find LM Studio, waking it when it is not running (createClient)."""
        daemon = self.find_daemon()
        if daemon is not None:
            return daemon
        location = None
        for name in ("llmster-install-location.json", "app-install-location.json"):
            candidate = self.read_json(name)
            if isinstance(candidate, dict) and isinstance(candidate.get("argv"), list):
                location = candidate
                break
        if location is None:
            self.log.error(
                "LM Studio daemon is not running and no valid installation could be found or "
                "installed."
            )
            self.fail_to_connect()
        self.log.info("Waking up LM Studio service...")
        self._spawn([str(a) for a in location["argv"]], location.get("cwd"))
        deadline = time.monotonic() + WAKE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            daemon = self.find_daemon()
            if daemon is not None:
                return daemon
            time.sleep(0.1)
        self.log.error("Timed out waiting for LM Studio daemon to start.")
        self.fail_to_connect()

    def fail_to_connect(self) -> NoReturn:
        self.log.error("Failed to start or connect to local LM Studio API server.")
        raise Exit(1)

    @staticmethod
    def _spawn(argv: list[str], cwd: str | None) -> None:
        options: dict[str, Any] = {
            "stdin": subprocess.DEVNULL,
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
            "cwd": cwd if cwd and os.path.isdir(cwd) else None,
        }
        if os.name == "nt":
            # Windows-only constants; getattr keeps type checkers on POSIX quiet.
            options["creationflags"] = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(
                subprocess, "CREATE_NEW_PROCESS_GROUP", 0
            )
        else:
            options["start_new_session"] = True
        subprocess.Popen(argv, **options)

    def server_config(self) -> dict[str, Any] | None:
        config = self.read_json("http-server-config.json")
        if isinstance(config, dict) and isinstance(config.get("port"), int):
            return config
        return None

    @staticmethod
    def greeting_ok(port: int, host: str | None) -> bool:
        """checkHttpServer (lms src/createClient.ts @ 07b7252d): 200 and `lmstudio ===
        true` within 500 ms, at the bind address as given — 0.0.0.0 too, as real lms
        does (which reaches this machine on Linux and macOS)."""
        host = "127.0.0.1" if host in (None, "") else host
        try:
            status, body = http_json(
                f"http://{host}:{port}/lmstudio-greeting", timeout=GREETING_TIMEOUT_SECONDS
            )
        except (OSError, ValueError):
            return False
        return status == 200 and isinstance(body, dict) and body.get("lmstudio") is True

    def call(self, daemon: Daemon, method: str, **params: Any) -> Any:
        """An RPC whose failure ends the command like an uncaught error would."""
        try:
            return daemon.rpc(method, **params)
        except RpcError as error:
            self.log.titled_error(error.title, error.message)
            raise Exit(1) from None


# --- argument parsing ----------------------------------------------------------------------------


class CommanderParser(argparse.ArgumentParser):
    """argparse that fails like commander: `error: …` on stderr, exit 1."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message}\n")
        raise Exit(1)


def refined_number(
    *, integer: bool, min_value: float, max_value: float | None = None
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                "Not an integer" if integer else "Not a number"
            ) from None
        if value < min_value or (max_value is not None and value > max_value):
            bound = (
                f"between {min_value:g} and {max_value:g}"
                if max_value is not None
                else f"at least {min_value:g}"
            )
            raise argparse.ArgumentTypeError(f"Number out of range, must be {bound}")
        return value

    return parse


def gpu_ratio(text: str) -> float:
    if text == "off":
        return 0.0
    if text == "max":
        return 1.0
    return refined_number(integer=False, min_value=0, max_value=1)(text)


def parser_for(prog: str) -> CommanderParser:
    parser = CommanderParser(prog=f"lms {prog}", add_help=True)
    parser.add_argument("--log-level", choices=Logger.LEVELS)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--host", help=argparse.SUPPRESS)
    return parser


def make_logger(args: argparse.Namespace) -> Logger:
    if sum([args.log_level is not None, args.verbose, args.quiet]) > 1:
        sys.stderr.write("Only one of --logLevel, --verbose, or --quiet can be specified.\n")
        raise Exit(1)
    return Logger("none" if args.quiet else "debug" if args.verbose else args.log_level or "info")
