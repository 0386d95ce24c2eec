"""`lms load` of the fake `lms`: how the model is picked (fuzzy or `--exact`), the spinner,
the success and estimate texts (FORMATS §1.6)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tray.simulator.lms_base import (
    Cli,
    Daemon,
    Exit,
    Logger,
    format_elapsed,
    format_size,
    gpu_ratio,
    make_logger,
    parser_for,
    refined_number,
)

__all__ = ["cmd_load"]


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
