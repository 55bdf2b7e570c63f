"""What the local chat's HTTP layer lets in: its own Host and Origin, JSON only, 64 KiB.

The chat has no login, so the browser is the boundary. A page elsewhere must not drive it:
a form or `text/plain` POST from another Origin (CSRF) is refused by the Origin and
Content-Type checks (a cross-origin `application/json` POST needs a CORS preflight, which we
never grant), and a page on a name of its own that is re-pointed at 127.0.0.1 (DNS rebinding)
sends its own name as Host, which is refused. An IP literal cannot be rebound, so it passes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.core.config import Settings
from bot.core.request_body import LOCAL_LIMIT, json_object, read_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ANY = {"0.0.0.0", "::", ""}
# Browsers mark requests they make for a page; these two are the page itself or a typed URL.
_OWN_FETCH = {"same-origin", "none"}


def allowed_names(settings: Settings) -> frozenset[str]:
    names = {"localhost"}
    if settings.host and settings.host not in _ANY:
        names.add(settings.host.strip("[]").lower())
    if settings.public_url:
        public = urlsplit(settings.public_url).hostname
        if public:
            names.add(public.lower())
    return frozenset(names)


def _hostname(value: str) -> str | None:
    try:
        name = urlsplit(f"//{value}").hostname
        urlsplit(f"//{value}").port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        return None
    return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def refusal(request: web.Request, names: Iterable[str]) -> str | None:
    """Why this request may not reach the local chat, or None."""
    host = request.headers.get("Host", "")
    name = _hostname(host)
    if not name or not (name in names or _is_ip(name)):
        return "unknown Host"
    origin = request.headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
            return "cross-origin request"
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in _OWN_FETCH:
        return "cross-site request"
    if request.method == "POST" and request.content_type != "application/json":
        return "only application/json"
    return None


def guarded(handler: Handler, names: frozenset[str]) -> Handler:
    async def check(request: web.Request) -> web.StreamResponse:
        why = refusal(request, names)
        if why == "only application/json":
            raise web.HTTPUnsupportedMediaType(text=why)
        if why is not None:
            raise web.HTTPForbidden(text=why)
        return await handler(request)

    return check


async def json_body(request: web.Request) -> dict[str, Any]:
    """The POSTed JSON object, at most 64 KiB."""
    return json_object(await read_body(request, LOCAL_LIMIT))
