"""`history files|log|diff|restore|remote|push|pull`: the version history of presets, load
profiles, LM Studio's per-model defaults and `mcp.json`.

A version is named by its commit id or a unique prefix of it (as `history log` prints
it), or `latest`. Exit codes: 1 for a path never recorded or an unknown version (not
found), when a push is refused (pull first), a pull left files changed on both machines for
the user to choose, or the remote cannot be reached; 2 for a version prefix that matches
several versions or a remote URL that may not be one.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tray.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    Context,
    Result,
    add_command,
    add_group,
    text_message,
)
from tray.core.errors import ConfigError, NotFound
from tray.core.settings import Settings, remote_url_problem
from tray.services.history import (
    FileHistory,
    PullResult,
    PushResult,
    RemoteError,
    TrackedFile,
    Version,
    display_url,
)
from tray.services.tracked_labels import tracked_labels

__all__ = ["ORDER", "register"]

ORDER = 60
T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub,
        "history",
        "versions of presets, load profiles and mcp.json: files, log, diff, restore, share",
    )
    add_command(actions, "files", "every file the history holds", Command(cmd_files, _text_files))
    p = add_command(
        actions, "log", "the versions of PATH, newest first", Command(cmd_log, _text_log)
    )
    _path_argument(p)
    p = add_command(
        actions,
        "diff",
        "what changed from version REV to REV2 (default: the file as it is now)",
        Command(cmd_diff, _text_diff),
    )
    _path_argument(p)
    p.add_argument("rev", metavar="REV", help="a version (commit id or prefix, or latest)")
    p.add_argument("rev2", metavar="REV2", nargs="?", help="another version (default: now)")
    p = add_command(
        actions,
        "restore",
        "put version REV of PATH back (recorded as a new version)",
        Command(cmd_restore, text_message),
    )
    _path_argument(p)
    p.add_argument("rev", metavar="REV", help="a version (commit id or prefix)")
    p = add_command(
        actions,
        "remote",
        "show or set the git remote to share the history with ('' removes it)",
        Command(cmd_remote, text_message),
    )
    p.add_argument("url", metavar="URL", nargs="?", help="a git URL or a folder")
    add_command(actions, "push", "send the history to the remote", Command(cmd_push, text_message))
    add_command(
        actions,
        "pull",
        "bring the remote's history in (never drops a version)",
        Command(cmd_pull, _text_pull),
    )


# --- helpers -------------------------------------------------------------------------


def _path_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", type=Path, help="the file")


def _history(ctx: Context) -> FileHistory:
    return ctx.workspace.history


def _version_doc(v: Version) -> dict[str, Any]:
    return {
        "commit": v.commit,
        "time": v.timestamp.astimezone().isoformat(timespec="seconds"),
        "by": v.by,
        "deleted": v.deleted,
        "summary": v.summary,
        "message": v.message,
    }


def _short_time(iso: str) -> str:
    return iso[:16].replace("T", " ")


# --- files / log ---------------------------------------------------------------------


async def cmd_files(ctx: Context, args: argparse.Namespace) -> Result:
    history = _history(ctx)

    def read() -> list[tuple[TrackedFile, str]]:
        tracked = history.tracked()
        labels = tracked_labels(history, tracked)
        return [(t, labels[t.path].text) for t in tracked]

    tracked = await asyncio.to_thread(read)
    return {
        "files": [
            {
                "path": str(t.path),
                "label": label,  # "Preset: Coding", "Load profile: qwen/qwen3-4b", …
                "key": t.key,
                "deleted": t.deleted,
                "last": _version_doc(t.last_version) if t.last_version else None,
            }
            for t, label in tracked
        ]
    }, EXIT_OK


def _text_files(doc: dict[str, Any]) -> str:
    """Each file by its readable name, its path under it (what `log`, `diff` and
    `restore` take)."""
    if not doc["files"]:
        return "The history holds no file yet."
    lines = []
    for f in doc["files"]:
        last = f["last"]
        when = _short_time(last["time"]) if last else ""
        mark = "  (deleted)" if f["deleted"] else ""
        lines.append(f"{when:<16}  {f['label']}{mark}")
        lines.append(f"{'':<16}  {f['path']}")
    return "\n".join(lines)


async def cmd_log(ctx: Context, args: argparse.Namespace) -> Result:
    path = args.path.expanduser().absolute()
    versions = await asyncio.to_thread(_history(ctx).versions, path)
    if not versions:
        raise NotFound(f"{path} has never been recorded in the file history.", path=path)
    return {"path": str(path), "versions": [_version_doc(v) for v in versions]}, EXIT_OK


def _text_log(doc: dict[str, Any]) -> str:
    lines = [doc["path"]]
    for v in doc["versions"]:
        who = "outside" if v["by"] == "outside" else "tray"
        mark = " [deleted]" if v["deleted"] else ""
        lines.append(
            f"{v['commit'][:10]}  {_short_time(v['time'])}  {who:<7}  {v['summary']}{mark}"
        )
    return "\n".join(lines)


# --- diff / restore ------------------------------------------------------------------


async def cmd_diff(ctx: Context, args: argparse.Namespace) -> Result:
    path = args.path.expanduser().absolute()
    history = _history(ctx)
    rev_a = await asyncio.to_thread(history.resolve, path, args.rev)
    rev_b = await asyncio.to_thread(history.resolve, path, args.rev2) if args.rev2 else None
    diff = await asyncio.to_thread(history.diff, path, rev_a, rev_b)
    return {
        "path": str(path),
        "from": rev_a,
        "to": rev_b,
        "kind": diff.kind,
        "same": diff.same,
        "note": diff.note,
        "changes": [
            {"path": c.path, "label": c.label, "change": c.change, "old": c.old, "new": c.new}
            | {"text": c.text}
            for c in diff.changes
        ],
        "lines": [{"sign": line.sign, "text": line.text} for line in diff.lines()],
    }, EXIT_OK


def _text_diff(doc: dict[str, Any]) -> str:
    to = doc["to"][:10] if doc["to"] else "the current file"
    lines = [f"{doc['path']}: {doc['from'][:10]} → {to}"]
    lines += [f"{ln['sign'] if ln['sign'] != '@' else '#'} {ln['text']}" for ln in doc["lines"]]
    return "\n".join(lines)


async def cmd_restore(ctx: Context, args: argparse.Namespace) -> Result:
    path = args.path.expanduser().absolute()
    history = _history(ctx)
    rev = await asyncio.to_thread(history.resolve, path, args.rev)
    commit = await asyncio.to_thread(history.restore, path, rev)
    return {
        "path": str(path),
        "restored_from": rev,
        "commit": commit,
        "message": f"Restored {path} to version {rev[:10]} (recorded as {commit[:10]}).",
    }, EXIT_OK


# --- sharing ---------------------------------------------------------------------------


async def _synced(ctx: Context) -> FileHistory:
    """The history with the remote from Settings (the source of truth the window edits)."""
    history = _history(ctx)
    wanted = ctx.settings.history.remote_url
    if wanted and await asyncio.to_thread(history.remote) != wanted:
        await asyncio.to_thread(history.set_remote, wanted)
    return history


async def cmd_remote(ctx: Context, args: argparse.Namespace) -> Result:
    history = _history(ctx)
    if args.url is None:
        url = ctx.settings.history.remote_url or await asyncio.to_thread(history.remote)
        shown = display_url(url) if url else None
        text = f"History remote: {shown}" if shown else "No history remote is set."
        return {"remote": shown, "message": text}, EXIT_OK
    url = args.url.strip() or None
    problem = remote_url_problem(url) if url else None
    if problem:
        raise ConfigError(problem)  # exit 2: nothing saved anywhere

    def change(s: Settings) -> None:
        s.history.remote_url = url

    ctx.settings_service.update(change)
    await asyncio.to_thread(history.set_remote, url)
    shown = display_url(url) if url else None
    text = f"History remote set to {shown}." if shown else "History remote removed."
    return {"remote": shown, "message": text}, EXIT_OK


async def _share(ctx: Context, call: Callable[[FileHistory], T]) -> T | Result:
    """Run push or pull; an unreachable or refusing remote is exit 1 with its sentence."""
    history = await _synced(ctx)
    try:
        return await asyncio.to_thread(call, history)
    except RemoteError as exc:
        return {
            "error": {"title": exc.title, "message": exc.message, "kind": type(exc).__name__}
        }, EXIT_FAILED


async def cmd_push(ctx: Context, args: argparse.Namespace) -> Result:
    result = await _share(ctx, FileHistory.push)
    if not isinstance(result, PushResult):
        return result
    code = EXIT_FAILED if result.outcome == "rejected" else EXIT_OK
    return {"outcome": result.outcome, "head": result.head, "message": result.message}, code


def _pull_doc(result: PullResult) -> dict[str, Any]:
    conflict = result.conflict
    return {
        "outcome": result.outcome,
        "head": result.head,
        "message": result.message,
        "changed": [str(p) for p in result.changed],
        "written": [str(p) for p in result.written],
        "skipped": [str(p) for p in result.skipped],
        "conflict": None
        if conflict is None
        else {
            "ours": conflict.ours,
            "theirs": conflict.theirs,
            "files": [
                {"path": str(f.path), "ours": f.ours, "theirs": f.theirs} for f in conflict.files
            ],
        },
    }


async def cmd_pull(ctx: Context, args: argparse.Namespace) -> Result:
    result = await _share(ctx, FileHistory.pull)
    if not isinstance(result, PullResult):
        return result
    return _pull_doc(result), EXIT_FAILED if result.conflict else EXIT_OK


def _text_pull(doc: dict[str, Any]) -> str:
    if "error" in doc:
        return text_message(doc)
    lines = [doc["message"]]
    lines += [f"  updated: {p}" for p in doc["written"]]
    lines += [f"  left alone (changed here): {p}" for p in doc["skipped"]]
    if doc["conflict"]:
        for f in doc["conflict"]["files"]:
            theirs = f["theirs"][:10] if f["theirs"] else "(deleted there)"
            lines.append(
                f"  both changed: {f['path']} — kept this machine's; the other is version "
                f"{theirs} (`history restore {f['path']} {theirs}` to take it)"
            )
    return "\n".join(lines)
