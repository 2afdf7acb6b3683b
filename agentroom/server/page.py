"""The room's web page: ``/``, ``/app.js`` and ``/app.css``, read from package data.

The page is three static files (``agentroom/server/web/``) with no build step and
no third-party code, so ``make run`` still needs only Python.  Every answer
carries a strict Content-Security-Policy: the page may load and connect only to
its own origin and runs no inline script, so even a rendering bug that let an
envelope's text become markup could not run script or fetch a remote resource.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""What the page may load, run and connect to: its own origin only."""

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}
"""Each path the page is served at: its file in ``web/`` and its content type."""


@cache
def _read(name: str) -> bytes:
    """A file of the page; read once (package data does not change while serving)."""
    return resources.files("agentroom.server").joinpath("web", name).read_bytes()


async def _serve(request: Request) -> Response:
    name, media_type = FILES[request.url.path]
    return Response(_read(name), media_type=media_type, headers=HEADERS)


def page_routes() -> list[Route]:
    """The routes of the page, for :func:`agentroom.server.app.create_app`."""
    return [Route(path, _serve, methods=["GET", "HEAD"]) for path in FILES]
