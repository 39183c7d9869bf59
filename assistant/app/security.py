"""ASGI middleware for the web page: security headers, a brake on password guessing, and upload
names Gradio can take.

Both are added to Gradio's app through ``demo.launch(app_kwargs={"middleware": [...]})``.

Gradio 6 facts ``LoginThrottle`` relies on (checked against gradio 6.31's ``routes.py``): the
login form is ``POST /login`` (also ``/login/``; no ``/gradio_api`` prefix; behind a root path
the prefix is in ``scope["root_path"]``), with form fields ``username`` and ``password``; a wrong
password is answered ``400 {"detail": "Incorrect credentials."}``, a right one
``200 {"success": true}`` with the ``access-token-…`` cookies.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Awaitable, Callable

# Content-Security-Policy: images, media and fonts only from this server, no plugins, no framing
# by other sites — a remote image slipped into a document could not load even if escaping failed.
CSP = ("img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; object-src 'none'; "
       "base-uri 'self'; frame-ancestors 'self'; form-action 'self'")


class SecurityHeaders:
    """ASGI middleware: the CSP above, no MIME sniffing, no referrer to other sites."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
            await send(message)

        return await self.app(scope, receive, send_with_headers)


LOGIN_PATHS = ("/login", "/login/")
TOO_MANY = "登录失败次数过多，请 {seconds} 秒后再试。"


@dataclass
class _Client:
    """What is remembered about one client address."""

    failures: list[float] = field(default_factory=list)  # times of failed logins within the window
    locked_until: float = 0.0
    lockouts: int = 0  # lockouts so far; after the first, each further failure locks again, for longer
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)  # one login attempt at a time per client

    def reset(self) -> None:
        self.failures.clear()
        self.locked_until, self.lockouts = 0.0, 0


def _route_path(scope) -> str:
    """The path the app routes on: ``scope["path"]`` without ``scope["root_path"]`` (as Starlette does)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root):]
    return path


class LoginThrottle:
    """ASGI middleware that slows down password guessing on Gradio's login route.

    Per client address (``scope["client"][0]``, i.e. the TCP peer, or what uvicorn's proxy-headers
    handling made of it: ``web.serve`` sets ``FORWARDED_ALLOW_IPS`` to ASSISTANT_TRUSTED_PROXIES,
    empty by default, so X-Forwarded-For counts only when a named reverse proxy sent it):

    - each failed login is answered only after ``base_delay`` · 2^(n−1) seconds (n = failures in
      the window), at most ``max_delay``, with ``sleep`` (other requests go on meanwhile);
    - after ``max_failures`` failures within ``window`` seconds the client is locked out for
      ``lockout`` seconds: attempts are answered 429 with ``Retry-After`` and a short Chinese
      message, without the password being checked; each further failure after a lockout ends locks
      again for twice as long, up to ``max_lockout``;
    - a successful login forgets the client; so does ``window`` seconds of quiet after the last
      failure or lockout;
    - attempts from one client are handled one at a time, so parallel requests cannot slip past
      the count;
    - at most ``max_clients`` addresses are remembered (the least recently seen are dropped).

    Every other request passes straight through.
    """

    def __init__(self, app, max_failures: int = 5, window: float = 900.0, base_delay: float = 1.0,
                 max_delay: float = 8.0, lockout: float = 60.0, max_lockout: float = 900.0,
                 max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep):
        if max_failures < 1 or max_clients < 1:
            raise ValueError("max_failures and max_clients must be at least 1")
        self.app = app
        self.max_failures, self.window = max_failures, window
        self.base_delay, self.max_delay = base_delay, max_delay
        self.lockout, self.max_lockout = lockout, max_lockout
        self.max_clients = max_clients
        self.clock, self.sleep = clock, sleep
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or _route_path(scope) not in LOGIN_PATHS):
            return await self.app(scope, receive, send)
        key = scope["client"][0] if scope.get("client") else "?"
        client = self._client(key)
        async with client.busy:
            wait = client.locked_until - self.clock()
            if wait > 0:
                return await self._refuse(send, wait)
            return await self.app(scope, receive, self._judge(client, send))

    # --- what the middleware remembers
    def _client(self, key: str) -> _Client:
        now = self.clock()
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = _Client()
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(key)
            last = max(client.failures[-1] if client.failures else -math.inf, client.locked_until)
            if now - last > self.window:
                client.reset()  # quiet for a whole window: start afresh
        return client

    def failed(self, client: _Client) -> float:
        """Count one failure now; return how long to hold back its answer."""
        now = self.clock()
        client.failures = [t for t in client.failures if now - t <= self.window] + [now]
        n = len(client.failures)
        if client.lockouts:  # a lockout has ended and the client failed again: lock at once, longer
            client.locked_until = now + min(self.lockout * 2 ** client.lockouts, self.max_lockout)
            client.lockouts += 1
        elif n >= self.max_failures:
            client.locked_until = now + min(self.lockout, self.max_lockout)
            client.lockouts = 1
        return min(self.base_delay * 2 ** min(n - 1, 62), self.max_delay)

    def tracked(self) -> int:
        """How many client addresses are remembered (for tests and monitoring)."""
        return len(self._clients)

    # --- answering
    def _judge(self, client: _Client, send):
        async def send_judged(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                if 200 <= status < 300:
                    client.reset()
                elif 400 <= status < 500:
                    delay = self.failed(client)
                    if delay > 0:
                        await self.sleep(delay)
            await send(message)

        return send_judged

    async def _refuse(self, send, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        body = TOO_MANY.format(seconds=seconds).encode("utf-8")
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(seconds).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


class UploadNames:
    """ASGI middleware: an uploaded file whose name starts with a dot (``.通知.txt``, ``..\\..\\y.txt``)
    gets an underscore for each leading dot before Gradio reads the upload (``_通知.txt``).

    Gradio refuses to hand such a file to the page's function when its upload cache lies inside the
    server's working directory (a server started from /tmp, or from / as a service): the upload then
    fails with Gradio's InvalidPathError and the page shows no reason. The multipart body of
    ``POST …/upload`` is rewritten as it streams in, byte for byte the same length (so Content-Length
    holds), in the part headers only (``_MultipartNames``): the files' bytes pass unchanged.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or not _route_path(scope).endswith("/upload"):
            return await self.app(scope, receive, send)
        ctype = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
        m = _BOUNDARY.search(ctype)
        if not ctype.lower().startswith("multipart/form-data") or not m:
            return await self.app(scope, receive, send)
        parser = _MultipartNames((m.group(1) or m.group(2)).encode("latin-1"))

        async def rewritten():
            message = await receive()
            if message["type"] != "http.request":
                return message
            body = parser.feed(message.get("body", b""), final=not message.get("more_body", False))
            return {**message, "body": body}

        return await self.app(scope, rewritten, send)


_BOUNDARY = re.compile(r'boundary="([^"]+)"|boundary=([^;\s]+)', re.IGNORECASE)


class _MultipartNames:
    """A multipart body fed in pieces, given back with the leading dots of each part header's
    ``filename="…"`` turned into underscores. What may be the start of a delimiter or an unfinished
    header block is kept back until the next piece (a header block at most ``MAX_HEADERS`` bytes)."""

    MARK = b'filename="'
    MAX_HEADERS = 16 * 1024

    def __init__(self, boundary: bytes):
        self.delimiter = b"--" + boundary
        self.buf = bytearray()
        self.in_headers = False

    def feed(self, data: bytes, final: bool) -> bytes:
        self.buf.extend(data)
        out = bytearray()
        while True:
            if self.in_headers:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0 and not final and len(self.buf) <= self.MAX_HEADERS:
                    break  # the rest of the headers comes in the next piece
                end = len(self.buf) if end < 0 else end + 4
                out.extend(self._renamed(self.buf[:end]))
                del self.buf[:end]
                self.in_headers = False
            else:
                at = self.buf.find(self.delimiter)
                if at < 0:
                    keep = 0 if final else min(len(self.buf), len(self.delimiter) - 1)
                    out.extend(self.buf[:len(self.buf) - keep])
                    del self.buf[:len(self.buf) - keep]
                    break
                end = at + len(self.delimiter)
                out.extend(self.buf[:end])
                del self.buf[:end]
                self.in_headers = True
        return bytes(out)

    @classmethod
    def _renamed(cls, headers: bytearray) -> bytearray:
        at = headers.find(cls.MARK)
        while at >= 0:
            i = j = at + len(cls.MARK)
            while j < len(headers) and headers[j] == 0x2E:  # "."
                j += 1
            headers[i:j] = b"_" * (j - i)
            at = headers.find(cls.MARK, j)
        return headers
