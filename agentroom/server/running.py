"""uvicorn, as agentroom runs it: a socket bound first, no access log, our own signals.

The socket is bound before the server starts, so the port it got (``--port 0``
asks the system for a free one) is known in time to print the join commands,
and a port in use is one clear error before anything else happens.  uvicorn's
access log is off: a URL or a header could carry a token, and a token is never
written anywhere.  uvicorn's own signal handling is left out: the program that
runs the server decides when it stops (``agentroom serve`` closes every
connection with 1000 and then the room), and tests run it in their own loop.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from agentroom.server.frames import HARD_LIMIT

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (no warning needed)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one); OSError says why not."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def url_of(host: str, port: int, *, tls: bool = False) -> str:
    """The base URL a client uses (an IPv6 address in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


class Server(uvicorn.Server):
    """uvicorn's server without its signal handlers (see the module docstring)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server(app: Any, *, certfile: str | None = None, keyfile: str | None = None) -> Server:
    """A uvicorn server for ``app`` (run it with ``await server.serve(sockets=[sock])``)."""
    config = uvicorn.Config(
        app,
        access_log=False,
        log_level="warning",
        ws_max_size=HARD_LIMIT,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    return Server(config)
