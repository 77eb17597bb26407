"""The web app's guard, in front of every request: the optional bearer token, a rate limit per client
address and the request-body size limit (ASGI middleware, so a refused request never reaches the
app and an oversized body is never read whole).

- Token: when the server has one (``--token`` or ``AUTOPACT_WEB_TOKEN``), every ``/api/`` request
  needs ``Authorization: Bearer <token>`` (401 otherwise); the page itself and its scripts hold no
  data and are served without it (the page asks for the token).
- Rate: at most ``rate_per_minute`` requests in any 60 seconds from one address (429 with Retry-After).
- Size: a body over ``max_body_bytes`` is refused with 413, by its Content-Length or, without one,
  as soon as what arrived passes the limit.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections import defaultdict, deque
from typing import Any

from autopact.interfaces.web_service import Settings


class Guard:
    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        if path.startswith("/api/") and self.settings.token and not self._authorised(headers):
            await _answer(send, 401, "authorization: this server needs 'Authorization: Bearer <token>' (the "
                                     "token given to autopact serve)", {"WWW-Authenticate": "Bearer"})
            return
        if not self._within_rate(scope):
            await _answer(send, 429, f"rate limit: more than {self.settings.rate_per_minute} requests a minute from "
                                     "this address; try again shortly", {"Retry-After": "10"})
            return
        limit = self.settings.max_body_bytes
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer(send, 413, f"body: {length} bytes; at most {limit} bytes are accepted")
            return
        body, more = b"", True
        while more:  # read the body here (at most the limit), so an oversized one stops before the app
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await _answer(send, 413, f"body: more than {limit} bytes; at most {limit} bytes are accepted")
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _authorised(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.settings.token.encode())

    def _within_rate(self, scope: dict) -> bool:
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        with self._lock:
            seen = self._seen[client]
            while seen and now - seen[0] > 60:
                seen.popleft()
            if len(seen) >= self.settings.rate_per_minute:
                return False
            seen.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses
                for key in [k for k, v in self._seen.items() if not v]:
                    del self._seen[key]
        return True


async def _answer(send: Any, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
