"""What every command shares: global options, the `Context` built from arguments, settings
and the machine, and the `Command` record a command module registers."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from tray.cli._options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    GLOBAL_OPTIONS,
    exit_code,
    server_option_error,
)
from tray.core.backends import AUTO, BackendKind
from tray.core.errors import InputError, LmsError, LmStudioError, TrayError
from tray.core.settings import Settings
from tray.core.tokens import FirstToken, NoToken, TokenProvider, WhenAsked
from tray.core.words import join_and
from tray.services.app_paths import AppPaths
from tray.services.backends import Backend, backend_for, identify
from tray.services.environment import Environment, discover, token_from_environment
from tray.services.gpu import GpuProbe, SimulatedGpuProbe, select_gpu_probe
from tray.services.lms_runner import LmsProbe, LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.lmstudio_home import current_server_config
from tray.services.lmstudio_version import local_lmstudio_version
from tray.services.settings_store import SettingsService, SettingsStore
from tray.services.status_monitor import StatusMonitor
from tray.services.token_vault import TokenVault
from tray.services.workspace import Workspace

if TYPE_CHECKING:  # the demo module brings the simulator: imported only for --demo
    from tray.services.demo import DemoPlace

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Command",
    "Context",
    "Handler",
    "Result",
    "UsageError",
    "add_command",
    "add_global_options",
    "add_group",
    "error_doc",
    "exit_code",
    "lms_facts",
    "text_message",
]

log = logging.getLogger(__name__)

LMS_TIMEOUT = 20.0

Result = tuple[dict[str, Any], int]
Handler = Callable[["Context", argparse.Namespace], Awaitable[Result]]


class UsageError(InputError):
    """The command line asks for something that cannot be (exit code 2)."""

    title = "Usage error"


def error_doc(exc: TrayError) -> dict[str, Any]:
    """The JSON document of a command that ends with an error."""
    return {"error": {"title": exc.title, "message": exc.message, "kind": type(exc).__name__}}


@dataclass(frozen=True)
class Command:
    """What a subcommand runs (`handler`) and how its JSON document reads as text."""

    handler: Handler
    render: Callable[[dict[str, Any]], str]
    # The handler printed its output as it went (`activity`): nothing is printed after.
    streams: bool = False


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Subcommands re-declare the global options with SUPPRESS defaults so that an option
    # given before the subcommand is not reset by the subparser: both positions work.
    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    for flag, keywords in GLOBAL_OPTIONS:
        g.add_argument(flag, **{**keywords, "default": d(keywords["default"])})


class Context:
    """What every command needs, built once from arguments, settings and the machine."""

    def __init__(self, args: argparse.Namespace, http: httpx.AsyncClient) -> None:
        # With --demo, every command acts on the running demo: its server, home, `lms`,
        # settings and graphics card (`running_demo` raises when there is none).
        self.demo: DemoPlace | None = _demo_place(args)
        # The app's own folders, shared with the tray (the demo's inside its own home).
        demo = self.demo
        self.paths = AppPaths.demo(demo.user_home) if demo else AppPaths.default()
        self.settings_service = SettingsService(
            SettingsStore(args.settings or self.paths.settings_file)
        )
        self.settings: Settings = self.settings_service.settings
        self.settings_problem = self.settings_service.problem
        if (bad_server := server_option_error(args)) is not None:
            raise bad_server
        self._args = args
        self.env: Environment = self.discover(args.profile)
        # LM_API_TOKEN (an explicit choice for this shell) first, then the profile's token
        # in the OS keyring; no keyring simply means no token from there. Neither is asked
        # until the server wants a token: the keyring may hang on an unlock prompt. The
        # demo's tokens live in the demo's memory: a command on it never reads the keyring.
        self.vault = TokenVault(memory_only=demo is not None)
        self.token: TokenProvider = WhenAsked(
            FirstToken(token_from_environment(), self.vault.provider(self.env.profile.id))
        )
        self._http = http
        # The services the tray builds the same way: history, stores, lockdown, models.
        lms_env = {**os.environ, "HOME": str(demo.user_home)} if demo else None
        self.workspace = Workspace(self.paths, lms_env=lms_env)
        self.runner: LmsRunner | None = self.workspace.runner(self.env, timeout=LMS_TIMEOUT)

    def discover(self, profile: str | None = None, *, own_address: bool = False) -> Environment:
        """A saved server's environment as the options say (default: the active one);
        `own_address`: its own address even when --server names another (`status --all`).
        The demo's LM Studio stands in for this machine's; a server saved with an address
        of its own (the demo's Ollama) is itself."""
        args, demo = self._args, self.demo
        if demo is not None:
            server = demo.base_url if self._local(profile) else None
            home, lms = demo.home, demo.lms
        else:
            server = None if own_address else args.server
            home, lms = args.home, args.lms
        return discover(
            self.settings,
            server=server,
            home=home,
            lms=lms,
            profile=profile,
            settings_file=self.settings_service.store.path,
        )

    def _local(self, profile: str | None) -> bool:
        try:
            return self.settings.find_profile(profile).base_url is None
        except TrayError:
            return True  # `discover` says what is wrong with the profile

    def gpu_probe(self) -> GpuProbe:
        """The graphics card's reader: the demo's simulated card, or this machine's."""
        if self.demo is not None and self.demo.gpu_root is not None:
            return SimulatedGpuProbe(self.demo.gpu_root)
        return select_gpu_probe()

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http

    @property
    def server_url(self) -> str:
        """The server's address; one in the settings (or LM Studio's) that is not an address
        stops a command that needs it — and only such a command — with the sentence."""
        if self.env.server_url_error is not None:
            raise self.env.server_url_error
        return self.env.server_url

    @property
    def client(self) -> LmStudioClient:
        return LmStudioClient(self._http, self.server_url, token_provider=self.token)

    @property
    def anonymous(self) -> LmStudioClient:
        return LmStudioClient(self._http, self.server_url, token_provider=NoToken())

    async def detect(self) -> Environment:
        """Ask the server what it is, once (a pinned kind is believed): commands that act
        on it call this first, and read `env.capabilities` after. A server that does not
        answer (or wants a token first) is taken for what the profile assumes; the command
        then says what is wrong in its own words."""
        if self.env.identity is None:
            choice = self.env.kind_choice
            try:
                found = await identify(self.client, None if choice == AUTO else BackendKind(choice))
            except LmStudioError as exc:
                log.debug("what answers is not known: %s", type(exc).__name__)
                return self.env
            self.env = self.env.with_identity(found)
        return self.env

    def backend(self) -> Backend | None:
        """The detected kind's own API (None: LM Studio 0.4+, or not detected)."""
        identity = self.env.identity
        return backend_for(identity, self.client) if identity is not None else None

    async def probe_server(self) -> StatusMonitor:
        monitor = StatusMonitor(
            self.client,
            url=self.server_url,
            anonymous=self.anonymous,
            has_token=self.token,
            kind=self.env.kind_choice,
            profile_name=self.env.profile.name,
            server_config=lambda: current_server_config(self.env.home.path),
            version_source=lambda: local_lmstudio_version(self._http, self.env.home.path),
        )
        await monitor.probe()
        self.env = self.env.with_identity(monitor.identity)
        return monitor


async def lms_facts(ctx: Context) -> dict[str, Any]:
    """What `lms` says without waking LM Studio: path, server running, port."""
    facts: dict[str, Any] = {
        "path": str(ctx.env.lms_path) if ctx.env.lms_path else None,
        "server_running": None,
        "port": None,
        "error": None,
    }
    if ctx.runner is None:
        return facts
    try:
        st = await LmsProbe(ctx.runner).server_status()
        facts["server_running"], facts["port"] = st.running, st.port
    except LmsError as exc:
        facts["error"] = exc.message
    return facts


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    command: Command | None = None,
) -> argparse.ArgumentParser:
    """A subcommand parser that also takes the global options (so they work after it)."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    add_global_options(parser, suppress=True)
    if command is not None:
        parser.set_defaults(command=command)
    return parser


def add_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    default: Command | None = None,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command with actions (`history log`, `mcp audit`, …): returns the table to add the
    actions to with `add_command`. Without an action it runs `default`, or — when there
    is none — says which actions there are, in a sentence made from that table."""
    parent = add_command(sub, name, help_text, default or Command(_say_what_to_do, text_message))
    actions = parent.add_subparsers(dest=f"{name}_action", metavar="ACTION")
    parent.set_defaults(group_name=name, group_actions=actions)
    return actions


async def _say_what_to_do(ctx: Context, args: argparse.Namespace) -> Result:
    table: argparse._SubParsersAction[argparse.ArgumentParser] = args.group_actions
    forms = [_usage_form(action, parser) for action, parser in table.choices.items()]
    raise UsageError(
        f"Say what to do with {args.group_name}: {join_and(forms, 'or')} "
        f"(see `lmstudio-tray {args.group_name} --help`)."
    )


def _usage_form(action: str, parser: argparse.ArgumentParser) -> str:
    """ "log PATH", "remote [URL]", "scan [PATH …]": an action with its positionals."""
    words = [action]
    for arg in parser._actions:
        if arg.option_strings or arg.dest == argparse.SUPPRESS:
            continue
        shown = str(arg.metavar or arg.dest.upper())
        if arg.nargs == "?":
            shown = f"[{shown}]"
        elif arg.nargs == "*":
            shown = f"[{shown} …]"
        words.append(shown)
    return " ".join(words)


def text_message(doc: dict[str, Any]) -> str:
    """The text form of a document that is just a sentence (`message`) or an error."""
    if "error" in doc:
        return f"{doc['error']['title']}: {doc['error']['message']}"
    return str(doc.get("message", ""))


def _demo_place(args: argparse.Namespace) -> DemoPlace | None:
    if not getattr(args, "demo", False):
        return None
    given = [
        flag
        for flag, value in (
            ("--server", args.server),
            ("--home", args.home),
            ("--lms", args.lms),
            ("--profile", args.profile),
        )
        if value is not None
    ]
    if given:
        raise UsageError(
            f"--demo and {join_and(given)} both say where LM Studio is: give one or the other."
        )
    return _running_demo()


def _running_demo() -> DemoPlace:
    """Where the demo this user runs is, asked of the running tray over its local channel
    (so nothing can outlive a killed demo); `DemoNotRunning` when no tray answers or the
    one that does is not the demo."""
    # The demo module brings the simulator: imported only for --demo.
    from tray.platform.single_instance import ask_running
    from tray.services.demo import WANT_DEMO, DemoNotRunning, DemoPlace

    start = "start one with `lmstudio-tray --demo`"
    try:
        reply = ask_running({"want": WANT_DEMO}, timeout=3.0)
    except OSError:
        reply = None
    if reply is None:
        raise DemoNotRunning(f"No demo is running; {start}.")
    if not reply.get("demo") or not isinstance(reply.get("place"), dict):
        raise DemoNotRunning(
            "The running LM Studio Tray is not the demo (drop --demo to use it); quit it from "
            f"its menu, then {start}."
        )
    return DemoPlace.model_validate(reply["place"])
