"""The fake `lms`: LM Studio's CLI as the tray sees it — same commands, texts, output
channels and exit codes (FORMATS §1.2–1.13) — talking to a simulator's control server.

Like the real one it finds the LM Studio home via the pointer file, reads
`.internal/http-server.json`, probes `/lms-status`, and wakes LM Studio from
`.internal/llmster-install-location.json` when a command needs it. Logger text goes to
stderr, JSON and tables to stdout. Stdlib only (plus tray.core), as a separate process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tray.core.home import POINTER_FILE_NAME, resolve_home

__all__ = ["main"]

CLI_COMMIT = "8d2c1f5"
SIM_HOME_ENV = "LMSTUDIO_SIM_HOME"
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
    """`lms`'s logger: every level goes to stderr."""

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
        self._emit("warn", text)

    def error(self, text: str) -> None:
        self._emit("error", text)

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
    user_home = Path(os.path.realpath(os.path.expanduser("~")))
    try:
        content: str | None = (user_home / POINTER_FILE_NAME).read_text(encoding="utf-8")
    except OSError:
        content = None
    home, _ = resolve_home(
        user_home=user_home,
        pointer_content=content,
        legacy_cache_exists=(user_home / ".cache" / "lm-studio").is_dir(),
    )
    return home


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

    def _read_json(self, name: str) -> Any:
        try:
            return json.loads((self.internal / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def find_daemon(self) -> Daemon | None:
        """The daemon named by http-server.json, if it answers /lms-status."""
        info = self._read_json("http-server.json")
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
            candidate = self._read_json(name)
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
        config = self._read_json("http-server-config.json")
        if isinstance(config, dict) and isinstance(config.get("port"), int):
            return config
        return None

    @staticmethod
    def greeting_ok(port: int, host: str | None) -> bool:
        """checkHttpServer: 200 and `lmstudio === true` within 500 ms."""
        host = "127.0.0.1" if host in (None, "", "0.0.0.0") else host
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


# --- commands ----------------------------------------------------------------------------------


def cmd_server(argv: list[str]) -> None:
    sub = argv[0] if argv else ""
    rest = argv[1:]
    if sub == "start":
        parser = parser_for("server start")
        parser.add_argument(
            "-p", "--port", type=refined_number(integer=True, min_value=0, max_value=65535)
        )
        parser.add_argument("--bind")
        parser.add_argument("--cors", action="store_true")
        args = parser.parse_args(rest)
        log = make_logger(args)
        cli = Cli(log)
        daemon = cli.connect()
        if args.cors:
            log.warn(
                "CORS is enabled. This means any website you visit can use the LM Studio server."
            )
        env_bind = os.environ.get("LMS_SERVER_HOST") or None
        bind = args.bind or env_bind or "127.0.0.1"
        config = cli.server_config()
        port = (
            int(args.port)
            if args.port is not None
            else config["port"]
            if config
            else DEFAULT_SERVER_PORT
        )
        log.debug(f"Attempting to start the server on port {port}...")
        if bind != "127.0.0.1":
            log.warn(
                "Server will accept connections from the network. Only use this if you know "
                "what you are doing!"
            )
        cli.call(daemon, "startHttpServer", port=port, bind=bind, cors=args.cors)
        log.debug("Verifying the server is running...")
        for attempt in range(5):
            if cli.greeting_ok(port, bind):
                log.info(f"Success! Server is now running on port {port}")
                return
            if attempt < 4:
                time.sleep(0.2)
        log.error("Failed to verify the server is running. Please try to use another port.")
        raise Exit(1)
    if sub == "stop":
        log = make_logger(parser_for("server stop").parse_args(rest))
        cli = Cli(log)
        found = cli.find_daemon()
        config = cli.server_config()
        if (
            found is None
            or config is None
            or not cli.greeting_ok(config["port"], config.get("networkInterface"))
        ):
            log.error("The server is not running.")
            raise Exit(1)
        cli.call(found, "stopHttpServer")
        log.info(f"Stopped the server on port {config['port']}.")
        return
    if sub == "status":
        parser = parser_for("server status")
        parser.add_argument("--json", action="store_true")
        args = parser.parse_args(rest)
        log = make_logger(args)
        cli = Cli(log)
        config = cli.server_config()
        port = config["port"] if config else None
        running = config is not None and cli.greeting_ok(
            config["port"], config.get("networkInterface")
        )
        if args.json:
            json_line({"running": running} | ({"port": port} if port is not None else {}))
        elif running:
            log.info(f"The server is running on port {port}.")
        else:
            log.info("The server is not running.")
        return
    unknown_subcommand("server", sub, ("start", "stop", "status"))


def cmd_daemon(argv: list[str]) -> None:
    sub = argv[0] if argv else ""
    parser = parser_for(f"daemon {sub}")
    if sub in ("status", "up"):
        parser.add_argument("--json", action="store_true")
    elif sub != "down":
        unknown_subcommand("daemon", sub, ("up", "down", "status"))
    args = parser.parse_args(argv[1:])
    log = make_logger(args)
    cli = Cli(log)
    daemon = cli.find_daemon()
    if sub == "status":
        if daemon is None:
            if args.json:
                json_line({"status": "not-running"})
            else:
                log.info("LM Studio is not running")
            return
        info = cli.call(daemon, "getInfo")
        if args.json:
            json_line({"status": "running", "pid": info["pid"], "isDaemon": info["isDaemon"]})
        else:
            name = "llmster" if info["isDaemon"] else "LM Studio"
            log.info(f"{name} v{info['version']} is running (PID: {info['pid']})")
        return
    if sub == "up":
        woke = daemon is None
        info = cli.call(daemon or cli.connect(), "getInfo")
        if args.json:
            json_line({"status": "running"} | info)
        elif woke:
            log.info(f"llmster started (PID: {info['pid']}).")
        elif info["isDaemon"]:
            log.info(f"The daemon is already running (PID: {info['pid']}).")
        else:
            log.info(
                f"LM Studio is already running (PID: {info['pid']}); not starting a second daemon."
            )
        return
    if daemon is None:
        log.error("Daemon is not running.")
        raise Exit(1)
    if not cli.call(daemon, "getInfo")["isDaemon"]:
        log.error(
            "The daemon is currently running as part of LM Studio. Please exit LM Studio to "
            "stop it."
        )
        raise Exit(1)
    log.info("Shutting down llmster...")
    cli.call(daemon, "shutdown")
    deadline = time.monotonic() + 5
    while cli.find_daemon() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    log.info("Done.")


def unknown_subcommand(group: str, sub: str, known: Sequence[str]) -> NoReturn:
    if sub:
        sys.stderr.write(f"error: unknown command '{sub}'\n")
    else:
        sys.stderr.write(f"Usage: lms {group} [options] [command]\n\nCommands:\n")
        for name in known:
            sys.stderr.write(f"  {name}\n")
    raise Exit(1)


def cmd_ps(argv: list[str]) -> None:
    parser = parser_for("ps")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    log = make_logger(args)
    cli = Cli(log)
    loaded = cli.call(cli.connect(), "listLoaded")
    if args.json:
        json_line(loaded)
        return
    if not loaded:
        log.info("No models are currently loaded.\n\nTo load a model, run:\n\n    lms load\n")
        return
    now_ms = time.time() * 1000
    rows = [["IDENTIFIER", "MODEL", "STATUS", "SIZE", "CONTEXT", "PARALLEL", "DEVICE", "TTL"]]
    for m in loaded:
        ttl = ""
        if m["ttlMs"] is not None:
            left = max(0.0, (m["lastUsedTime"] + m["ttlMs"] - now_ms) / 1000)
            ttl = f"{format_time_lean(left)} / {format_time_lean(m['ttlMs'] / 1000)}"
        rows.append(
            [
                m["identifier"],
                m["modelKey"],
                m["status"].upper(),
                format_size(m["sizeBytes"], 1000),
                str(m["contextLength"]),
                "" if m["parallel"] is None else str(m["parallel"]),
                "Local",
                ttl,
            ]
        )
    stdout_line("")
    stdout_line(table(rows))
    stdout_line("")


def cmd_ls(argv: list[str]) -> None:
    parser = parser_for("ls")
    parser.add_argument("model_key", nargs="?")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--llm", action="store_true")
    parser.add_argument("--embedding", action="store_true")
    parser.add_argument("--detailed", action="store_true")
    args = parser.parse_args(argv)
    log = make_logger(args)
    if args.detailed:
        log.warn("The --detailed flag is deprecated.")
    cli = Cli(log)
    daemon = cli.connect()
    models = cli.call(daemon, "listDownloaded")
    if args.llm or args.embedding:
        wanted = {"llm"} if args.llm else set()
        wanted |= {"embedding"} if args.embedding else set()
        models = [m for m in models if m["type"] in wanted]
    if args.model_key is not None:
        models = [m for m in models if m["modelKey"] == args.model_key]
    if args.json:
        json_line(models)
        return
    if not models:
        stdout_line("You have not downloaded any models yet.")
        return
    loaded = {m["modelKey"] for m in cli.call(daemon, "listLoaded")}
    total = sum(m["sizeBytes"] for m in models)
    noun = "model" if len(models) == 1 else "models"
    stdout_line(
        f"You have {len(models)} {noun}, taking up {format_size(total, 1000)} of disk space."
    )
    for kind, title in (("llm", "LLM"), ("embedding", "EMBEDDING")):
        group = [m for m in models if m["type"] == kind]
        if not group:
            continue
        rows = [[title, "PARAMS", "ARCH", "SIZE", "DEVICE"]]
        for m in group:
            marker = "  ✓ LOADED" if m["modelKey"] in loaded else ""
            rows.append(
                [
                    m["modelKey"] + marker,
                    m.get("paramsString") or "",
                    m.get("architecture") or "",
                    format_size(m["sizeBytes"], 1000),
                    "Local",
                ]
            )
        stdout_line("")
        stdout_line(table(rows))
    stdout_line("")


def fuzzy_matches(query: str, keys: Sequence[str]) -> list[str]:
    """Keys matching like the `fuzzy` package: the query's characters in order; whole
    substrings rank first."""
    q = query.lower()

    def subsequence(key: str) -> bool:
        it = iter(key.lower())
        return all(ch in it for ch in q)

    exact = [k for k in keys if k.lower() == q]
    if exact:
        return exact
    return [k for k in keys if q in k.lower()] + [
        k for k in keys if q not in k.lower() and subsequence(k)
    ]


def cmd_load(argv: list[str]) -> None:
    parser = parser_for("load")
    parser.add_argument("model_key", nargs="?")
    parser.add_argument("-y", "--yes", action="store_true")
    parser.add_argument("--estimate-only", action="store_true")
    parser.add_argument("--gpu", type=gpu_ratio)
    parser.add_argument("-c", "--context-length", type=refined_number(integer=True, min_value=1))
    parser.add_argument("--parallel", type=refined_number(integer=True, min_value=1))
    parser.add_argument("--ttl", type=refined_number(integer=True, min_value=1))
    parser.add_argument("--identifier")
    parser.add_argument("--exact", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    log = make_logger(args)
    cli = Cli(log)
    daemon = cli.connect()
    models = cli.call(daemon, "listDownloaded")
    keys = [m["modelKey"] for m in models]
    if args.model_key is None:
        log.error(
            "No model key given, and the interactive model picker needs a terminal. "
            'Pass a model key (see "lms ls").'
        )
        raise Exit(1)
    if args.exact:
        matches = [m["modelKey"] for m in models if m["path"] == args.model_key]
    else:
        matches = fuzzy_matches(args.model_key, keys)
    if not matches:
        log.titled_error(
            "Model not found",
            f'No model found that matches path "{args.model_key}".\n\n'
            "To see a list of downloaded models, run:\n\n    lms ls",
        )
        raise Exit(1)
    if len(matches) > 1 and not args.yes:
        log.error(
            f'Several models match "{args.model_key}" and the interactive picker needs a '
            "terminal. Use -y to take the best match, or give the full model key."
        )
        raise Exit(1)
    key = matches[0]
    model = next(m for m in models if m["modelKey"] == key)
    if args.estimate_only:
        print_estimate(cli, daemon, key, args)
        return
    started = time.monotonic()
    loaded = with_spinner(
        log,
        key,
        lambda: cli.call(
            daemon,
            "load",
            modelKey=key,
            identifier=args.identifier,
            contextLength=None if args.context_length is None else int(args.context_length),
            parallel=None if args.parallel is None else int(args.parallel),
            ttlSeconds=None if args.ttl is None else int(args.ttl),
            gpuRatio=1.0 if args.gpu is None else args.gpu,
        ),
    )
    remember_loaded(cli, key)
    log.info(f"Model loaded successfully in {format_elapsed(time.monotonic() - started)}.")
    log.info(f"({format_size(model['sizeBytes'], 1024)})")
    log.info(f'To use the model in the API/SDK, use the identifier "{loaded["identifier"]}".')


SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_SECONDS = 0.05
SPINNER_HALF_LIFE = 1.0  # the simulated load reports no progress: approach 99% meanwhile


def with_spinner(log: Logger, key: str, load: Callable[[], Any]) -> Any:
    """Run `load` while redrawing `⠋ Loading <key> NN%` on stderr, as lms's spinner does
    (`\\r`, clear line, frame), ending at 100% on success."""
    if log.level > Logger.LEVELS.index("info"):
        return load()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = load()
        except BaseException as error:
            outcome["error"] = error
        finally:
            done.set()

    def frame(n: int, percent: int) -> None:
        glyph = SPINNER_FRAMES[n % len(SPINNER_FRAMES)]
        sys.stderr.write(f"\r\x1b[2K{glyph} Loading {key} {percent}%")
        sys.stderr.flush()

    threading.Thread(target=run, daemon=True).start()
    started, shown, n = time.monotonic(), -1, 0
    while not done.wait(0 if n == 0 else SPINNER_SECONDS):
        percent = int(99 * (1 - 0.5 ** ((time.monotonic() - started) / SPINNER_HALF_LIFE)))
        if percent > shown:
            frame(n, percent)
            shown = percent
        n += 1
    if "error" in outcome:
        sys.stderr.write("\r\x1b[2K")
        raise outcome["error"]
    frame(n, 100)
    sys.stderr.write("\r\x1b[2K")
    sys.stderr.flush()
    return outcome["value"]


def print_estimate(cli: Cli, daemon: Daemon, key: str, args: argparse.Namespace) -> None:
    estimate = cli.call(
        daemon,
        "estimate",
        modelKey=key,
        contextLength=None if args.context_length is None else int(args.context_length),
        gpuRatio=args.gpu,
    )
    base = 1024 if estimate.get("sizeUnits") == "GiB" else 1000
    memory = estimate["memory"]
    log = cli.log
    log.info(f"Model: {key}")
    if args.context_length is not None:
        log.info(f"Context Length: {int(args.context_length):,}")
    if args.gpu is not None:
        log.info(f"GPU Offload: {args.gpu * 100:g}%")
    log.info(f"Estimated GPU Memory:   {format_size(memory['totalVramBytes'], base)}")
    log.info(f"Estimated Total Memory: {format_size(memory['totalBytes'], base)}")
    if memory["confidence"] == "low":
        log.info("Confidence: LOW")
    verdict = "may be loaded" if estimate["passesGuardrails"] else "will fail to load"
    log.info(f"\nEstimate: This model {verdict} based on your resource guardrails settings.")


def remember_loaded(cli: Cli, key: str) -> None:
    """cli-pref.json keeps the last 20 loaded model keys, newest first."""
    pref = cli._read_json("cli-pref.json")
    pref = pref if isinstance(pref, dict) else {}
    last = [k for k in pref.get("lastLoadedModels", []) if k != key]
    pref["lastLoadedModels"] = [key, *last][:20]
    with contextlib.suppress(OSError):
        (cli.internal / "cli-pref.json").write_text(json.dumps(pref), encoding="utf-8")


def cmd_unload(argv: list[str]) -> None:
    parser = parser_for("unload")
    parser.add_argument("identifier", nargs="?")
    parser.add_argument("-a", "--all", action="store_true")
    args = parser.parse_args(argv)
    log = make_logger(args)
    cli = Cli(log)
    daemon = cli.connect()
    if args.all and args.identifier is not None:
        log.titled_error("Invalid Usage", "You cannot provide [path] when the flag --all is set.")
        return
    loaded = [m["identifier"] for m in cli.call(daemon, "listLoaded")]
    if args.all:
        if not loaded:
            log.info("No models to unload.")
            return
        for identifier in loaded:
            log.info(f'Unloading "{identifier}"...')
            cli.call(daemon, "unload", identifier=identifier)
        log.info(f"Unloaded {len(loaded)} models." if len(loaded) > 1 else "Unloaded 1 model.")
        return
    if args.identifier is not None:
        if args.identifier not in loaded:
            # exit code 0: the real command returns without process.exit(1)
            log.titled_error(
                "Model Not Found",
                f'Cannot find a model with the identifier "{args.identifier}".\n\n'
                "To see a list of loaded models, run:\n\n    lms ps",
            )
            return
        cli.call(daemon, "unload", identifier=args.identifier)
        log.info(f'Model "{args.identifier}" unloaded.')
        return
    if not loaded:
        log.info('You don\'t have any models loaded. Use "lms load" to load a model.')
        raise Exit(1)
    if len(loaded) == 1:
        cli.call(daemon, "unload", identifier=loaded[0])
        log.info(f'Model "{loaded[0]}" unloaded.')
        return
    stdout_line("! To unload all models, use the --all flag.")
    stdout_line("")
    log.error("Select a model to unload: the interactive picker needs a terminal.")
    raise Exit(1)


HANDLERS: dict[str, Callable[[list[str]], None]] = {
    "server": cmd_server,
    "daemon": cmd_daemon,
    "ps": cmd_ps,
    "ls": cmd_ls,
    "load": cmd_load,
    "unload": cmd_unload,
}

USAGE = """Usage: lms [options] [command]

LM Studio CLI (simulated)

Options:
  -v, --version   output the version number
  -h, --help      display help for command

Commands:
  ls              List all downloaded models
  ps              List all loaded models
  load            Load a model
  unload          Unload a model
  server          Commands for managing the local server
  daemon          Commands for managing the llmster daemon
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    if argv[0] in ("-v", "--version"):
        stdout_line(f"CLI commit: {CLI_COMMIT}")
        return 0
    handler = HANDLERS.get(argv[0])
    if handler is None:
        sys.stderr.write(f"error: unknown command '{argv[0]}'\n")
        return 1
    try:
        handler(argv[1:])
    except Exit as done:
        return done.code
    except (OSError, ValueError) as error:
        # An uncaught error in the real CLI prints its stack and exits 1.
        sys.stderr.write(f"Error: {error}\n")
        return 1
    return 0
