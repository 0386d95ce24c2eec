#!/usr/bin/env python3
"""Refresh `tray/core/mcp_audit/known_packages.json`, the offline list of well-known MCP
server packages the audit's typosquat check (C5) compares against.

Keeps it simple: every name already on the list is looked up once on its registry (npm,
PyPI); names that no longer exist are dropped, names given with --add are added when they
exist, and the date is set to today. Nothing is guessed or searched in bulk.

    python scripts/refresh_known_mcp_packages.py [--add npm:@scope/pkg pypi:pkg ...] [--dry-run]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LIST = Path(__file__).resolve().parents[1] / "tray" / "core" / "mcp_audit" / "known_packages.json"


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def _exists(url: str) -> bool | None:
    """True/False from the registry; None when it could not say (network trouble)."""
    req = urllib.request.Request(url, headers={"Accept": "application/json"}, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError as exc:
        return False if exc.code == 404 else None
    except (urllib.error.URLError, TimeoutError):
        return None


def npm_exists(name: str) -> bool | None:
    return _exists("https://registry.npmjs.org/" + urllib.parse.quote(name, safe="@"))


def pypi_exists(name: str) -> bool | None:
    return _exists(f"https://pypi.org/pypi/{urllib.parse.quote(name)}/json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--add", nargs="*", default=[], help="npm:NAME or pypi:NAME to add")
    parser.add_argument("--dry-run", action="store_true", help="show changes, write nothing")
    args = parser.parse_args(argv)
    data = json.loads(LIST.read_text(encoding="utf-8"))
    for item in args.add:
        registry, _, name = item.partition(":")
        if registry not in {"npm", "pypi"} or not name:
            parser.error(f"--add wants npm:NAME or pypi:NAME, not {item!r}")
        data[registry] = sorted({*data[registry], name})
    unsure = 0
    for registry, check in (("npm", npm_exists), ("pypi", pypi_exists)):
        kept = []
        for name in data[registry]:
            found = check(name)
            if found is False:
                _say(f"dropped {registry}:{name} (not on the registry)")
                continue
            unsure += found is None
            kept.append(name)
        data[registry] = sorted(kept)
    if unsure:
        _say(f"{unsure} names could not be checked (network); kept them, date unchanged")
    else:
        data["date"] = dt.date.today().isoformat()
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    if args.dry_run:
        _say(text)
    else:
        LIST.write_text(text, encoding="utf-8")
        _say(f"wrote {LIST} ({len(data['npm'])} npm, {len(data['pypi'])} PyPI, {data['date']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
