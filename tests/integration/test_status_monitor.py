"""StatusMonitor against the simulator: states, what it costs per poll, when it looks again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from tray.core.backends import BackendKind
from tray.core.lms_output import LmsLoadedModel
from tray.core.status import PollPolicy, ServerState, ServerStatus
from tray.core.tokens import NoToken, StaticToken
from tray.services.lmstudio_client import LmStudioClient
from tray.services.lmstudio_home import current_server_config
from tray.services.lmstudio_version import local_lmstudio_version
from tray.services.status_monitor import PS_MIN_INTERVAL, StatusMonitor
from tray.simulator import Fault, Simulator
from tray.simulator.state import VERSION

TOKEN = "sk-lm-Zz9Yy8Xx:Ww7Vv6Uu5Tt4Ss3Rr2Qq"


def _monitor(
    http: httpx.AsyncClient, sim: Simulator, *, token: str | None = None, **kw: object
) -> StatusMonitor:
    provider = StaticToken(token) if token else NoToken()
    return StatusMonitor(
        LmStudioClient(http, sim.base_url, token_provider=provider),
        url=sim.base_url,
        anonymous=LmStudioClient(http, sim.base_url, token_provider=NoToken()),
        has_token=token is not None,
        **kw,  # type: ignore[arg-type]
    )


async def test_running_with_models_costs_one_request_per_poll(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    ident = sim.state.load("qwen/qwen3-4b", context_length=8192)
    monitor = _monitor(http, sim)
    for _ in range(3):
        status = await monitor.probe()
    assert status.state is ServerState.RUNNING
    assert status.auth_required is False
    assert status.version is None  # no version source: the greeting has none
    assert [(m.identifier, m.context_length) for m in status.loaded] == [(ident, 8192)]
    # The greeting only when the server comes up; then one cheap GET per poll.
    assert [(m, p) for m, p, _ in sim.state.requests] == [
        ("GET", "/api/v1/models"),
        ("GET", "/lmstudio-greeting"),
        ("GET", "/api/v1/models"),
        ("GET", "/api/v1/models"),
    ]


async def test_stopped_then_started_again(http: httpx.AsyncClient, sim: Simulator) -> None:
    monitor = _monitor(http, sim)
    assert (await monitor.probe()).state is ServerState.RUNNING
    port = sim.api_port
    sim.stop_api_server()
    down = await monitor.probe()
    assert down.state is ServerState.STOPPED  # loopback + refused = LM Studio's server is off
    assert down.loaded == ()
    assert down.error is not None and sim.base_url in down.error
    sim.start_api_server(port=port)
    assert (await monitor.probe()).state is ServerState.RUNNING


async def test_auth_required_without_token_and_running_auth_with_it(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.state.set_auth(TOKEN)
    anonymous = await _monitor(http, sim).probe()
    assert anonymous.state is ServerState.AUTH_REQUIRED
    assert anonymous.auth_required is True
    assert "token" in (anonymous.error or "").lower()

    wrong = await _monitor(http, sim, token="sk-lm-Zz9Yy8Xx:000000000000000000000").probe()
    assert wrong.state is ServerState.AUTH_REQUIRED

    monitor = _monitor(http, sim, token=TOKEN)
    ok = await monitor.probe()
    assert (ok.state, ok.auth_required) == (ServerState.RUNNING_AUTH, True)
    # A token-less request only on the up-transition, to learn that auth is on.
    before = len(sim.state.requests)
    await monitor.probe()
    assert all(had_auth for _, _, had_auth in sim.state.requests[before:])


async def test_token_sent_but_auth_off_is_plain_running(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    status = await _monitor(http, sim, token=TOKEN).probe()
    assert (status.state, status.auth_required) == (ServerState.RUNNING, False)


async def test_loop_publishes_changes_only_and_looks_at_once_when_interactive(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    updates: list[ServerStatus] = []
    slow = PollPolicy(interactive=0.05, idle=30, down_initial=30, down_max=30)
    monitor = _monitor(http, sim, policy=slow, on_update=updates.append)
    monitor.start()
    try:
        await _until(lambda: monitor.probes == 1 and len(monitor.delays) == 1)
        assert [u.state for u in updates] == [ServerState.RUNNING]
        assert list(monitor.delays) == [30]  # idle: the next look is 30 s away

        monitor.set_interactive(True)  # the menu opened: look now, then often
        await _until(lambda: monitor.probes >= 4)
        assert len(updates) == 1  # nothing changed, nothing published

        sim.state.load("qwen/qwen3-4b")
        await _until(lambda: len(updates) == 2)
        assert len(updates[-1].loaded) == 1
        monitor.set_interactive(False)
    finally:
        await monitor.stop()
    assert not monitor.running  # stopped means stopped: no loop left to look again


async def _until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    # Polling: what changes is the simulator's state, mutated on its own threads.
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_backs_off_while_down_and_recovers_at_the_next_fast_probe(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    policy = PollPolicy(interactive=0.05, idle=0.4, down_initial=0.05, down_max=3.2)
    port = sim.api_port
    sim.stop_api_server()
    monitor = _monitor(http, sim, policy=policy)
    monitor.start()
    try:
        await _until(lambda: monitor.probes >= 5)
        assert monitor.status.state is ServerState.STOPPED
        # Doubling, then capped at the idle pace: a refused loopback connection is free.
        assert list(monitor.delays)[:5] == [0.05, 0.1, 0.2, 0.4, 0.4]

        monitor.set_interactive(True)  # the menu opens: fast polling
        await _until(lambda: monitor.delays[-1] == 0.05)
        done = monitor.probes
        await _until(lambda: monitor.probes > done)  # a probe just ended; the next is 50 ms off
        sim.start_api_server(port=port)
        before = monitor.probes
        await _until(lambda: monitor.status.state is ServerState.RUNNING)
        # Seen at the very next probe after it came back, i.e. within one fast interval.
        assert monitor.probes == before + 1
    finally:
        await monitor.stop()


async def test_an_openai_compatible_server_is_watched_in_reduced_mode(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.state.load("qwen/qwen3-4b")
    monitor = _monitor(http, sim, kind=BackendKind.OPENAI)
    status = await monitor.probe()
    await monitor.probe()
    assert (status.state, status.kind, status.loaded) == (
        ServerState.RUNNING,
        BackendKind.OPENAI,
        (),
    )
    # Only the OpenAI endpoint: nothing LM Studio-specific is asked of such a server.
    assert {(m, p) for m, p, _ in sim.state.requests} == {("GET", "/v1/models")}


async def test_where_the_server_listens_is_read_at_each_look_and_only_for_this_machine(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    """LM Studio's settings say where it listens; the URL we poll always says 127.0.0.1."""
    config = sim.home / ".internal" / "http-server-config.json"
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "networkInterface": "0.0.0.0"}))
    monitor = _monitor(http, sim, server_config=lambda: current_server_config(sim.home))
    status = await monitor.probe()
    assert status.exposed is True
    assert status.listen_address == f"0.0.0.0:{sim.api_port}"
    assert "every network interface (0.0.0.0:" in status.tooltip

    config.write_text(json.dumps({**settings, "networkInterface": "127.0.0.1"}))
    status = await monitor.probe()  # flipped in LM Studio meanwhile: seen at the next look
    assert status.exposed is False and status.listen_address == f"127.0.0.1:{sim.api_port}"

    config.write_text("{ not json")  # unreadable: unknown, not a crash
    status = await monitor.probe()
    assert status.exposed is None and status.listen_address is None

    # The local settings say nothing about a server on another machine.
    config.write_text(json.dumps({**settings, "networkInterface": "0.0.0.0"}))
    remote = StatusMonitor(
        LmStudioClient(http, sim.base_url),
        url="http://gpu-box.lan:1234",
        server_config=lambda: current_server_config(sim.home),
    )
    assert remote._local is False
    assert await remote._read_server_config() is None


async def test_lms_ps_runs_only_while_looking_and_at_most_every_three_seconds(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    now = [1000.0]
    runs: list[float] = []

    async def ps() -> list[LmsLoadedModel]:
        runs.append(now[0])
        return []

    monitor = _monitor(http, sim, ps_source=ps, clock=lambda: now[0])
    await monitor.probe()
    assert runs == []  # nobody looks: polling never runs `lms`
    monitor.set_interactive(True)
    await monitor.probe()
    now[0] += 1.0
    await monitor.probe()  # a second later: the last result is recent enough
    assert runs == [1000.0]
    now[0] += PS_MIN_INTERVAL
    await monitor.probe()
    assert runs == [1000.0, 1001.0 + PS_MIN_INTERVAL] and monitor.ps_runs == 2


async def test_version_from_lm_studios_local_status_once_per_start(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    monitor = _monitor(http, sim, version_source=lambda: local_lmstudio_version(http, sim.home))
    for _ in range(2):
        status = await monitor.probe()
    assert status.version == VERSION
    assert [p for _, p, _ in sim.state.requests].count("/lmstudio-greeting") == 1


async def test_version_unknown_without_a_local_status(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    async def nothing() -> str | None:
        return None

    status = await _monitor(http, sim, version_source=nothing).probe()
    assert status.state is ServerState.RUNNING and status.version is None


async def test_a_version_in_the_greeting_is_tolerated(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    body = b'{"lmstudio": true, "version": "0.9.9"}'
    sim.faults.add(Fault(kind="status", path="/lmstudio-greeting", status=200, body=body))
    status = await _monitor(http, sim).probe()
    assert status.version == "0.9.9"
