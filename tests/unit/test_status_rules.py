from __future__ import annotations

import pytest

from tray.core.errors import (
    ApiError,
    AuthRequired,
    InvalidToken,
    MalformedJson,
    RequestTimeout,
    ServerUnreachable,
)
from tray.core.inventory import LoadedModelRow
from tray.core.mcp_audit import ExposureFacts
from tray.core.status import (
    PollPolicy,
    ServerState,
    ServerStatus,
    classify_failure,
    is_loopback_host,
)


@pytest.mark.parametrize(
    ("error", "local", "state"),
    [
        (ServerUnreachable("x"), True, ServerState.STOPPED),
        (ServerUnreachable("x"), False, ServerState.UNREACHABLE),
        (RequestTimeout("x"), True, ServerState.UNREACHABLE),
        (AuthRequired("x"), True, ServerState.AUTH_REQUIRED),
        (InvalidToken("x"), False, ServerState.AUTH_REQUIRED),
        (MalformedJson("x"), True, ServerState.ERROR),
        (ApiError("x"), True, ServerState.ERROR),
    ],
)
def test_failures_map_to_states(error: Exception, local: bool, state: ServerState) -> None:
    assert classify_failure(error, local=local) is state  # type: ignore[arg-type]


def test_poll_policy_is_fast_when_looked_at_slow_when_idle_and_backs_off_when_down() -> None:
    p = PollPolicy(interactive=2, idle=15, down_initial=5, down_max=120)
    assert p.next_delay(ServerState.UNREACHABLE, interactive=True, failures=9) == 2
    assert p.next_delay(ServerState.RUNNING, interactive=False, failures=0) == 15
    delays = [
        p.next_delay(ServerState.UNREACHABLE, interactive=False, failures=n) for n in range(1, 9)
    ]
    assert delays == [5, 10, 20, 40, 80, 120, 120, 120]
    # A stopped local server (refused on loopback) costs nothing to check: idle pace at most.
    local = [p.next_delay(ServerState.STOPPED, interactive=False, failures=n) for n in range(1, 5)]
    assert local == [5, 10, 15, 15]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("[::1]", True),
        ("127.1.2.3", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("lmstudio.lan", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_tooltip_names_url_state_models_and_demo() -> None:
    st = ServerStatus(
        url="http://127.0.0.1:1234",
        state=ServerState.RUNNING,
        demo=True,
        loaded=(LoadedModelRow(identifier="a", model_key="a", size_bytes=2_500_000_000),),
    )
    assert st.tooltip.splitlines() == [
        "LM Studio Tray — Demo (simulated LM Studio)",
        "Server running — http://127.0.0.1:1234",
        "1 model loaded (2.50 GB)",
    ]
    down = ServerStatus(url="http://h:1", state=ServerState.UNREACHABLE, error="Nothing answers.")
    assert "Demo" not in down.tooltip and down.tooltip.endswith("Nothing answers.")


def test_detail_lines_say_no_models_and_keep_the_gpu_line_when_it_is_unknown() -> None:
    from tray.core.gpu import GpuGap, GpuReport

    no_gpu = GpuReport(unavailable_reason="…", gaps=(GpuGap(vendor="NVIDIA"), GpuGap(vendor="AMD")))
    st = ServerStatus(url="http://127.0.0.1:1234", state=ServerState.RUNNING, gpu=no_gpu)
    assert st.detail_lines == (
        "No models loaded",
        "GPU memory: unknown — no NVIDIA or AMD GPU found",
    )
    down = st.model_copy(update={"state": ServerState.STOPPED, "error": "Nothing answers."})
    assert down.detail_lines[-1] == "GPU memory: unknown — no NVIDIA or AMD GPU found"


def test_config_items_say_why_they_cannot_work() -> None:
    from tray.core.backends import NO_HOME_REASON, BackendKind, capabilities_for, config_items

    lmstudio = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)
    openai = capabilities_for(BackendKind.OPENAI, lms_available=False)
    assert config_items(lmstudio, home_found=True) == {
        "presets": None,
        "profiles": None,
        "history": None,
    }
    items = config_items(openai, home_found=False)
    assert items["presets"] == NO_HOME_REASON
    assert items["profiles"] is not None and "OpenAI-compatible" in items["profiles"]
    assert items["history"] is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("localhost.", True),
        ("localhost.localdomain", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0:0:0:0:0:0:0:1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("::ffff:192.168.1.20", False),
        ("localhost.example.com", False),
        ("mylocalhost", False),
        ("gpu-box.lan", False),
        ("", False),
    ],
)
def test_one_loopback_rule_for_the_menu_the_audit_and_profiles(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
    # the MCP audit's view of LM Studio's interface follows the same rule
    assert ExposureFacts(network_interface=host).serves_lan is (not loopback)
