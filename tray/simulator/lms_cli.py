"""The fake `lms`: LM Studio's CLI as the tray sees it — same commands, texts, output
channels and exit codes (FORMATS §1.2–1.13) — talking to a simulator's control server.

Like the real one it finds the LM Studio home via the pointer file, reads
`.internal/http-server.json`, probes `/lms-status`, and wakes LM Studio from
`.internal/llmster-install-location.json` when a command needs it. Logger text goes to
stderr, JSON and tables to stdout. Stdlib only (plus tray.core), as a separate process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

from tray.simulator.lms_base import (
    CLI_COMMIT,
    DEFAULT_SERVER_PORT,
    Cli,
    Exit,
    format_size,
    format_time_lean,
    json_line,
    make_logger,
    older_lms,
    parser_for,
    refined_number,
    stdout_line,
    table,
)
from tray.simulator.lms_load import cmd_load
from tray.simulator.lms_log import cmd_log

__all__ = ["main"]


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
    "log": cmd_log,
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
  log             Log operations
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
    if argv[0] == "daemon" and older_lms():
        handler = None  # the group came with lms 5793881 (2025-11)
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
