"""The second baseline of the memory benchmark: the *same-stack floor* (issue 20).

The bare tray (bare_tray.py) shown on a qasync loop that has imported what any tray of
this stack must — httpx, pydantic and keyring — and polls one URL with an
`httpx.AsyncClient` every 15 s, validating the answer with a pydantic model, as the tray's
status monitor does; SIGTERM ends it. keyring is imported, its backend not chosen: idle
needs no token. What
the app holds above this floor is the app's own doing; DESIGN.md's long-term budget stays
the bare tray.

    python floor_tray.py URL
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

# The tray blocks httpx's unused command-line client the same way (tray/app.py): a floor
# that loaded click and rich would flatter the app.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402
import keyring  # noqa: E402, F401  (imported, as the stack is: no backend is chosen)
import qasync  # noqa: E402
from bare_tray import tray_icon  # noqa: E402
from pydantic import BaseModel, ConfigDict, ValidationError  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

POLL_SECONDS = 15.0


class Listing(BaseModel):
    """The answer, validated as the tray validates it: a stack that imports pydantic
    uses it (defining and validating a model loads pydantic's schema machinery)."""

    model_config = ConfigDict(extra="allow")
    models: list[dict[str, object]] = []


async def poll(url: str) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError, ValidationError, ValueError):
                Listing.model_validate((await client.get(url)).json())
            await asyncio.sleep(POLL_SECONDS)


def main() -> int:
    url = sys.argv[1]
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    keep = tray_icon(app)
    qasync.run(poll(url))  # until SIGTERM ends the process, as for the bare tray
    del keep
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
