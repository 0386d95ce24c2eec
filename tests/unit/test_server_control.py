"""The rules of server control: what the menu offers, what Stop does, which options are
valid, and the sentences shown for them."""

from __future__ import annotations

import pytest

from tray.core.backends import BackendKind, capabilities_for
from tray.core.lms_output import (
    DaemonState,
    LmsDaemonStatus,
    LmsServerStatus,
    ServerStartOutcome,
    ServerStopOutcome,
)
from tray.core.server_config import HttpServerConfig
from tray.core.server_control import (
    BindChoice,
    ServerActions,
    ServerOp,
    StopAction,
    bind_choice,
    bind_exposes,
    connect_host,
    plan_stop,
    port_in_use_message,
    seeded_options,
    server_actions,
    server_url,
    show_exposure_warning,
    start_message,
    stop_message,
    validate_start_options,
)
from tray.core.settings import ServerStartOptions
from tray.core.status import ServerState, ServerStatus

LMS = capabilities_for(BackendKind.LMSTUDIO, lms_available=True)
NO_LMS = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)
OPENAI = capabilities_for(BackendKind.OPENAI, lms_available=True)


# --- server_actions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "start", "stop", "restart"),
    [
        (ServerState.STOPPED, True, False, False),
        (ServerState.RUNNING, False, True, True),
        (ServerState.RUNNING_AUTH, False, True, True),
        (ServerState.AUTH_REQUIRED, False, True, True),
        (ServerState.STARTING, False, False, False),
        (ServerState.UNKNOWN, False, False, False),
        (ServerState.UNREACHABLE, True, True, True),
        (ServerState.ERROR, True, True, True),
    ],
)
def test_actions_follow_the_state(
    state: ServerState, start: bool, stop: bool, restart: bool
) -> None:
    actions = server_actions(state, LMS)
    assert (actions.start, actions.stop, actions.restart) == (start, stop, restart)
    anything_disabled = not (start and stop and restart)
    assert (actions.why_disabled is not None) == anything_disabled
    if actions.why_disabled:
        assert actions.why_disabled.endswith((".", "…"))


def test_the_reasons_say_what_the_state_is() -> None:
    assert server_actions(ServerState.STOPPED, LMS).why_disabled == "The server is not running."
    running = server_actions(ServerState.RUNNING, LMS).why_disabled
    assert running == "The server is already running."


@pytest.mark.parametrize("state", list(ServerState))
def test_without_server_control_nothing_is_offered_and_the_reason_is_given(
    state: ServerState,
) -> None:
    for caps, needle in ((NO_LMS, "`lms`"), (OPENAI, "OpenAI-compatible")):
        actions = server_actions(state, caps)
        assert (actions.start, actions.stop, actions.restart) == (False, False, False)
        assert actions.why_disabled is not None and needle in actions.why_disabled


@pytest.mark.parametrize("op", list(ServerOp))
def test_while_an_operation_runs_nothing_else_is_offered(op: ServerOp) -> None:
    actions = server_actions(ServerState.RUNNING, LMS, busy=op)
    assert actions == ServerActions(
        start=False, stop=False, restart=False, why_disabled=op.progress
    )
    assert op.progress.endswith("…")


def test_exposure_warning_only_when_known_exposed() -> None:
    base = ServerStatus(url="http://127.0.0.1:1234", state=ServerState.RUNNING)
    assert show_exposure_warning(base.model_copy(update={"exposed": True}))
    assert not show_exposure_warning(base.model_copy(update={"exposed": False}))
    assert not show_exposure_warning(base)  # unknown is not a warning


# --- plan_stop -------------------------------------------------------------------------

RUNNING = LmsServerStatus(running=True, port=1234)
NOT_RUNNING = LmsServerStatus(running=False, port=1234)


def daemon(*, is_daemon: bool | None, running: bool = True) -> LmsDaemonStatus:
    if not running:
        return LmsDaemonStatus(status=DaemonState.NOT_RUNNING)
    return LmsDaemonStatus(status=DaemonState.RUNNING, pid=4242, is_daemon=is_daemon)


def test_stop_a_server_the_headless_daemon_runs() -> None:
    plan = plan_stop(RUNNING, daemon(is_daemon=True))
    assert (plan.action, plan.port, plan.question) == (StopAction.STOP, 1234, None)


def test_stop_a_server_the_app_runs_needs_a_yes_and_says_why() -> None:
    plan = plan_stop(RUNNING, daemon(is_daemon=False))
    assert plan.action is StopAction.CONFIRM
    assert plan.reason is not None and plan.question is not None
    assert "LM Studio app (PID 4242)" in plan.reason
    assert "port 1234" in plan.reason
    assert plan.question.endswith("?")


def test_an_older_lms_that_does_not_say_who_runs_it_is_the_daemon() -> None:
    assert plan_stop(RUNNING, daemon(is_daemon=None)).action is StopAction.STOP


@pytest.mark.parametrize(
    ("server", "dmn"),
    [
        (NOT_RUNNING, daemon(is_daemon=False)),
        (NOT_RUNNING, daemon(is_daemon=True)),
        (RUNNING, daemon(is_daemon=None, running=False)),  # stale config: nothing runs
        (LmsServerStatus(running=False), daemon(is_daemon=None, running=False)),
    ],
)
def test_nothing_to_stop(server: LmsServerStatus, dmn: LmsDaemonStatus) -> None:
    plan = plan_stop(server, dmn)
    assert plan.action is StopAction.NOTHING
    assert plan.reason == "The server is not running."


# --- options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ServerStartOptions(),
        ServerStartOptions(port=1, bind="127.0.0.1"),
        ServerStartOptions(port=65535, bind="0.0.0.0", cors=True),
        ServerStartOptions(bind="::1"),
        ServerStartOptions(bind="[::]"),
        ServerStartOptions(bind="192.168.1.20"),
        ServerStartOptions(bind="localhost"),
    ],
)
def test_valid_options(options: ServerStartOptions) -> None:
    assert validate_start_options(options) == ()


def test_invalid_options_say_what_to_use_instead() -> None:
    (port,) = validate_start_options(ServerStartOptions(port=0))
    assert port == "Port 0 is not valid: use a number from 1 to 65535."
    (bind,) = validate_start_options(ServerStartOptions(bind="my laptop"))
    assert "“my laptop” is not an IP address" in bind and "0.0.0.0" in bind
    (empty,) = validate_start_options(ServerStartOptions(bind="  "))
    assert "empty" in empty
    assert len(validate_start_options(ServerStartOptions(port=0, bind="999.1.1.1"))) == 2


@pytest.mark.parametrize(
    ("bind", "choice", "exposes", "host"),
    [
        (None, BindChoice.LOOPBACK, False, "127.0.0.1"),
        ("127.0.0.1", BindChoice.LOOPBACK, False, "127.0.0.1"),
        ("0.0.0.0", BindChoice.ALL, True, "127.0.0.1"),
        ("::", BindChoice.CUSTOM, True, "127.0.0.1"),
        ("::1", BindChoice.CUSTOM, False, "::1"),
        ("127.0.0.2", BindChoice.CUSTOM, False, "127.0.0.2"),
        ("192.168.1.20", BindChoice.CUSTOM, True, "192.168.1.20"),
    ],
)
def test_bind_addresses(bind: str | None, choice: BindChoice, exposes: bool, host: str) -> None:
    assert bind_choice(bind) is choice
    assert bind_exposes(bind) is exposes
    assert connect_host(bind) == host


def test_urls() -> None:
    assert server_url(1234, None) == "http://127.0.0.1:1234"
    assert server_url(8080, "0.0.0.0") == "http://127.0.0.1:8080"
    assert server_url(8080, "::1") == "http://[::1]:8080"


# --- sentences -------------------------------------------------------------------------


def test_sentences() -> None:
    assert port_in_use_message(1234, None).startswith(
        "Another program is already listening on port 1234,"
    )
    assert "192.168.1.20:8080" in port_in_use_message(8080, "192.168.1.20")
    assert start_message(ServerStartOutcome(port=1234)) == "The server is running on port 1234."
    assert "network" in start_message(ServerStartOutcome(port=1234, accepts_network=True))
    assert stop_message(ServerStopOutcome(was_running=True, port=1234)) == (
        "Stopped the server on port 1234."
    )
    assert stop_message(ServerStopOutcome(was_running=False)) == "The server was not running."


# --- what Start uses until the user chooses ---------------------------------------------


@pytest.mark.parametrize(
    ("remembered", "config", "expected"),
    [
        # nothing chosen yet: LM Studio's own CORS and network settings are passed on
        (
            ServerStartOptions(),
            HttpServerConfig.model_validate({"cors": True, "networkInterface": "0.0.0.0"}),
            (None, "0.0.0.0", True),
        ),
        (ServerStartOptions(), HttpServerConfig.model_validate({}), (None, None, False)),
        (ServerStartOptions(), None, (None, None, False)),
        # the user's choice holds whatever LM Studio's file says
        (
            ServerStartOptions(port=8080, cors=False, remembered=True),
            HttpServerConfig.model_validate({"cors": True, "networkInterface": "0.0.0.0"}),
            (8080, None, False),
        ),
    ],
)
def test_start_options_follow_lm_studio_until_chosen(
    remembered: ServerStartOptions,
    config: HttpServerConfig | None,
    expected: tuple[int | None, str | None, bool],
) -> None:
    used = seeded_options(remembered, config)
    assert (used.port, used.bind, used.cors) == expected


@pytest.mark.parametrize(
    ("saved", "remembered"),
    [
        ({}, False),
        ({"port": None, "bind": None, "cors": False}, False),  # what every save wrote
        ({"cors": True}, True),
        ({"port": 8080}, True),
        ({"bind": "0.0.0.0", "cors": False}, True),
        ({"cors": True, "remembered": False}, False),
    ],
)
def test_options_saved_before_the_flag_count_as_chosen_when_not_the_defaults(
    saved: dict[str, object], remembered: bool
) -> None:
    assert ServerStartOptions.model_validate(saved).remembered is remembered
