"""Docker and Podman launches (C10–C12 of `shared/mcp/CHECKS.md`): escape hatches,
wide mounts, published ports, unpinned images, and Docker's MCP gateway.

`docker|podman run` argv is read option by option (options that take a value, `--opt=value`,
`--`, `-v a:b:ro`, `--mount type=bind,source=…`), so the image is never mistaken for an
option's value; mounts are judged by the same tiers as P1 (`checks_scope.path_breadth`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tray.core.mcp_audit.checks_scope import looks_path, path_breadth
from tray.core.mcp_audit.context import Ctx, arg_field, display, program
from tray.core.mcp_audit.model import Severity

__all__ = ["check_docker"]


_DOCKER_VALUE_OPTS = {
    "-v",
    "--volume",
    "--mount",
    "-e",
    "--env",
    "--env-file",
    "-p",
    "--publish",
    "--network",
    "--net",
    "--name",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--pid",
    "--ipc",
    "--uts",
    "--cap-add",
    "--cap-drop",
    "--security-opt",
    "--device",
    "--entrypoint",
    "-l",
    "--label",
    "--platform",
    "--pull",
    "-m",
    "--memory",
    "--cpus",
    "-h",
    "--hostname",
    "--add-host",
    "--tmpfs",
    "--shm-size",
    "--restart",
    "--runtime",
    "--userns",
    "--cgroupns",
    "--log-driver",
    "--log-opt",
    "--dns",
    "--ulimit",
    "--gpus",
    "--group-add",
    "--volumes-from",
    "--label-file",
    "--stop-signal",
    "--health-cmd",
    "--cidfile",
    "--cpu-shares",
    "-c",
    "--network-alias",
    "--mac-address",
    "--ip",
    "--ip6",
    "--link",
    "--expose",
    "--attach",
    "-a",
}


@dataclass
class _DockerRun:
    options: list[tuple[int, str, str | None]]  # (argv index, option name, value)
    image: tuple[int, str] | None
    command_at: int


def _parse_docker(argv: list[str]) -> _DockerRun | None:
    if not argv or program(argv[0]) not in {"docker", "podman"}:
        return None
    i = 1
    while i < len(argv) and argv[i].startswith("-"):  # global options (--context x)
        i += 2 if argv[i] in {"--context", "-c", "--host", "-H", "--config"} else 1
    if i < len(argv) and argv[i] == "container":
        i += 1
    if i >= len(argv) or argv[i] != "run":
        return None
    i += 1
    options: list[tuple[int, str, str | None]] = []
    image: tuple[int, str] | None = None
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            if i < len(argv):
                image = (i, argv[i])
            break
        if a.startswith("--"):
            if "=" in a:
                name, value = a.split("=", 1)
                options.append((i, name, value))
            elif a in _DOCKER_VALUE_OPTS:
                options.append((i, a, argv[i + 1] if i + 1 < len(argv) else None))
                i += 1
            else:
                options.append((i, a, None))
        elif a.startswith("-") and len(a) > 1:
            # -it, -v x, -vX, -e=K=V, -p8080:80
            name = a[:2]
            if name in _DOCKER_VALUE_OPTS:
                if len(a) > 2:
                    options.append((i, name, a[2:].removeprefix("=")))
                else:
                    options.append((i, name, argv[i + 1] if i + 1 < len(argv) else None))
                    i += 1
            else:
                for ch in a[1:]:
                    options.append((i, f"-{ch}", None))
        else:
            image = (i, a)
            break
        i += 1
    return _DockerRun(options, image, (image[0] + 1) if image else len(argv))


def _mount_source(name: str, value: str) -> tuple[str | None, bool]:
    """(host path or None for a named volume, read-only?) of `-v` / `--mount`."""
    if name == "--mount":
        parts = dict(
            [*p.split("=", 1), "true"][:2]
            for p in value.split(",")
            if p  # `readonly` alone
        )
        src = parts.get("source") or parts.get("src")
        kind = parts.get("type", "volume")
        ro = parts.get("readonly", parts.get("ro", "false")).lower() in {"true", "1", ""}
        if "readonly" in value.split(",") or "ro" in value.split(","):
            ro = True
        if kind != "bind" and not (src and looks_path(src)):
            return None, ro
        return src, ro
    m = re.match(r"^([A-Za-z]:[\\/][^:]*|[^:]*)(?::([^:]*))?(?::([^:]*))?$", value)
    if not m:
        return None, False
    host, _target, opts = m.group(1), m.group(2), m.group(3)
    ro = bool(opts and "ro" in opts.split(","))
    if not looks_path(host):
        return None, ro
    return host, ro


def check_docker(ctx: Ctx, argv: list[str]) -> bool:
    run = _parse_docker(argv)
    if run is None:
        if argv and program(argv[0]) == "docker" and "mcp" in argv[1:3]:
            ctx.add(
                "C12",
                Severity.MEDIUM,
                "args",
                "Docker's MCP gateway decides which servers run; they are not listed here, so "
                "this audit cannot see them.",
                "Review the servers enabled in Docker's MCP Toolkit.",
            )
        return False
    s = ctx.server
    for index, name, value in run.options:
        where = arg_field(s, argv, index)
        val = value or ""
        low = val.lower()
        if name == "--privileged":
            ctx.add(
                "C10",
                Severity.CRITICAL,
                where,
                "docker --privileged gives the container full control of this machine.",
                "Remove --privileged.",
            )
        elif name in {"-v", "--volume", "--mount"} and value:
            host, ro = _mount_source(name, value)
            if host is None:
                continue
            if "docker.sock" in host or "docker_engine" in host:
                ctx.add(
                    "C10",
                    Severity.CRITICAL,
                    where,
                    "The Docker socket is mounted into the container: it can start any "
                    "container, i.e. run anything as root on this machine.",
                    "Remove the docker.sock mount.",
                )
                continue
            level = path_breadth(host, ctx.lmstudio_home, ctx.home_dir)
            if level is None:
                continue
            sev, what = level
            if sev is Severity.LOW:
                continue
            # writable access to anything holding mcp.json is CRITICAL (P1); other wide
            # mounts are HIGH (C10)
            if sev is not Severity.CRITICAL or (ro and what != "the whole disk"):
                sev = Severity.HIGH
            ctx.add(
                "C10",
                sev,
                where,
                f"The container gets {what} ({display(host)})"
                + (" read-only." if ro else " with write access."),
                "Mount only the project folder, read-only (:ro).",
            )
        elif name in {"--network", "--net"} and low == "host":
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                "--network host puts the container on this machine's network: it reaches "
                "every local service, LM Studio's server included.",
                "Remove --network host; use --network none if the server needs no network.",
            )
        elif name in {"--pid", "--ipc", "--uts", "--userns"} and low == "host":
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                f"{name} host shares this machine's {name[2:]} namespace with the container.",
                f"Remove {name} host.",
            )
        elif name == "--cap-add":
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                f"--cap-add {display(val)} gives the container extra kernel privileges.",
                "Remove --cap-add; add --cap-drop ALL.",
            )
        elif name == "--security-opt" and "unconfined" in low:
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                f"--security-opt {display(val)} switches off a kernel sandbox.",
                "Remove it; add --security-opt no-new-privileges.",
            )
        elif name == "--device":
            ctx.add(
                "C10",
                Severity.MEDIUM,
                where,
                f"--device {display(val)} gives the container a host device.",
                "Remove --device unless the server needs it.",
            )
        elif name in {"-u", "--user"} and low.split(":")[0] in {"0", "root"}:
            ctx.add(
                "C10",
                Severity.MEDIUM,
                where,
                "The container runs as root.",
                "Remove --user root; run as an unprivileged user.",
            )
        elif name in {"-p", "--publish"} and value:
            if not re.match(r"^(?:127\.\d+\.\d+\.\d+|\[?::1\]?|localhost):", value):
                ctx.add(
                    "C10",
                    Severity.MEDIUM,
                    where,
                    f"-p {display(value)} publishes a port on all network interfaces.",
                    "Prefix it with 127.0.0.1: (e.g. -p 127.0.0.1:8080:80), or drop it.",
                )
        elif name == "-P":
            ctx.add(
                "C10",
                Severity.MEDIUM,
                where,
                "-P publishes every exposed port on all network interfaces.",
                "Remove -P.",
            )
        elif name == "--pull" and low == "always":
            ctx.add(
                "C11",
                Severity.MEDIUM,
                where,
                "--pull always fetches whatever the image tag points to today at each start.",
                "Remove --pull always and pin the image by digest (image@sha256:…).",
            )
    if run.image is not None:
        index, image = run.image
        name_part = image.split("@", 1)[0]
        tag = name_part.rsplit(":", 1)[1] if ":" in name_part.rsplit("/", 1)[-1] else None
        if "@sha256:" not in image and (tag is None or tag in {"latest", "stable", "main"}):
            ctx.add(
                "C11",
                Severity.MEDIUM,
                arg_field(s, argv, index),
                f"The image {display(image)} is not pinned: "
                + ("no tag means :latest" if tag is None else f":{tag} moves")
                + ", so each start may run a different image.",
                "Pin the image by digest (image@sha256:…) or at least an exact version tag.",
            )
    return True
