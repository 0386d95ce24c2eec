"""`lms log stream` of the fake `lms` (FORMATS §1.10): the banner on stderr, then the
simulated LM Studio's events as they happen — NDJSON on stdout with `--json`, LM Studio's
text form without — until SIGINT or SIGTERM (exit 0). Like the real one it wakes LM
Studio when it is not running, so the tray must never start it then.
"""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType
from typing import Any

from tray.simulator.lms_base import (
    Cli,
    Exit,
    RpcError,
    json_line,
    make_logger,
    parser_for,
    stdout_line,
)

__all__ = ["cmd_log"]

POLL_WAIT_SECONDS = 1.0
_FILTERS = {"input": ("input",), "output": ("output",), "input,output": ("input", "output")}
_STAT_KEYS = (
    "stopReason",
    "tokensPerSecond",
    "numGpuLayers",
    "timeToFirstTokenSec",
    "totalTimeSec",
    "promptTokensCount",
    "predictedTokensCount",
    "totalTokensCount",
)


class _Stopped(Exception):
    """SIGINT or SIGTERM: the real `lms log stream` ends with exit 0."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


def cmd_log(argv: list[str]) -> None:
    if not argv or argv[0] != "stream":
        sys.stderr.write(
            f"error: unknown command '{argv[0]}'\n" if argv else "Usage: lms log [command]\n"
        )
        raise Exit(1)
    parser = parser_for("log stream")
    parser.add_argument("-s", "--source", default="model", choices=("model", "server", "runtime"))
    parser.add_argument("--filter")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stats", action="store_true")
    args = parser.parse_args(argv[1:])
    log = make_logger(args)
    if args.stats and args.source != "model":
        log.error("--stats can only be used with --source model")
        raise Exit(1)
    # As lms does (src/subcommands/log.ts): the model source without --filter shows the
    # prompts only, and warns that this will change.
    wanted: tuple[str, ...] = ("input",)
    if args.filter is None and args.source == "model":
        log.warn(
            "WARNING: 'lms log stream' will show both user and assistant messages in future "
            "versions. To continue seeing only user messages, please use 'lms log stream "
            "--source model --filter input'"
        )
    if args.filter is not None:
        if args.source != "model":
            log.error("--filter can only be used with --source model")
            raise Exit(1)
        if not args.filter.strip():
            log.error("--filter cannot be empty")
            raise Exit(1)
        if args.filter.replace(" ", "") not in _FILTERS:
            log.error("--filter values must be 'input', 'output', or 'input,output'")
            raise Exit(1)
        wanted = _FILTERS[args.filter.replace(" ", "")]
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        cli = Cli(log)
        daemon = cli.connect()
        after = int(cli.call(daemon, "logLast"))
        sys.stderr.write("Streaming logs from LM Studio\n\n")
        sys.stderr.flush()
        while True:
            try:
                answer = daemon.rpc(
                    "logEvents", after=after, source=args.source, wait=POLL_WAIT_SECONDS
                )
            except (OSError, RpcError):
                log.error("Lost the connection to LM Studio.")
                raise Exit(1) from None
            after = int(answer["last"])
            for event in answer["events"]:
                kind = str(event["data"]["type"]).rsplit(".", 1)[-1]
                if args.source == "model" and kind not in wanted:
                    continue
                if args.json:
                    json_line(event)
                else:
                    _print_text(event, stats=args.stats)
    except _Stopped:
        return


def _print_text(event: dict[str, Any], *, stats: bool) -> None:
    data = event["data"]
    if data["type"] in ("server.log", "runtime.log"):
        stdout_line(str(data.get("content") or data.get("message") or ""))
        return
    stdout_line(f"timestamp: {event['timestamp']}")
    stdout_line(f"type: {data['type']}")
    stdout_line(f"modelIdentifier: {data.get('modelIdentifier')}")
    if data["type"] == "llm.prediction.input":
        stdout_line(f"modelPath: {data.get('modelPath')}")
        stdout_line(f"input: {json.dumps(data.get('input'))}")
    else:
        stdout_line(f"output: {json.dumps(data.get('output'))}")
        if stats:
            got = data.get("stats")
            if not got:
                stdout_line("No stats available")
            for key in _STAT_KEYS:
                if got and key in got:
                    stdout_line(f"{key}: {got[key]}")
    stdout_line("")
