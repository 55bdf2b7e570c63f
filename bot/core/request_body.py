"""Request bodies read up to a limit per route, chunked or not, before anything else happens.

aiohttp's own `request.read()` raises its stream buffer to `client_max_size` first and lets
an over-long body grow a bytearray to the limit; 200 chunked 2 MiB requests took `serve` from
154 to 354 MB (issue 14.4). Here the body is taken chunk by chunk at aiohttp's default buffer
size, a Content-Length over the limit is refused before a byte is read, and on going over, the
chunks read so far are dropped and the connection is closed after the 413: the rest is never
kept (aiohttp drains it into nothing for at most its lingering time).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

MIB = 1024 * 1024
SLACK_LIMIT = MIB
TEAMS_LIMIT = MIB
LOCAL_LIMIT = 64 * 1024
# All bodies being read at once, per process: the per-route limits alone let N connections
# hold N MiB. Past this, a request is told to come back (Slack and the Bot Connector retry)
# rather than the process growing; connection counts are the reverse proxy's to limit.
BUDGET = 32 * MIB


class _InFlight:
    """Bytes held by bodies being read; one event loop per process, so no lock."""

    held = 0


def _busy() -> web.HTTPServiceUnavailable:
    return web.HTTPServiceUnavailable(
        headers={"Connection": "close", "Retry-After": "1"}, text="busy, try again"
    )


def too_large(limit: int, seen: int) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(
        max_size=limit,
        actual_size=seen,
        headers={"Connection": "close"},
        text=f"request body over {limit} bytes",
    )


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to be longer than `limit`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(limit, declared)
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := await request.content.readany():
            total += len(chunk)
            if total > limit:
                raise too_large(limit, total)
            if _InFlight.held + len(chunk) > BUDGET:
                raise _busy()
            _InFlight.held += len(chunk)
            chunks.append(chunk)
        return b"".join(chunks)
    except HttpProcessingError:
        # Broken chunked framing, a body shorter than its Content-Length: the client's fault.
        raise web.HTTPBadRequest(text="malformed request body") from None
    finally:
        _InFlight.held -= sum(len(c) for c in chunks)
        chunks.clear()


def utf8(body: bytes) -> str:
    """Slack, the Bot Connector and our page all send UTF-8; anything else is a 400.

    The request's own charset is not used: an unknown one made `request.text()` raise a
    LookupError, a 500, before authentication (issue 14.5).
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise web.HTTPBadRequest(text="request body is not UTF-8") from None


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON object from UTF-8 bytes, or 400 (also for nesting too deep for the parser)."""
    try:
        value = json.loads(utf8(body))
    except (ValueError, RecursionError):
        raise web.HTTPBadRequest(text="expected a JSON object") from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return value
