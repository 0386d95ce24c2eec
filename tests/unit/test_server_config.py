from __future__ import annotations

import json
from pathlib import Path

import pytest

from tray.core.errors import FileParseError
from tray.core.server_config import HttpServerConfig, api_server_port
from tray.services.lmstudio_home import read_server_config

OBSERVED = {  # FORMATS.md §2.6, observed on real installs
    "autoStartOnLaunch": False,
    "port": 1234,
    "cors": True,
    "networkInterface": "0.0.0.0",
    "justInTimeModelLoading": True,
    "logSensitiveData": False,
    "logIncomingTokens": False,
    "verbose": False,
    "logLinesLimit": 500,
    "fileLoggingMode": "succinct",
}


def test_reads_the_observed_file(tmp_path: Path) -> None:
    (tmp_path / ".internal").mkdir()
    (tmp_path / ".internal" / "http-server-config.json").write_text(json.dumps(OBSERVED))
    cfg = read_server_config(tmp_path)
    assert cfg is not None
    assert (cfg.port, cfg.cors, cfg.jit, cfg.beyond_loopback) == (1234, True, True, True)
    assert cfg.local_url() == "http://127.0.0.1:1234"  # 0.0.0.0 is reached via loopback
    assert cfg.model_extra is not None and cfg.model_extra["logLinesLimit"] == 500


def test_minimal_and_missing(tmp_path: Path) -> None:
    assert read_server_config(tmp_path) is None
    cfg = HttpServerConfig.model_validate({"networkInterface": "127.0.0.1"})
    assert cfg.effective_port == 1234 and cfg.beyond_loopback is False
    assert HttpServerConfig().beyond_loopback is None


@pytest.mark.parametrize("content", ['{"port": "x"}', "[1]", "{oops"])
def test_broken_files_are_errors_with_the_path(tmp_path: Path, content: str) -> None:
    (tmp_path / ".internal").mkdir()
    (tmp_path / ".internal" / "http-server-config.json").write_text(content)
    with pytest.raises(FileParseError, match=r"http-server-config\.json"):
        read_server_config(tmp_path)


@pytest.mark.parametrize(
    ("info", "port"),
    [
        ({"host": "127.0.0.1", "pid": 4242, "port": 41343}, 41343),
        ({"port": 0}, None),
        ({"port": 65536}, None),
        ({"port": "41343"}, None),
        ({"port": True}, None),
        ({"port": 1.5}, None),
        ({}, None),
        ([41343], None),
        (None, None),
    ],
)
def test_api_server_port_is_read_as_lms_reads_it(info: object, port: int | None) -> None:
    # lms's readLocalAPIServerPort: an integer 1-65535 under "port", else no hint.
    assert api_server_port(info) == port
