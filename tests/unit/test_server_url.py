"""The one rule for server addresses: what `--server`, a profile's address and LM Studio's
own server settings may be, what they become, and the sentence when they cannot be one."""

from __future__ import annotations

import pytest

from tray.core.errors import InputError, InvalidServerUrl
from tray.core.server_url import parse_server_url, server_host, shown_address


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("http://192.168.1.20:1234", "http://192.168.1.20:1234"),
        ("localhost:1234", "http://localhost:1234"),  # no scheme: http://, as Settings does
        ("  gpu-box  ", "http://gpu-box"),
        ("HTTPS://GPU-Box:1234", "https://gpu-box:1234"),
        ("http://gpu-box:1234/", "http://gpu-box:1234"),  # trailing slashes
        ("http://gpu-box:1234///", "http://gpu-box:1234"),
        ("http://gpu-box:1234/v1", "http://gpu-box:1234"),  # pasted API roots
        ("http://gpu-box:1234/api/v1/", "http://gpu-box:1234"),
        ("http://proxy/lmstudio/v1", "http://proxy/lmstudio"),  # a path stays
        ("http://proxy/LM/", "http://proxy/LM"),
        ("http://[::1]:1234", "http://[::1]:1234"),  # IPv6 in brackets
        ("[::1]:1234", "http://[::1]:1234"),
        ("http://[FE80::1]", "http://[fe80::1]"),
        ("http://box:1", "http://box:1"),  # the port range's ends
        ("http://box:65535", "http://box:65535"),
        ("http://box:", "http://box"),  # an empty port is the scheme's default
        ("http://127.0.0.1:01234", "http://127.0.0.1:1234"),
        ("http://my_box.lan:8080", "http://my_box.lan:8080"),
        ("http://xn--n-nga1b.example", "http://xn--n-nga1b.example"),
    ],
)
def test_addresses_are_normalised(typed: str, url: str) -> None:
    assert parse_server_url(typed) == url
    assert parse_server_url(url) == url  # normalising twice changes nothing


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("http://127.0.0.1:99999", "port must be a number from 1 to 65535"),
        ("http://box:65536", "port must be a number from 1 to 65535"),
        ("http://box:0", "port must be a number from 1 to 65535"),
        ("http://box:abc", "port must be a number from 1 to 65535"),
        ("box:12ab", "port must be a number from 1 to 65535"),
        ("http://box:+80", "port must be a number from 1 to 65535"),
        ("http://box:80:90", "port must be a number from 1 to 65535"),
        ("http://[::1", "Close the bracket"),
        ("http://[::1]x:80", "Only a port may follow"),
        ("http://[gpu-box]:1234", "Only an IPv6 address goes in brackets"),
        ("http://gpu]:1234", "IPv6 address in brackets"),
        ("http://::1:1234", "IPv6 address in brackets"),
        ("::1", "IPv6 address in brackets"),
        ("ws://box:1234", "(not ws:)"),
        ("ftp://box:1234", "(not ftp:)"),
        ("htp:/192.168.1.20:99999", "(not htp:)"),  # saved as http://htp/… before
        ("htp://box", "(not htp:)"),
        ("file:///etc/passwd", "(not file:)"),
        ("http:/box:1234", "two slashes after http:"),
        ("https:box", "two slashes after https:"),
        ("http//box:1234", "Start the address with http:// or https://"),
        ("http://", "needs a host"),
        ("http://:1234", "needs a host"),
        ("https:///v1", "needs a host"),
        ("http://a..b:1", "A host name has only"),
        ("http://gpu!box:1", "A host name has only"),
        ("http://ünï.example:1", "letters a to z"),
        ("http://256.1.1.1:1234", "four numbers from 0 to 255"),
        ("http://user:secret@box:1234", "OS keyring"),
        ("http://box:1234/?x=1", "should end after"),
        ("http://box:1234/#top", "should end after"),
        ("http://my box:1234", "spaces"),
        ("", "Type an address"),
        ("   ", "Type an address"),
    ],
)
def test_bad_addresses_say_what_to_fix(typed: str, says: str) -> None:
    with pytest.raises(InvalidServerUrl) as info:
        parse_server_url(typed)
    error = info.value
    assert isinstance(error, InputError)  # the CLI's exit code 2
    assert says in error.problem
    assert error.problem.endswith(".")
    assert "secret" not in error.message


def test_the_message_quotes_the_address_and_names_where_it_came_from() -> None:
    with pytest.raises(InvalidServerUrl) as info:
        parse_server_url("http://127.0.0.1:99999", source="given with --server")
    assert info.value.message == (
        "The server address “http://127.0.0.1:99999” given with --server is not usable: "
        "the port must be a number from 1 to 65535."
    )
    assert info.value.title == "Invalid server address"
    with pytest.raises(InvalidServerUrl) as info:
        parse_server_url("ws://x")
    assert info.value.message.startswith("The server address “ws://x” is not usable: start ")


def test_what_is_quoted_back_keeps_no_secret() -> None:
    token = "sk-lm-AbCd1234:QwErTyUiOp1234567890"
    assert shown_address("http://me:hunter2@box:1/x") == "http://…@box:1/x"
    assert shown_address("me:pw@box") == "…@box"
    assert token not in shown_address(f"http://box/{token}")
    assert len(shown_address("http://" + "a" * 500)) == 80


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://LocalHost:1234", "localhost"),
        ("http://[::1]:1234/v1", "::1"),
        ("127.0.0.1:1", "127.0.0.1"),
        ("http://[::1", ""),  # never an exception, whatever was typed
        ("ws://x", ""),
        ("", ""),
    ],
)
def test_the_host_is_read_without_ever_raising(url: str, host: str) -> None:
    assert server_host(url) == host
