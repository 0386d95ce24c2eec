"""Server addresses as people type them — the `--server` option, a server profile's address
in Settings, LM Studio's own server settings — read, checked and normalised by one rule.

`parse_server_url` takes what was typed and returns the base URL the HTTP client appends
its paths to, or raises `InvalidServerUrl` with a sentence that says what to fix (and, given
a `source`, where the value came from). It never lets through an address that would make
the HTTP library fail in its own words: no scheme but http and https, a host that is a host
name or an IP address (IPv6 in brackets), a port from 1 to 65535, no user name or password
(a secret in an address would be stored in plain text), no query or fragment.

Normalising: `http://` is added when no scheme is given (`localhost:1234`), scheme and host
are lower-cased, trailing slashes and a pasted API root (`/v1`, `/api/v1`) are dropped.
"""

from __future__ import annotations

import ipaddress
import re
import string

from tray.core.errors import InvalidServerUrl
from tray.core.redact import redact

__all__ = ["EXAMPLE", "parse_server_url", "server_host", "shown_address"]

EXAMPLE = "http://192.168.1.20:1234"

# API roots people paste from client configs; the tray appends these paths itself, so a
# base URL ending in one would make every request go to `/v1/v1/models`.
_API_SUFFIXES = ("/api/v1", "/api/v0", "/v1")

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)
_PORT = re.compile(r"[0-9]{1,5}")
_IPV4_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_HOST_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_")
_SHOWN_MAX = 80

_PORT_RANGE = "The port must be a number from 1 to 65535."
_IPV6_BRACKETS = "Put an IPv6 address in brackets, as in http://[::1]:1234."


def parse_server_url(text: str, *, source: str | None = None) -> str:
    """The normalised base URL for `text`, e.g. `localhost:1234/v1/` → `http://localhost:1234`.

    Raises `InvalidServerUrl`; its `problem` says what to fix, its `message` also quotes the
    address and, when `source` is given, where it came from. `source` completes "The server
    address “…” …", e.g. "given with --server"."""
    try:
        return _parse(text)
    except _Problem as exc:
        raise InvalidServerUrl(exc.sentence, shown=shown_address(text), source=source) from None


def server_host(url: str) -> str:
    """The host of an address, lower-cased and without brackets, or "" when there is none
    to be read — never an exception, whatever the text."""
    try:
        normalised = _parse(url)
    except _Problem:
        return ""
    netloc = normalised.split("://", 1)[1].split("/", 1)[0]
    if netloc.startswith("["):
        return netloc[1 : netloc.index("]")]
    return netloc.partition(":")[0]


def shown_address(text: str) -> str:
    """`text` as it may be quoted back to the user: without the user name and password an
    address may carry, token shapes redacted, and not endlessly long."""
    shown = text.strip()
    prefix, sep, rest = shown.partition("://")
    if not sep:
        prefix, rest = "", shown
    netloc_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc = rest[:netloc_end]
    if "@" in netloc:
        rest = "…@" + netloc.rsplit("@", 1)[1] + rest[netloc_end:]
    shown = redact(f"{prefix}{sep}{rest}")
    return shown if len(shown) <= _SHOWN_MAX else shown[: _SHOWN_MAX - 1] + "…"


# --- the rule ----------------------------------------------------------------------------


class _Problem(Exception):
    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def _parse(text: str) -> str:
    text = text.strip()
    if not text:
        raise _Problem(f"Type an address, for example {EXAMPLE}.")
    if any(c.isspace() for c in text):
        raise _Problem("An address cannot contain spaces.")
    scheme, rest = _split_scheme(text)
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "?" in tail or "#" in tail:
        raise _Problem("The address should end after the host, port and optional path.")
    if "@" in netloc:
        raise _Problem(
            "Leave user names and passwords out of the address; API tokens are kept in the "
            "OS keyring."
        )
    host, port = _host_and_port(netloc)
    path = tail.rstrip("/")
    for suffix in _API_SUFFIXES:
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)].rstrip("/")
            break
    return f"{scheme}://{host}{f':{port}' if port is not None else ''}{path}"


def _split_scheme(text: str) -> tuple[str, str]:
    """(scheme, what follows `scheme://`); `http` when no scheme was typed."""
    match = _SCHEME.fullmatch(text)
    if match is not None:
        name, after = match[1].lower(), match[2]
        if after.startswith("//"):
            if name not in ("http", "https"):
                raise _Problem(_scheme_sentence(name))
            return name, after[2:]
        if name in ("http", "https"):
            raise _Problem(f"Write two slashes after {name}:, as in {name}://192.168.1.20:1234.")
        if after.startswith("/"):  # `htp:/host`: a mistyped scheme, never host:port
            raise _Problem(_scheme_sentence(name))
        # Otherwise `host:port`, without a scheme.
    if re.match(r"(?i)https?/", text):  # `http//host`
        raise _Problem(f"Start the address with http:// or https://, as in {EXAMPLE}.")
    return "http", text


def _scheme_sentence(name: str) -> str:
    return f"Start the address with http:// or https:// (not {name}:), for example {EXAMPLE}."


def _host_and_port(netloc: str) -> tuple[str, int | None]:
    """(host as it goes in a URL — IPv6 in brackets, lower case —, port or None)."""
    if netloc.startswith("["):
        close = netloc.find("]")
        if close < 0:
            raise _Problem("Close the bracket around the IPv6 address, as in http://[::1]:1234.")
        inside, after = netloc[1:close], netloc[close + 1 :]
        if not _is_ipv6(inside):
            raise _Problem("Only an IPv6 address goes in brackets, as in http://[::1]:1234.")
        if after and not after.startswith(":"):
            raise _Problem("Only a port may follow the IPv6 address, as in http://[::1]:1234.")
        return f"[{inside.lower()}]", _port(after[1:] if after else None)
    if "[" in netloc or "]" in netloc:
        raise _Problem(_IPV6_BRACKETS)
    if netloc.count(":") > 1:
        # An IPv6 address without brackets (perhaps with a port), or a port with colons.
        if _is_ipv6(netloc) or _is_ipv6(netloc.rsplit(":", 1)[0]):
            raise _Problem(_IPV6_BRACKETS)
        raise _Problem(_PORT_RANGE)
    host, colon, port_text = netloc.partition(":")
    if not host:
        raise _Problem("The address needs a host name or IP, for example http://gpu-box:1234.")
    labels = host.removesuffix(".").split(".")
    # ASCII only: a name with accents goes in its xn-- form, which every client agrees on.
    if not all(labels) or not all(c in _HOST_CHARACTERS for label in labels for c in label):
        raise _Problem(
            "A host name has only letters a to z, digits, dots and dashes, for example "
            "gpu-box or 192.168.1.20."
        )
    if _IPV4_SHAPE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _Problem(
                "An IP address is four numbers from 0 to 255, for example 192.168.1.20."
            ) from None
    return host.lower(), _port(port_text if colon else None)


def _port(text: str | None) -> int | None:
    if not text:  # none, or `host:` with nothing after the colon (the scheme's default)
        return None
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise _Problem(_PORT_RANGE)
    return int(text)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
