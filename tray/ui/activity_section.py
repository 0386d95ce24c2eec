"""Activity as the tray has it: the "Activity…" menu item and its window, "Live activity
in the tray" (tooltip line and busy mark, off by default), and the notices the stream
brings (a context that was full opens the model's load profile when clicked).

`lms log stream` runs only while LM Studio's server is up and the window is open or live
activity is on (the server source only for the window); the children stop when the
server goes down, the window closes with live activity off, or the tray quits. Nothing of
Activity but this small module is imported at start-up: the parser, the stream and the
window come with first use (docs/benchmarks.md, idle memory).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction

from tray.core.backends import Capabilities
from tray.core.errors import TrayError
from tray.core.notifications import Notice, Severity
from tray.core.settings import Settings
from tray.core.status import ServerStatus
from tray.ui.tasks import spawn

if TYPE_CHECKING:
    from tray.core.activity import ActivityEvent, ActivityLog, LogLine, Prediction
    from tray.services.activity_stream import ActivityStream
    from tray.services.lms_runner import LmsRunner
    from tray.services.settings_store import SettingsService
    from tray.ui.activity_window import ActivityWindow

__all__ = ["ACTIVITY_TEXT", "LIVE_TEXT", "ActivitySection"]

log = logging.getLogger(__name__)

ACTIVITY_TEXT = "Activity…"
LIVE_TEXT = "Live activity in the tray"
LIVE_TICK_MS = 5000  # the tooltip's "in the last minute" ages while nothing happens
FAILURE_REASON_SECONDS = 5.0  # an error log line this close to a failure is its reason


class ActivitySection:
    """Owns the Activity items, the session's `ActivityLog` and the `lms log stream`
    children. `set_live(line, busy=…)` is the tray icon's; `show_notice(notice,
    on_click)` the notifier's; `admit` the notification rules' switches and limits."""

    def __init__(
        self,
        settings: SettingsService,
        *,
        runner: Callable[[], LmsRunner | None],
        set_live: Callable[..., None],
        show_notice: Callable[[Notice, Callable[[], None] | None], None],
        admit: Callable[[Notice], Notice | None],
        open_profile: Callable[[str], None],
        notify: Callable[[str, str, Severity], None],
        demo: bool,
    ) -> None:
        self._settings = settings
        self._runner = runner
        self._set_live = set_live
        self._show_notice = show_notice
        self._admit = admit
        self._open_profile = open_profile
        self._notify = notify
        self._demo = demo
        self._up = False
        self._caps: Capabilities | None = None
        self._models: dict[str, tuple[str, int | None]] = {}  # identifier → key, context
        self.log: ActivityLog | None = None
        self.window: ActivityWindow | None = None
        self.streams: dict[str, ActivityStream] = {}  # by source
        self._show_text = False
        self.open_action = QAction(ACTIVITY_TEXT)
        self.open_action.setToolTip("What your models are doing: predictions and server log")
        self.open_action.triggered.connect(self.open)
        self.live_action = QAction(LIVE_TEXT)
        self.live_action.setCheckable(True)
        self.live_action.setToolTip(
            "Last tokens/s and requests per minute in the tooltip; a mark on the icon while "
            "a model answers"
        )
        self.live_action.setChecked(settings.settings.activity.live)
        self.live_action.toggled.connect(self._live_toggled)
        self._tick = QTimer()
        self._tick.setInterval(LIVE_TICK_MS)
        self._tick.timeout.connect(self._show_live)
        settings.subscribe(self._sync_settings)

    def actions(self) -> list[QAction]:
        return [self.open_action, self.live_action]

    @property
    def live(self) -> bool:
        return self._settings.settings.activity.live

    @property
    def why_unavailable(self) -> str | None:
        from tray.core.activity import activity_unavailable

        return activity_unavailable(self._caps) if self._caps is not None else None

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        self._up = status.state.is_up
        self._caps = caps
        self._models = {r.identifier: (r.model_key, r.context_length) for r in status.loaded}
        self.live_action.setEnabled(caps.lms)
        self._follow()

    # --- which children run -----------------------------------------------------------------

    def _wanted(self) -> set[str]:
        if not self._up or self._caps is None or not self._caps.lms:
            return set()
        window = self.window is not None and self.window.isVisible()
        wanted = {"model", "server"} if window else set()
        return wanted | ({"model"} if self.live else set())

    def _follow(self) -> None:
        """Start the children that should run, stop the others; say so in the window."""
        wanted = self._wanted()
        for source in list(self.streams):
            if source not in wanted:
                spawn(self.streams.pop(source).stop(), doing="Stopping lms log stream")
        runner = self._runner()
        if wanted and runner is not None:
            for source in wanted - set(self.streams):
                self.streams[source] = self._stream(runner, source)
                self.streams[source].start()
        live = self.live and "model" in self.streams
        if live and not self._tick.isActive():
            self._tick.start()
        elif not live:
            self._tick.stop()
        self._show_live()
        self._say_state()

    def _stream(self, runner: LmsRunner, source: str) -> ActivityStream:
        from tray.core.activity import ActivityLog, ActivitySource
        from tray.services.activity_stream import ActivityStream

        if self.log is None:
            self.log = ActivityLog()

        async def may_start() -> bool:  # lms log stream would start LM Studio
            return self._up

        stream = ActivityStream(
            runner,
            source=ActivitySource(source),
            on_events=self._take,
            may_start=may_start,
            keep_text=self._show_text,
        )
        return stream

    async def stop(self) -> None:
        """Quit: every child stops (as a group), and is waited for."""
        self._tick.stop()
        streams, self.streams = list(self.streams.values()), {}
        for stream in streams:
            await stream.stop()

    def _say_state(self) -> None:
        window = self.window
        if window is None:
            return
        why = self.why_unavailable
        if why is not None:
            window.set_state(why, available=False)
        elif not self._up:
            from tray.core.activity import NOT_RUNNING

            window.set_state(NOT_RUNNING)
        else:
            window.set_state(
                "Watching LM Studio (lms log stream): predictions appear as they finish."
            )

    # --- what the stream brings -------------------------------------------------------------

    def _take(self, events: list[ActivityEvent]) -> None:
        from tray.core.activity import Prediction

        assert self.log is not None
        records = self.log.extend(events)
        if self.window is not None:
            self.window.added(records)
        for record in records:
            if isinstance(record, Prediction):
                self._notice_for(record)
        self._show_live()

    def _notice_for(self, p: Prediction) -> None:
        from tray.core.activity import context_full_notice, failed_notice

        key, context = self._models.get(p.model, (p.model, None))
        notice = context_full_notice(p, context_length=context) or failed_notice(
            p, reason=self._failure_reason(p)
        )
        if notice is None or (notice := self._admit(notice)) is None:
            return
        action = (lambda: self._open_profile(key)) if p.context_full else None
        self._show_notice(notice, action)

    def _failure_reason(self, p: Prediction) -> str | None:
        if self.log is None:
            return None
        recent: list[LogLine] = [
            line
            for line in self.log.lines
            if line.level == "error" and abs(line.time - p.time) <= FAILURE_REASON_SECONDS
        ]
        return recent[-1].message if recent else None

    def _show_live(self) -> None:
        if not self.live or self.log is None or "model" not in self.streams:
            self._set_live(None, busy=False)
            return
        self._set_live(self.log.live_line(time.time()), busy=self.log.busy)

    # --- gestures ---------------------------------------------------------------------------

    def open(self) -> None:
        """Show the window (built on first use) and start what it needs."""
        if self.window is None:
            from tray.core.activity import ActivityLog
            from tray.ui.activity_window import ActivityWindow

            if self.log is None:
                self.log = ActivityLog()
            self.window = ActivityWindow(self.log, demo=self._demo)
            self.window.closed.connect(self._follow)
            self.window.show_text_changed.connect(self._show_text_changed)
        self.window.present()
        self._follow()

    def _show_text_changed(self, on: bool) -> None:
        self._show_text = on
        for stream in self.streams.values():
            stream.keep_text = on

    def _live_toggled(self, on: bool) -> None:
        def change(s: Settings) -> None:
            s.activity.live = on

        try:
            self._settings.update(change)
        except (TrayError, ValueError) as exc:
            message = exc.message if isinstance(exc, TrayError) else str(exc)
            self._notify("Setting not saved", message, Severity.ERROR)
        self._sync_settings(self._settings.settings)

    def _sync_settings(self, settings: Settings) -> None:
        if self.live_action.isChecked() != settings.activity.live:
            self.live_action.blockSignals(True)
            self.live_action.setChecked(settings.activity.live)
            self.live_action.blockSignals(False)
        self._follow()
