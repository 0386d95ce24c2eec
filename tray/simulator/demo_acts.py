"""What the demo's "Demo" menu makes happen in the simulated LM Studio, so notifications
and recovery can be seen without waiting for them: a token becomes required, a model is
evicted for being idle, another app starts a long generation with more queued behind it,
and `mcp.json` changes behind the tray's back.

Each is what real LM Studio does when the same thing happens to it (FORMATS §3.2 on
authentication, §1.5 on TTL eviction and the queue, §2.8 on `mcp.json`); only the trigger
is the demo's. Reached through the control server's RPC as `demo.<name>`.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import threading
import time
from pathlib import Path
from typing import Any

from tray.simulator.state import SimError, SimState, v1_error

__all__ = ["BUSY_SECONDS", "demo_act", "demo_token"]

BUSY_SECONDS = 25.0  # how long the "other app's" generation runs
QUEUED_BEHIND = 2  # requests waiting behind it
_ALNUM = string.ascii_letters + string.digits


def demo_token() -> str:
    """A token of LM Studio's shape (`sk-lm-<8>:<20>`, FORMATS §2.9), new each time."""
    pick = secrets.choice
    return (
        "sk-lm-"
        + "".join(pick(_ALNUM) for _ in range(8))
        + ":"
        + "".join(pick(_ALNUM) for _ in range(20))
    )


def demo_act(state: SimState, home: Path, method: str, params: dict[str, Any]) -> Any:
    """Run `demo.<name>`; its result for the menu to report."""
    name = method.removeprefix("demo.")
    if name == "requireToken":
        token = demo_token()
        state.set_auth(token)
        return {"token": token}
    if name == "allowWithoutToken":
        state.set_auth(None)
        return {}
    if name == "evictIdle":
        return {"identifier": _evict_one(state)}
    if name == "startLongGeneration":
        return {"identifier": _keep_busy(state), "seconds": BUSY_SECONDS}
    if name == "changeMcpJson":
        return {"server": _add_mcp_server(home / "mcp.json")}
    raise ValueError(f"unknown method {method!r}")


def _loaded_llms(state: SimState) -> list[str]:
    with state.locked():
        return [i for i, inst in state.instances.items() if inst.model.is_llm]


def _nothing_loaded() -> SimError:
    return SimError(400, v1_error("No model is loaded.", type="invalid_request"))


def _evict_one(state: SimState) -> str:
    """The idle timeout of one loaded model (the one with a timeout first) runs out now;
    the next sweep evicts it, as LM Studio's own TTL would."""
    with state.locked():
        idle = [(i, inst) for i, inst in state.instances.items() if inst.queued == 0]
        if not idle:
            raise _nothing_loaded()
        identifier, instance = max(idle, key=lambda pair: pair[1].ttl_seconds is not None)
        instance.ttl_seconds = 0.0
        instance.touch()
        return identifier


def _keep_busy(state: SimState) -> str:
    """Another app asks the first loaded LLM for a long answer, with more behind it."""
    llms = _loaded_llms(state)
    if not llms:
        raise _nothing_loaded()
    identifier = llms[0]

    def request(seconds: float) -> None:
        with state.busy(identifier) as instance:
            state.set_status(instance, "generating")
            time.sleep(seconds)

    # The first generates for the whole time; those behind it keep the queue counted.
    for seconds in (BUSY_SECONDS, *([BUSY_SECONDS - 1.0] * QUEUED_BEHIND)):
        threading.Thread(target=request, args=(seconds,), daemon=True).start()
    return identifier


def _add_mcp_server(path: Path) -> str:
    """What an "Add to LM Studio" button on a web page does: a new server in mcp.json."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    servers = doc.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        servers = doc["mcpServers"] = {}
    name = "shell"
    number = 2
    while name in servers:
        name, number = f"shell-{number}", number + 1
    servers[name] = {"command": "npx", "args": ["-y", "mcp-shell-server"]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return name
