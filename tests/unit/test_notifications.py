"""Notification rules: only what the user did not do, once, switchable, never a storm."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tray.core.gpu import GpuDevice, GpuReport
from tray.core.inventory import LoadedModelRow
from tray.core.notifications import (
    VRAM_HYSTERESIS_POINTS,
    Notice,
    NoticeKind,
    NotificationRules,
    RateLimit,
    Severity,
)
from tray.core.settings import NotificationSettings
from tray.core.status import ServerState, ServerStatus

URL = "http://127.0.0.1:1234"
GB = 10**9


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def row(identifier: str, *, ttl: float | None = None, size: int | None = GB) -> LoadedModelRow:
    return LoadedModelRow(
        identifier=identifier, model_key=identifier, size_bytes=size, ttl_seconds=ttl
    )


def up(*loaded: LoadedModelRow, **kw: object) -> ServerStatus:
    return ServerStatus(url=URL, state=ServerState.RUNNING, loaded=loaded, **kw)


def down(state: ServerState = ServerState.STOPPED, **kw: object) -> ServerStatus:
    return ServerStatus(url=URL, state=state, **kw)


def gpu(used_percent: float) -> GpuReport:
    return GpuReport(
        devices=(
            GpuDevice(
                name="g", used_bytes=int(used_percent * GB), total_bytes=100 * GB, source="x"
            ),
        )
    )


def kinds(notices: Sequence[Notice]) -> list[NoticeKind]:
    return [n.kind for n in notices]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rules(clock: Clock) -> NotificationRules:
    return NotificationRules(NotificationSettings(), clock=clock)


def feed(
    rules: NotificationRules, clock: Clock, *statuses: ServerStatus, step: float = 0
) -> list[Notice]:
    out: list[Notice] = []
    for s in statuses:
        clock.now += step
        out += rules.observe(s)
    return out


# --- server stopped ------------------------------------------------------------------


def test_server_stopping_on_its_own_is_told_once(rules: NotificationRules) -> None:
    assert rules.observe(up()) == []
    (notice,) = rules.observe(down(error="Nothing answers at http://127.0.0.1:1234."))
    assert notice.kind is NoticeKind.SERVER_STOPPED
    assert notice.severity is Severity.WARNING
    assert notice.title == "LM Studio server stopped"
    assert "http://127.0.0.1:1234 stopped without being asked to" in notice.message
    assert "Nothing answers" in notice.message
    # Still down, through other down-ish states: not again until it was up again.
    assert rules.observe(down(ServerState.UNREACHABLE)) == []
    assert rules.observe(down(ServerState.ERROR)) == []
    assert rules.observe(down()) == []


def test_server_down_from_the_start_is_not_news(rules: NotificationRules) -> None:
    assert rules.observe(down()) == []
    assert rules.observe(down(ServerState.UNREACHABLE)) == []


def test_a_transient_error_between_up_and_down_still_counts(
    rules: NotificationRules, clock: Clock
) -> None:
    assert kinds(feed(rules, clock, up(), down(ServerState.ERROR), down())) == [
        NoticeKind.SERVER_STOPPED
    ]


def test_a_stop_the_user_asked_for_is_not_news(rules: NotificationRules, clock: Clock) -> None:
    rules.observe(up())
    rules.expect_stop()
    assert rules.observe(down()) == []
    # The expectation was used up: the next unexpected stop is news again.
    clock.now += 3600
    assert kinds(feed(rules, clock, up(), down())) == [NoticeKind.SERVER_STOPPED]


def test_an_expected_stop_that_never_came_expires(rules: NotificationRules, clock: Clock) -> None:
    rules.observe(up())
    rules.expect_stop(within=60)
    clock.now += 61
    assert kinds(rules.observe(down())) == [NoticeKind.SERVER_STOPPED]


def test_switching_profiles_is_not_a_stop(rules: NotificationRules) -> None:
    rules.observe(up(row("a")))
    other = ServerStatus(url="http://10.0.0.2:1234", state=ServerState.UNREACHABLE)
    assert rules.observe(other) == []
    assert rules.observe(ServerStatus(url="http://10.0.0.2:1234", state=ServerState.RUNNING)) == []


# --- model evicted -------------------------------------------------------------------


def test_a_model_evicted_by_ttl_is_told_once_with_its_ttl(rules: NotificationRules) -> None:
    rules.observe(up(row("qwen/qwen3-4b", ttl=600), row("embed")))
    rules.observe(up(row("qwen/qwen3-4b"), row("embed")))  # lms ps not run this time: TTL kept
    (notice,) = rules.observe(up(row("embed")))
    assert notice.kind is NoticeKind.MODEL_EVICTED
    assert notice.key == "model_evicted:qwen/qwen3-4b"
    assert notice.title == "Model unloaded by LM Studio"
    assert notice.message == (
        "LM Studio unloaded qwen/qwen3-4b. It had an idle time-to-live of 10 minutes."
    )
    assert rules.observe(up(row("embed"))) == []


def test_a_model_evicted_without_known_ttl(rules: NotificationRules) -> None:
    rules.observe(up(row("a")))
    (notice,) = rules.observe(up())
    assert notice.message == "LM Studio unloaded a."


def test_several_evicted_at_once_are_one_notice(rules: NotificationRules) -> None:
    rules.observe(up(row("a", ttl=3600), row("b"), row("c", ttl=45)))
    (notice,) = rules.observe(up(row("b")))
    assert notice.key == "model_evicted:a,c"
    assert notice.title == "Models unloaded by LM Studio"
    assert notice.message == (
        "LM Studio unloaded 2 models: a (idle time-to-live 1 hour), "
        "c (idle time-to-live 45 seconds)."
    )


def test_ejecting_is_not_eviction(rules: NotificationRules) -> None:
    rules.observe(up(row("a"), row("b"), row("c")))
    rules.expect_unload("a")
    assert rules.observe(up(row("b"), row("c"))) == []
    rules.expect_unload_all()
    assert rules.observe(up()) == []


def test_an_expected_unload_is_used_once(rules: NotificationRules, clock: Clock) -> None:
    rules.observe(up(row("a")))
    rules.expect_unload("a")
    rules.observe(up())
    clock.now += 3600  # past the rate limit window
    rules.observe(up(row("a")))  # loaded again, then evicted by LM Studio
    assert kinds(rules.observe(up())) == [NoticeKind.MODEL_EVICTED]


def test_an_expected_unload_expires(rules: NotificationRules, clock: Clock) -> None:
    rules.observe(up(row("a")))
    rules.expect_unload("a", within=10)
    clock.now += 11
    assert kinds(rules.observe(up())) == [NoticeKind.MODEL_EVICTED]


def test_models_gone_with_the_server_are_not_evictions(
    rules: NotificationRules, clock: Clock
) -> None:
    rules.observe(up(row("a")))
    rules.expect_stop()
    assert feed(rules, clock, down(), up()) == []
    # Nor while the model list is unknown (a token needed, a bad answer): compare later.
    auth = ServerStatus(url=URL, state=ServerState.AUTH_REQUIRED)
    assert feed(rules, clock, up(row("b")), auth, down(ServerState.ERROR), up(row("b"))) == []
    assert kinds(rules.observe(up())) == [NoticeKind.MODEL_EVICTED]


STARTING = ServerStatus(url=URL, state=ServerState.STARTING)


def test_a_restart_by_the_user_is_silent(rules: NotificationRules, clock: Clock) -> None:
    rules.observe(up(row("a")))
    rules.expect_stop()
    assert feed(rules, clock, down(), STARTING, up()) == []
    # A restart so quick that no poll saw it down: the models it had are not "evicted",
    rules.expect_stop()
    assert feed(rules, clock, up(row("a")), STARTING, up()) == []
    # and the stop it expected does not hide a crash that comes after.
    assert kinds(rules.observe(down())) == [NoticeKind.SERVER_STOPPED]


def test_a_start_that_fails_is_not_a_stop(rules: NotificationRules, clock: Clock) -> None:
    rules.observe(up())
    rules.expect_stop()
    assert feed(rules, clock, down(), STARTING, down()) == []


# --- VRAM ----------------------------------------------------------------------------


def test_vram_crossing_the_threshold_once_with_hysteresis(
    rules: NotificationRules, clock: Clock
) -> None:
    assert rules.settings.vram_threshold_percent == 90
    assert rules.observe(up(gpu=gpu(50))) == []
    big = row("big", size=80 * GB)
    (notice,) = rules.observe(up(big, gpu=gpu(93)))
    assert notice.kind is NoticeKind.VRAM_HIGH
    assert notice.message.startswith(
        "GPU memory is 93% used (93.00 GB of 100.00 GB), above your 90% threshold. "
        "LM Studio's loaded models take 80.00 GB."
    )
    clock.now += 3600  # far past any rate limit: only the hysteresis holds it back
    below = 90 - VRAM_HYSTERESIS_POINTS
    assert feed(rules, clock, *(up(big, gpu=gpu(p)) for p in (89, 95, below, 91))) == []
    assert rules.observe(up(big, gpu=gpu(below - 0.5))) == []  # re-armed below 85
    assert kinds(rules.observe(up(big, gpu=gpu(90)))) == [NoticeKind.VRAM_HIGH]


def test_vram_unknown_changes_nothing(rules: NotificationRules) -> None:
    unknown = GpuReport(unavailable_reason="no GPU")
    partial = GpuReport(devices=(GpuDevice(name="g", total_bytes=GB, source="x"),))
    assert [rules.observe(up(gpu=g)) for g in (None, unknown, partial)] == [[], [], []]
    assert kinds(rules.observe(up(gpu=gpu(99)))) == [NoticeKind.VRAM_HIGH]


def test_vram_threshold_follows_the_settings(rules: NotificationRules) -> None:
    rules.settings = NotificationSettings(vram_threshold_percent=60)
    assert kinds(rules.observe(up(gpu=gpu(70)))) == [NoticeKind.VRAM_HIGH]


def test_vram_high_while_the_server_is_down_is_still_news(rules: NotificationRules) -> None:
    (notice,) = rules.observe(down(gpu=gpu(97)))
    assert "LM Studio's loaded models" not in notice.message


# --- exposed -------------------------------------------------------------------------


def test_exposed_once_per_up_period_and_at_first_sight(
    rules: NotificationRules, clock: Clock
) -> None:
    (notice,) = rules.observe(up(exposed=True, listen_address="0.0.0.0:1234"))
    assert notice.kind is NoticeKind.EXPOSED
    assert notice.severity is Severity.WARNING
    assert "authentication off" in notice.message
    # where it really listens, not the loopback URL the tray talks to, and the fix
    assert "every network interface (0.0.0.0:1234)" in notice.message
    assert URL not in notice.message and "Serve on this computer only" in notice.message
    assert feed(rules, clock, up(exposed=True), up(exposed=False), up(exposed=True)) == []
    clock.now += 3600
    rules.expect_stop()
    assert kinds(feed(rules, clock, down(), up(exposed=None), up(exposed=True))) == [
        NoticeKind.EXPOSED
    ]


def test_exposed_again_after_a_quick_restart(rules: NotificationRules, clock: Clock) -> None:
    assert kinds(rules.observe(up(exposed=True))) == [NoticeKind.EXPOSED]
    clock.now += 3600
    starting = ServerStatus(url=URL, state=ServerState.STARTING)
    assert kinds(feed(rules, clock, starting, up(exposed=True))) == [NoticeKind.EXPOSED]


def test_not_exposed_is_never_news(rules: NotificationRules, clock: Clock) -> None:
    assert feed(rules, clock, up(exposed=False), up(exposed=None), up(exposed=False)) == []


# --- off switches and the rate limit -------------------------------------------------


# The kinds a status brings (the Activity stream's are admitted through `admit`).
STATUS_KINDS = [
    k for k in NoticeKind if k not in (NoticeKind.CONTEXT_FULL, NoticeKind.PREDICTION_FAILED)
]


@pytest.mark.parametrize("kind", STATUS_KINDS)
def test_each_kind_has_an_off_switch(clock: Clock, kind: NoticeKind) -> None:
    rules = NotificationRules(NotificationSettings(**{kind.value: False}), clock=clock)
    statuses = [up(row("a"), exposed=True, gpu=gpu(95)), up(gpu=gpu(95)), down()]
    got = kinds(feed(rules, clock, *statuses))
    assert kind not in got
    assert len(got) == len(STATUS_KINDS) - 1
    # Switching it on later does not replay the event it missed.
    rules.settings = NotificationSettings()
    assert rules.observe(down()) == []


def test_a_flapping_server_is_not_a_storm(rules: NotificationRules, clock: Clock) -> None:
    notices = feed(rules, clock, *[s for _ in range(200) for s in (up(), down())], step=0.5)
    assert kinds(notices) == [NoticeKind.SERVER_STOPPED]
    # 200 s later, past the 300 s window: the next one gets through and says what was held.
    clock.now += 300
    (notice,) = feed(rules, clock, up(), down())
    assert notice.suppressed == 199
    assert notice.message.endswith("(199 similar notifications were held back to avoid a flood.)")
    clock.now += 300
    (quiet,) = feed(rules, clock, up(), down())
    assert quiet.suppressed == 0 and "held back" not in quiet.message


def test_rate_limit_is_per_kind(rules: NotificationRules) -> None:
    rules.observe(up(row("a")))
    assert kinds(rules.observe(up(exposed=True, gpu=gpu(99)))) == [
        NoticeKind.MODEL_EVICTED,
        NoticeKind.VRAM_HIGH,
        NoticeKind.EXPOSED,
    ]
    assert kinds(rules.observe(down())) == [NoticeKind.SERVER_STOPPED]


def test_a_wider_limit(clock: Clock) -> None:
    rules = NotificationRules(
        NotificationSettings(), clock=clock, limit=RateLimit(count=3, window_seconds=60)
    )
    got = feed(rules, clock, *[s for _ in range(10) for s in (up(), down())], step=1)
    assert len(got) == 3
    clock.now += 60
    (notice,) = feed(rules, clock, up(), down())
    assert notice.suppressed == 7


# --- no sequence of statuses yields more than the limit ------------------------------

MODELS = ["a", "b", "c"]
status_strategy = st.builds(
    lambda state, loaded, exposed, used, url: ServerStatus(
        url=url,
        state=state,
        loaded=tuple(row(m, ttl=60) for m in loaded),
        exposed=exposed,
        gpu=gpu(used) if used is not None else None,
    ),
    # mostly up and down, where the news is; the other states now and then
    state=st.sampled_from([ServerState.RUNNING, ServerState.STOPPED] * 3 + list(ServerState)),
    loaded=st.lists(st.sampled_from(MODELS), unique=True),
    exposed=st.sampled_from([None, False, True]),
    used=st.none() | st.floats(min_value=0, max_value=100),
    url=st.sampled_from([URL, URL, URL, "http://10.0.0.2:1234"]),
)
# What the user does before a status arrives, now and then.
user_strategy = st.sampled_from([None] * 6 + ["stop", "unload_all", *MODELS])


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            status_strategy,
            user_strategy,
            st.sampled_from([0.0, 0.5, 5.0]) | st.floats(min_value=0, max_value=200),
        ),
        max_size=80,
    ),
    count=st.integers(min_value=1, max_value=3),
    window=st.floats(min_value=1, max_value=900),
    switched_off=st.sets(st.sampled_from(list(NoticeKind))),
)
def test_no_sequence_exceeds_the_limit(
    steps: list[tuple[ServerStatus, str | None, float]],
    count: int,
    window: float,
    switched_off: set[NoticeKind],
) -> None:
    clock = Clock()
    prefs = NotificationSettings(**{k.value: False for k in switched_off})
    rules = NotificationRules(
        prefs, clock=clock, limit=RateLimit(count=count, window_seconds=window)
    )
    sent: list[tuple[float, Notice]] = []
    for status, user, dt in steps:
        clock.now += dt
        if user == "stop":
            rules.expect_stop()
        elif user == "unload_all":
            rules.expect_unload_all()
        elif user is not None:
            rules.expect_unload(user)
        got = rules.observe(status)
        assert len({n.kind for n in got}) == len(got)  # each kind at most once per status
        sent += [(clock.now, n) for n in got]
    for kind in NoticeKind:
        times = [t for t, n in sent if n.kind is kind]
        if kind in switched_off:
            assert times == []
        for i, t in enumerate(times):
            # however the statuses go, any window holds at most `count` of one kind
            assert len([u for u in times[i:] if u < t + window]) <= count
