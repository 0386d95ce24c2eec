"""Which status changes deserve a notification: only what the user did not do.

`NotificationRules.observe()` compares each new `ServerStatus` with what it saw before and
returns the notices to show: the server stopped unexpectedly, LM Studio unloaded a model on
its own (idle TTL, auto-evict), GPU memory passed the user's threshold, the server serves
the network without authentication. What the user asked for (`expect_stop`,
`expect_unload`) is not news. Each kind can be switched off in Settings, each event is told
once, and a rate limit per kind keeps a flapping server from becoming a storm: the next
notice that gets through says how many were held back.

Pure: no Qt, no I/O; time comes from an injectable clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from tray.core.backends import BackendKind
from tray.core.gpu import format_bytes
from tray.core.inventory import LoadedModelRow
from tray.core.settings import NotificationSettings
from tray.core.status import ServerState, ServerStatus, listen_place
from tray.core.words import plural

__all__ = [
    "EXPECTATION_SECONDS",
    "VRAM_HYSTERESIS_POINTS",
    "Notice",
    "NoticeKind",
    "NotificationRules",
    "RateLimit",
    "Severity",
]

VRAM_HYSTERESIS_POINTS = 5  # re-armed only after dropping this far below the threshold
EXPECTATION_SECONDS = 120.0  # how long "the user is stopping/ejecting this" stays valid

# Once-up states whose model list is the truth; AUTH_REQUIRED answers with no list at all.
_LISTING = (ServerState.RUNNING, ServerState.RUNNING_AUTH)
# Down states after which a server's loaded models and exposure start afresh.
_DOWN = (ServerState.STOPPED, ServerState.UNREACHABLE)


class NoticeKind(StrEnum):
    """Values are the `NotificationSettings` field that switches the kind on or off."""

    SERVER_STOPPED = "server_stopped"
    MODEL_EVICTED = "model_evicted"
    VRAM_HIGH = "vram_high"
    EXPOSED = "exposed"
    CONTEXT_FULL = "context_full"  # from the Activity stream (core/activity.py)
    PREDICTION_FAILED = "prediction_failed"


class Severity(StrEnum):
    """How a message is marked: INFO for news and for what went as asked (a copy, a
    lockdown), WARNING for what deserves attention (a stop nobody asked for, a file changed
    behind our back), ERROR for what the user asked for and did not happen."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Notice(BaseModel):
    """One notification, ready to show."""

    model_config = ConfigDict(frozen=True)

    kind: NoticeKind
    key: str  # what it is about, for de-duplication: "model_evicted:qwen/qwen3-4b"
    title: str
    message: str
    severity: Severity = Severity.INFO
    suppressed: int = 0  # notices of this kind held back since the last one shown


class RateLimit(BaseModel):
    """At most `count` notices of one kind within any `window_seconds`."""

    model_config = ConfigDict(frozen=True)

    count: int = 1
    window_seconds: float = 300.0


class NotificationRules:
    """Turns a stream of `ServerStatus` into notices; one instance per watched server.

    `settings` may be replaced at any time (the Settings window saved); a kind switched off
    still advances its state, so switching it on later does not replay old events.
    """

    def __init__(
        self,
        settings: NotificationSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        limit: RateLimit | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._limit = limit or RateLimit()
        self._server: tuple[str, str | None] | None = None  # (url, profile) being watched
        self._stop_armed = False  # seen up since the last stop notice
        self._stop_expected_until: float | None = None
        self._baseline: dict[str, LoadedModelRow] | None = None  # loaded while up
        self._unload_expected: dict[str, float] = {}  # identifier -> valid until
        self._vram_armed = True
        self._exposed_told = False  # in this up-period
        self._sent: dict[NoticeKind, deque[float]] = {k: deque() for k in NoticeKind}
        self._held: dict[NoticeKind, int] = dict.fromkeys(NoticeKind, 0)

    # --- what the user did ---------------------------------------------------------

    def expect_stop(self, within: float = EXPECTATION_SECONDS) -> None:
        """The user stops (or restarts) the server: its going down is not news."""
        self._stop_expected_until = self._clock() + within

    def expect_unload(self, identifier: str, within: float = EXPECTATION_SECONDS) -> None:
        """The user ejects this model: its disappearance is not news."""
        self._unload_expected[identifier] = self._clock() + within

    def expect_unload_all(self, within: float = EXPECTATION_SECONDS) -> None:
        """The user ejects every loaded model."""
        for identifier in self._baseline or {}:
            self.expect_unload(identifier, within)

    # --- observing -----------------------------------------------------------------

    def observe(self, new: ServerStatus) -> list[Notice]:
        """The notices this status brings, compared with the statuses seen before."""
        now = self._clock()
        server = (new.url, new.profile_name)
        if server != self._server:
            # Another server (profile switch): nothing it does is a change from the last.
            self._server = server
            self._stop_armed = False
            self._baseline = None
            self._exposed_told = False
            self._stop_expected_until = None
            self._unload_expected.clear()

        candidates = [
            *self._stopped(new, now),
            *self._evicted(new, now),
            *self._vram(new),
            *self._exposure(new),
        ]
        self._unload_expected = {i: t for i, t in self._unload_expected.items() if t >= now}
        return [n for c in candidates if (n := self._admit(c, now)) is not None]

    def _stopped(self, new: ServerStatus, now: float) -> Iterable[Notice]:
        if new.state.is_up:
            self._stop_armed = True
            return
        if new.state is ServerState.STARTING:
            # The user (re)starts it: whatever stop they asked for is done, and until it is
            # up nothing can stop "unexpectedly".
            self._stop_armed = False
            self._stop_expected_until = None
            return
        if new.state not in _DOWN:
            return  # ERROR, UNKNOWN: not a stop; keep what we knew
        was_armed, self._stop_armed = self._stop_armed, False
        expected = self._stop_expected_until is not None and now <= self._stop_expected_until
        self._stop_expected_until = None
        if not was_armed or expected:
            return
        where = f"{new.profile_name} ({new.url})" if new.profile_name else new.url
        why = f" {new.error}" if new.error else ""
        yield Notice(
            kind=NoticeKind.SERVER_STOPPED,
            key=NoticeKind.SERVER_STOPPED.value,
            title=f"{new.kind.label} server stopped",
            message=f"The server at {where} stopped without being asked to.{why}",
            severity=Severity.WARNING,
        )

    def _evicted(self, new: ServerStatus, now: float) -> Iterable[Notice]:
        if new.state in _DOWN or new.state in (ServerState.STARTING, ServerState.UNKNOWN):
            self._baseline = None  # a restarted server starts with nothing loaded
            return
        if new.state not in _LISTING:
            return  # no model list this time (auth, error): compare with the next one
        current = {row.identifier: row for row in new.loaded}
        before, self._baseline = self._baseline, self._remember_ttls(current)
        if before is None:
            return
        gone = [row for ident, row in before.items() if ident not in current]
        unexpected = []
        for row in gone:
            until = self._unload_expected.pop(row.identifier, None)
            if until is None or until < now:
                unexpected.append(row)
        if unexpected:
            yield _eviction_notice(unexpected, new)

    def _remember_ttls(self, current: dict[str, LoadedModelRow]) -> dict[str, LoadedModelRow]:
        # The TTL is known only while `lms ps` runs (menu open); keep the last one known so
        # an eviction noticed later can still say why it probably happened.
        old = self._baseline or {}
        kept = dict(current)
        for ident, row in current.items():
            prior = old.get(ident)
            if row.ttl_seconds is None and prior is not None and prior.ttl_seconds is not None:
                kept[ident] = row.model_copy(update={"ttl_seconds": prior.ttl_seconds})
        return kept

    def _vram(self, new: ServerStatus) -> Iterable[Notice]:
        gpu = new.gpu
        fraction = gpu.used_fraction if gpu is not None else None
        if gpu is None or fraction is None:
            return
        threshold = self.settings.vram_threshold_percent
        percent = fraction * 100
        if percent < threshold - VRAM_HYSTERESIS_POINTS:
            self._vram_armed = True
            return
        if percent < threshold or not self._vram_armed:
            return
        self._vram_armed = False
        models = new.models_bytes
        lmstudio = (
            f" LM Studio's loaded models take {format_bytes(models)}."
            if models is not None and new.loaded
            else ""
        )
        yield Notice(
            kind=NoticeKind.VRAM_HIGH,
            key=NoticeKind.VRAM_HIGH.value,
            title="GPU memory nearly full",
            message=(
                f"GPU memory is {percent:.0f}% used ({format_bytes(gpu.used_bytes)} of "
                f"{format_bytes(gpu.total_bytes)}), above your {threshold}% threshold."
                f"{lmstudio} Loading another model may fail or fall back to the CPU."
            ),
            severity=Severity.WARNING,
        )

    def _exposure(self, new: ServerStatus) -> Iterable[Notice]:
        if new.state in _DOWN or new.state is ServerState.STARTING:
            self._exposed_told = False  # the next up-period may warn again
            return
        if new.exposed is not True or self._exposed_told:
            return
        self._exposed_told = True
        yield Notice(
            kind=NoticeKind.EXPOSED,
            key=NoticeKind.EXPOSED.value,
            title="LM Studio server open to the network",
            message=(
                f"LM Studio's server listens on {listen_place(new.listen_address)} with "
                "authentication off: anyone on the network can use it. Choose “Serve on this "
                "computer only” in the tray menu, or turn on Require Authentication in LM "
                "Studio's Developer › Server Settings."
            ),
            severity=Severity.WARNING,
        )

    # --- off switches and the rate limit -------------------------------------------

    def admit(self, notice: Notice) -> Notice | None:
        """A notice made elsewhere (the Activity stream's), under the same switches and
        rate limits: the notice to show, or None."""
        return self._admit(notice, self._clock())

    def _admit(self, notice: Notice, now: float) -> Notice | None:
        if not getattr(self.settings, notice.kind.value, True):
            return None
        sent = self._sent[notice.kind]
        while sent and sent[0] <= now - self._limit.window_seconds:
            sent.popleft()
        if len(sent) >= self._limit.count:
            self._held[notice.kind] += 1
            return None
        sent.append(now)
        held, self._held[notice.kind] = self._held[notice.kind], 0
        if not held:
            return notice
        more = "1 similar notification was" if held == 1 else f"{held} similar notifications were"
        return notice.model_copy(
            update={
                "suppressed": held,
                "message": f"{notice.message} ({more} held back to avoid a flood.)",
            }
        )


def _eviction_notice(rows: list[LoadedModelRow], status: ServerStatus) -> Notice:
    key = f"{NoticeKind.MODEL_EVICTED.value}:" + ",".join(sorted(r.identifier for r in rows))
    who = status.kind.label
    if status.profile_name and status.kind is not BackendKind.LMSTUDIO:
        who = f"{who} ({status.profile_name})"
    if len(rows) == 1:
        row = rows[0]
        return Notice(
            kind=NoticeKind.MODEL_EVICTED,
            key=key,
            title=f"Model unloaded by {status.kind.label}",
            message=f"{who} unloaded {row.identifier}.{_ttl_sentence(row)}",
        )
    names = ", ".join(
        r.identifier + (f" (idle time-to-live {_duration(r.ttl_seconds)})" if r.ttl_seconds else "")
        for r in rows
    )
    return Notice(
        kind=NoticeKind.MODEL_EVICTED,
        key=key,
        title=f"Models unloaded by {status.kind.label}",
        message=f"{who} unloaded {len(rows)} models: {names}.",
    )


def _ttl_sentence(row: LoadedModelRow) -> str:
    if not row.ttl_seconds:
        return ""
    return f" It had an idle time-to-live of {_duration(row.ttl_seconds)}."


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s % 3600 == 0:
        n, unit = s // 3600, "hour"
    elif s % 60 == 0 and s >= 60:
        n, unit = s // 60, "minute"
    else:
        n, unit = s, "second"
    return plural(n, unit)
