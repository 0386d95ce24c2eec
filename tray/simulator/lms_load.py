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
    format_elapsed,
    format_size,
    gpu_ratio,
    make_logger,
    older_lms,
    parser_for,
    refined_number,
)

__all__ = ["cmd_load"]


def fuzzy_score(pattern: str, candidate: str) -> float | None:
    """npm `fuzzy` 0.1.3's `match`: the pattern's characters in order, case-insensitive;
    each matched character scores one more than twice the previous run's score, a miss
    resets the run, and the whole string equal to the pattern scores infinity. None: no
    match. Written from the package's documented algorithm."""
    pattern, text = pattern.lower(), candidate.lower()
    at, run, total = 0, 0, 0
    for ch in text:
        if at < len(pattern) and ch == pattern[at]:
            at += 1
            run += 1 + run
        else:
            run = 0
        total += run
    if at < len(pattern):
        return None
    return float("inf") if text == pattern else float(total)


def fuzzy_filter(pattern: str, candidates: Sequence[str]) -> list[int]:
    """npm `fuzzy.filter`: indices of the matching candidates, best score first, ties in
    the candidates' order."""
    scores = [fuzzy_score(pattern, c) for c in candidates]
    scored = [(score, i) for i, score in enumerate(scores) if score is not None]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [i for _, i in scored]


def by_last_loaded(cli: Cli, models: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """The downloaded models, the most recently loaded first (cli-pref.json's
    `lastLoadedModels`, keyed by `field`), as `lms load` sorts them before matching."""
    pref = cli.read_json("cli-pref.json")
    last = pref.get("lastLoadedModels", []) if isinstance(pref, dict) else []
    order = {name: i for i, name in enumerate(last)}
    return sorted(models, key=lambda m: order.get(m[field], len(order) + 1))


def pick_model(cli: Cli, models: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The model `lms load [--exact] -y <name>` loads (src/subcommands/load.ts @ 07b7252d;
    the older path matching @ 066002e^), or exit 1 with lms's own error."""
    log, name, older = cli.log, args.model_key, older_lms()
    field = "path" if older else "modelKey"
    models = by_last_loaded(cli, models, field)
    if args.exact:
        found = next((m for m in models if m["path"] == name), None)
        if found is None:
            log.titled_error(
                "Model not found",
                f'No model found with path being exactly "{name}".\n\n'
                "To disable exact matching, remove the --exact flag.\n\n"
                "To see a list of all downloaded models, run:\n\n    lms ls",
            )
            raise Exit(1)
        return found
    matches = fuzzy_filter(name, [m[field] for m in models])
    if not matches:
        what = "path" if older else "model key"
        log.titled_error(
            "Model not found",
            f'No model found that matches {what} "{name}".\n\n'
            "To see a list of all downloaded models, run:\n\n    lms ls\n\n"
            "To select a model interactively, remove the --yes flag:\n\n    lms load",
        )
        raise Exit(1)
    if len(matches) > 1:
        if not args.yes:
            log.error(
                "Several models match and the interactive picker needs a terminal "
                "(simulator). Pass -y."
            )
            raise Exit(1)
        if older:
            log.warn(f"{len(matches)} models match the provided path. Loading the first one.")
    return models[matches[0]]


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
    parser.add_argument("--exact", action="store_true")
    args = parser.parse_args(argv)
    log = make_logger(args)
    cli = Cli(log)
    daemon = cli.connect()
    models = cli.call(daemon, "listDownloaded")
    if args.model_key is None:
        log.error(
            "No model key given, and the interactive model picker needs a terminal. "
            'Pass a model key (see "lms ls").'
        )
        raise Exit(1)
    model = pick_model(cli, models, args)
    key = model["modelKey"]
    if args.estimate_only:
        print_estimate(cli, daemon, key, args)
        return
    started = time.monotonic()
    # The spinner names the key and shows a percentage since 2026-02, the path before.
    older = older_lms()
    loaded = with_spinner(
        f"Loading {model['path'] if older else key}",
        percent=not older,
        load=lambda: cli.call(
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
    remember_loaded(cli, model["path"] if older else key)
    elapsed = format_elapsed(time.monotonic() - started)
    size = format_size(model["sizeBytes"], 1000 if older else 1024)
    log.info(f"Model loaded successfully in {elapsed}.\n({size})")
    log.info(f'To use the model in the API/SDK, use the identifier "{loaded["identifier"]}".')


SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_SECONDS = 0.08  # lms's Spinner redraws every 80 ms
SPINNER_HALF_LIFE = 1.0  # the simulated load reports no progress: approach 99% meanwhile


def with_spinner(text: str, *, percent: bool, load: Callable[[], Any]) -> Any:
    """Run `load` while lms's Spinner (src/Spinner.ts @ 07b7252d) draws on stdout: each
    redraw `ESC[?25l` then `\\r<text>[ NN%] <frame>`, the frame last; at the end `\\rESC[K`
    and `ESC[?25h`. With `percent`, the text ends at 100% on success."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = load()
        except BaseException as error:
            outcome["error"] = error
        finally:
            done.set()

    def frame(n: int, shown: str) -> None:
        glyph = SPINNER_FRAMES[n % len(SPINNER_FRAMES)]
        sys.stdout.write(f"\x1b[?25l\r{shown} {glyph}")
        sys.stdout.flush()

    threading.Thread(target=run, daemon=True).start()
    started, n = time.monotonic(), 0
    while not done.wait(0 if n == 0 else SPINNER_SECONDS):
        share = int(99 * (1 - 0.5 ** ((time.monotonic() - started) / SPINNER_HALF_LIFE)))
        frame(n, f"{text} {share}%" if percent else text)
        n += 1
    if "value" in outcome and percent:
        frame(n, f"{text} 100%")
    sys.stdout.write("\r\x1b[K\x1b[?25h")
    sys.stdout.flush()
    if "error" in outcome:
        raise outcome["error"]
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
    """cli-pref.json keeps the last 20 loaded models (keys; paths in older lms), newest
    first."""
    pref = cli.read_json("cli-pref.json")
    pref = pref if isinstance(pref, dict) else {}
    last = [k for k in pref.get("lastLoadedModels", []) if k != key]
    pref["lastLoadedModels"] = [key, *last][:20]
    with contextlib.suppress(OSError):
        (cli.internal / "cli-pref.json").write_text(json.dumps(pref), encoding="utf-8")
