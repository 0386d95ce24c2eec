"""Redaction of secrets in text and in everything logging writes."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.core.redact import redact
from tray.services.logs import configure_logging, install_crash_redaction, protect_handler

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
PASSKEY = "Abcdefghij1234567890"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token={TOKEN}.", "token=sk-lm-Abcd1234…[redacted]."),
        (f"Authorization: Bearer {TOKEN}", "Authorization: Bearer sk-lm-Abcd1234…[redacted]"),
        ("(b'authorization', b'Bearer abc.def-123')", "(b'authorization', b'Bearer [redacted]')"),
        ("sk-lm-Abcd12", "sk-lm-Abcd12…[redacted]"),  # truncated: still a secret
        ("sk-lm-Abcd1234:000000000000000000000", "sk-lm-Abcd1234…[redacted]"),  # too long
        ("ghp_" + "a" * 36, "ghp_…[redacted]"),
        ("sk-proj-" + "b" * 40, "sk-proj-…[redacted]"),
        ("sk-ant-api03-" + "c" * 40, "sk-ant-…[redacted]"),
        ("hf_" + "d" * 34, "hf_…[redacted]"),
        ("AKIAABCDEFGHIJKLMNOP", "AKIA…[redacted]"),
        # Prose stays readable.
        ("Send a Bearer token with every request.", "Send a Bearer token with every request."),
        ("the sk-lm- prefix", "the sk-lm-…[redacted] prefix"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@given(st.text(alphabet="ABCDEFabcdef0123456789", min_size=20, max_size=20), st.text())
def test_never_more_than_the_client_id_and_idempotent(passkey: str, around: str) -> None:
    token = f"sk-lm-Abcd1234:{passkey}"
    out = redact(around + token + around)
    if passkey not in around:
        assert passkey not in out
    assert redact(out) == out


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    yield stream
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def test_token_in_message_args_and_traceback(log_stream: io.StringIO) -> None:
    log = logging.getLogger("tray.test")
    log.info(f"stored {TOKEN}")
    log.warning("header %s and %r", f"Bearer {TOKEN}", {"token": TOKEN})
    try:
        secret = TOKEN  # noqa: F841 — a local a traceback formatter could show
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        log.exception("it failed")
    log.error("stack", stack_info=True)
    out = log_stream.getvalue()
    assert PASSKEY not in out
    assert out.count("sk-lm-Abcd1234…[redacted]") >= 4
    assert "ValueError: bad token sk-lm-Abcd1234…[redacted]" in out


def test_protect_handler_covers_a_handler_with_its_own_formatter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    protect_handler(handler)
    log = logging.getLogger("tray.test.protect")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("x %s", TOKEN)
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "x sk-lm-Abcd1234…[redacted]\n"


def test_crash_output_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_crash_redaction(stream)
    try:
        raise RuntimeError(f"crashed holding {TOKEN}")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert "RuntimeError: crashed holding sk-lm-Abcd1234…[redacted]" in stream.getvalue()
    assert PASSKEY not in stream.getvalue()
