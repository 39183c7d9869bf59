import asyncio
import os
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import SEED_IDS, SEEDS
from served import Served

from assistant.app.security import CSP, LoginThrottle, SecurityHeaders, UploadNames
from assistant.core.errors import AssistantError
from assistant.core.settings import Settings


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeSleep:
    """Records the delays; advances the fake clock instead of waiting."""

    def __init__(self, clock):
        self.clock, self.delays = clock, []

    async def __call__(self, seconds):
        self.delays.append(seconds)
        self.clock.now += seconds


class FakeGradio:
    """Answers like Gradio's POST /login: 200 + cookie for password "right", else 400."""

    def __init__(self):
        self.checked = 0  # how many passwords were looked at
        self.other = 0

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        path = scope["path"][len(scope.get("root_path", "")):]
        if path in ("/login", "/login/") and scope["method"] == "POST":
            self.checked += 1
            ok = urllib.parse.parse_qs(body.decode()).get("password") == ["right"]
            status, payload = (200, b'{"success":true}') if ok else (400, b'{"detail":"Incorrect credentials."}')
            headers = [(b"content-type", b"application/json")]
            if ok:
                headers.append((b"set-cookie", b"access-token-x=t; HttpOnly"))
        else:
            self.other += 1
            status, payload, headers = 200, b"page", [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def make(**kw):
    clock = FakeClock()
    sleep = FakeSleep(clock)
    app = FakeGradio()
    params = dict(max_failures=5, window=900, base_delay=1.0, max_delay=8.0, lockout=60.0, max_lockout=900.0)
    params.update(kw)
    return LoginThrottle(app, clock=clock, sleep=sleep, **params), app, clock, sleep


def request(mw, password="wrong", ip="10.0.0.1", path="/login", method="POST", root_path=""):
    """Send one request through the middleware; return (status, headers dict, body text)."""
    async def go():
        sent = []
        body = urllib.parse.urlencode({"username": "user", "password": password}).encode()
        msgs = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return msgs.pop(0) if msgs else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "root_path": root_path,
                 "client": (ip, 5000), "headers": [], "query_string": b""}
        await mw(scope, receive, send)
        start = sent[0]
        headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        text = b"".join(m.get("body", b"") for m in sent[1:]).decode("utf-8")
        return start["status"], headers, text

    return asyncio.run(go())


def test_failed_logins_are_delayed_more_and_more():
    mw, app, clock, sleep = make(max_failures=10)
    statuses = [request(mw)[0] for _ in range(6)]
    assert statuses == [400] * 6
    assert sleep.delays == [1, 2, 4, 8, 8, 8]
    assert app.checked == 6


def test_lockout_after_max_failures_answers_429_without_checking():
    mw, app, clock, sleep = make()
    for _ in range(5):
        assert request(mw)[0] == 400
    assert app.checked == 5
    status, headers, text = request(mw, password="right")  # even the right password is not looked at
    assert status == 429
    assert app.checked == 5
    retry = int(headers["retry-after"])
    assert 1 <= retry <= 60
    assert text == f"登录失败次数过多，请 {retry} 秒后再试。"
    assert headers["content-type"].startswith("text/plain") and "utf-8" in headers["content-type"]
    assert len(sleep.delays) == 5  # refusals are immediate


def test_lockout_expires_then_doubles_on_the_next_failure():
    mw, app, clock, sleep = make()
    for _ in range(5):
        request(mw)
    locked_at = clock.now - sleep.delays[-1]  # locked when the 5th failure was judged, before its delay
    assert int(request(mw)[1]["retry-after"]) == 60 - 8
    clock.now = locked_at + 30
    assert int(request(mw)[1]["retry-after"]) == 30
    clock.now = locked_at + 61  # the lockout is over: the password is checked again
    assert request(mw)[0] == 400
    assert app.checked == 6
    relocked_at = clock.now - sleep.delays[-1]
    status, headers, _ = request(mw)
    assert status == 429 and int(headers["retry-after"]) == pytest.approx(120 - (clock.now - relocked_at), abs=1)
    clock.now = relocked_at + 121
    assert request(mw)[0] == 400  # failure after the second lockout: 240 s
    assert int(request(mw)[1]["retry-after"]) > 200
    clock.now += 241
    assert request(mw, password="right")[0] == 200


def test_lockout_is_capped():
    mw, app, clock, sleep = make(max_failures=1, lockout=60, max_lockout=100, base_delay=0)
    for expected in (60, 100, 100):
        assert request(mw)[0] == 400
        assert int(request(mw)[1]["retry-after"]) == expected
        clock.now += expected + 1


def test_success_clears_the_record():
    mw, app, clock, sleep = make()
    for _ in range(4):
        request(mw)
    status, headers, _ = request(mw, password="right")
    assert status == 200 and "set-cookie" in headers
    assert sleep.delays == [1, 2, 4, 8]  # a success is not delayed
    for _ in range(4):  # counting starts afresh: four more failures, no lockout
        assert request(mw)[0] == 400
    assert sleep.delays[4:] == [1, 2, 4, 8]


def test_failures_outside_the_window_are_forgotten():
    mw, app, clock, sleep = make()
    for _ in range(4):
        request(mw)
    clock.now += 901
    assert request(mw)[0] == 400
    assert sleep.delays[-1] == 1


def test_clients_are_counted_separately():
    mw, app, clock, sleep = make()
    for _ in range(5):
        request(mw, ip="10.0.0.1")
    assert request(mw, ip="10.0.0.1")[0] == 429
    assert request(mw, ip="10.0.0.2", password="right")[0] == 200
    assert request(mw, ip="10.0.0.3")[0] == 400


def test_other_requests_pass_straight_through():
    mw, app, clock, sleep = make()
    for _ in range(5):
        request(mw)
    assert request(mw)[0] == 429
    for path, method in [("/", "GET"), ("/config", "GET"), ("/gradio_api/queue/join", "POST"),
                         ("/login", "GET"), ("/loginx", "POST"), ("/gradio_api/login", "POST")]:
        status, _, text = request(mw, path=path, method=method)
        assert (status, text) == (200, "page"), path
    assert app.other == 6 and sleep.delays == [1, 2, 4, 8, 8]


def test_login_with_trailing_slash_and_root_path_are_throttled():
    mw, app, clock, sleep = make(max_failures=2)
    request(mw, path="/login/")
    request(mw, path="/app/login", root_path="/app")
    assert request(mw)[0] == 429
    assert app.checked == 2


def test_websocket_and_lifespan_pass_through():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    mw = LoginThrottle(inner)
    asyncio.run(mw({"type": "lifespan"}, None, None))
    asyncio.run(mw({"type": "websocket", "path": "/login"}, None, None))
    assert seen == ["lifespan", "websocket"]


def test_parallel_attempts_cannot_slip_past_the_count():
    mw, app, clock, sleep = make()

    async def burst():
        async def one():
            sent = []
            msgs = [{"type": "http.request", "body": b"username=user&password=guess"}]

            async def receive():
                return msgs.pop(0) if msgs else {"type": "http.disconnect"}

            async def send(m):
                sent.append(m)

            await mw({"type": "http", "method": "POST", "path": "/login", "root_path": "",
                      "client": ("10.0.0.9", 1)}, receive, send)
            return sent[0]["status"]

        return await asyncio.gather(*(one() for _ in range(20)))

    statuses = asyncio.run(burst())
    assert statuses.count(400) == 5 and statuses.count(429) == 15
    assert app.checked == 5


def test_state_is_bounded():
    mw, app, clock, sleep = make(max_clients=100)
    for i in range(250):
        request(mw, ip=f"10.1.{i // 256}.{i % 256}")
    assert mw.tracked() == 100


def test_security_headers_are_added():
    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b""})

    sent = []

    async def send(m):
        sent.append(m)

    asyncio.run(SecurityHeaders(inner)({"type": "http", "path": "/"}, None, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"x-a"] == b"1"
    assert headers[b"content-security-policy"] == CSP.encode()
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"referrer-policy"] == b"no-referrer"


# --- upload names (issue 19, defect 6)

def _multipart(names: list[str]) -> bytes:
    parts = [(f'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="{n}"\r\n'
              f"Content-Type: text/plain\r\n\r\n某支部开展了活动。filename=\".x\"\r\n").encode() for n in names]
    return b"".join(parts) + b"--XyZ--\r\n"


def _through(middleware_app, body: bytes, cuts: list[int], path="/gradio_api/upload", method="POST",
             ctype=b"multipart/form-data; boundary=XyZ") -> bytes:
    """Send ``body`` in pieces cut at ``cuts`` through the middleware; what the app behind it read."""
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
    got = bytearray()

    async def app(scope, receive, send):
        while True:
            msg = await receive()
            got.extend(msg.get("body", b""))
            if not msg.get("more_body"):
                break

    async def run():
        queue = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]

        async def receive():
            return queue.pop(0)

        scope = {"type": "http", "method": method, "path": path, "headers": [(b"content-type", ctype)]}
        await middleware_app(app)(scope, receive, None)

    asyncio.run(run())
    return bytes(got)


def test_upload_names_starting_with_a_dot_get_underscores_wherever_the_body_is_cut():
    body = _multipart([".隐藏.txt", "..\\..\\y.txt", "名单.txt", "_.txt"])
    want = _multipart(["_隐藏.txt", "__\\..\\y.txt", "名单.txt", "_.txt"])
    assert _through(UploadNames, body, []) == want
    for cut in range(1, len(body)):  # every place a message can end, the dots and the mark included
        assert _through(UploadNames, body, [cut]) == want, cut
    assert _through(UploadNames, body, list(range(1, len(body)))) == want  # a byte at a time
    assert _through(UploadNames, body, [], path="/gradio_api/queue/join") == body  # other routes untouched
    assert _through(UploadNames, body, [], ctype=b"application/json") == body


# --- a real Gradio server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")


@pytest.fixture
def gradio_server():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from starlette.middleware import Middleware

    started = []

    def start(demo, middleware=()):
        port = _free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, auth=("user", "pass"), prevent_thread_lock=True,
                    quiet=True, ssr_mode=False, app_kwargs={"middleware": [Middleware(SecurityHeaders), *middleware]})
        started.append(demo)
        return f"http://127.0.0.1:{port}"

    yield gr, Middleware, start
    for demo in started:
        demo.close()


@pytest.mark.slow
def test_real_gradio_login_is_throttled(gradio_server):
    gr, Middleware, start = gradio_server
    with gr.Blocks() as demo:
        gr.Markdown("hello")
    base = start(demo, [Middleware(LoginThrottle, max_failures=3, base_delay=0.01, max_delay=0.05,
                                   lockout=1.0, max_lockout=2.0)])

    def login(password):
        return _fetch(base + "/login", urllib.parse.urlencode({"username": "user", "password": password}).encode())

    for _ in range(3):
        status, headers, body = login("wrong")
        assert status == 400 and "Incorrect credentials" in body
        assert headers["content-security-policy"] == CSP
    status, headers, body = login("pass")  # locked out: refused without checking
    assert status == 429
    assert int(headers["retry-after"]) == 1
    assert body == "登录失败次数过多，请 1 秒后再试。"
    assert "set-cookie" not in headers
    import time

    time.sleep(1.1)  # the (tiny) lockout ends
    status, headers, body = login("pass")
    assert status == 200 and '"success":true' in body.replace(" ", "")
    assert any(c.startswith("access-token-") for c in headers.get_all("set-cookie"))
    assert _fetch(base + "/config")[0] == 401  # other routes untouched by the throttle


@pytest.mark.slow
def test_with_auth_data_loaded_by_demo_load_is_not_public(gradio_server):
    gr, Middleware, start = gradio_server
    marker = "SECRET-DOC-NAME"
    rows = [[f"{marker}.txt", "标题"]]
    with gr.Blocks() as demo:
        table = gr.Dataframe(headers=["文件", "标题"], interactive=False)
        pick = gr.Dropdown([], value=None, label="删除文档")
        out = gr.Textbox()
        gr.Button("删除").click(lambda p, t: str(p), [pick, table], [out])
        demo.load(lambda: (rows, gr.update(choices=[marker])), None, [table, pick])
    base = start(demo)
    for path in ("/", "/?all_endpoints=true", "/config", "/gradio_api/info", "/gradio_api/runs"):
        status, _, body = _fetch(base + path)
        assert marker not in body, path
    assert _fetch(base + "/config")[0] == 401


@pytest.mark.slow
def test_with_auth_initial_values_of_inputs_leak_on_the_login_page(gradio_server):
    """Documents a Gradio 6 behaviour: the login page (GET / without a cookie) embeds the API
    description, with the initial value of every input component and every Dropdown's choices —
    unless the event is api_visibility="private"."""
    gr, Middleware, start = gradio_server
    marker = "SECRET-DOC-NAME"
    with gr.Blocks() as demo:
        table = gr.Dataframe([[f"{marker}.txt", "标题"]], headers=["文件", "标题"], interactive=False)
        out = gr.Textbox()
        gr.Button("a").click(lambda t: "", [table], [out])
    base = start(demo)
    assert marker in _fetch(base + "/")[2]
    with gr.Blocks() as private:
        table = gr.Dataframe([[f"{marker}.txt", "标题"]], headers=["文件", "标题"], interactive=False)
        pick = gr.Dropdown([marker], value=None)
        out = gr.Textbox()
        gr.Button("a").click(lambda t, p: "", [table, pick], [out], api_visibility="private")
    base = start(private)
    for path in ("/", "/?all_endpoints=true"):
        assert marker not in _fetch(base + path)[2], path


# --- X-Forwarded-For through the real `assistant serve` (issue 19, defect 1)

def _login(base, password, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    data = urllib.parse.urlencode({"username": "user", "password": password}).encode()
    return _fetch(base + "login", data, headers)[0]


@pytest.fixture
def served(tmp_path):
    """`assistant serve` with a login, on one seed report and the hashing embedder (the throttle is
    what is tested, not retrieval)."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copyfile(SEEDS / SEED_IDS[0], seeds / SEED_IDS[0])
    started = []

    def start(**env):
        s = Served(tmp_path / f"index{len(started)}", {"ASSISTANT_AUTH": "user:pass", "ASSISTANT_EMBED_MODEL": "hash",
                                                       **env}, tmp_path / f"serve{len(started)}.log", seeds=seeds)
        started.append(s)
        return s.url

    yield start
    for s in started:
        s.stop()


@pytest.mark.slow
def test_a_forged_x_forwarded_for_does_not_reset_the_login_throttle(served):
    """Each guess claims another address in X-Forwarded-For. The server must count them all against
    the one TCP peer: the 6th attempt is refused (429) even with the right password and a fresh
    forged address. Before the fix uvicorn believed the header from loopback, so every guess was a
    new client and the right password got in."""
    base = served()
    for n in range(5):
        assert _login(base, "wrong", f"198.51.100.{n + 1}") == 400
    assert _login(base, "pass", "198.51.100.77") == 429
    assert _login(base, "pass") == 429


@pytest.mark.slow
def test_x_forwarded_for_counts_only_from_a_named_proxy(served):
    """Behind a reverse proxy the administrator names (ASSISTANT_TRUSTED_PROXIES), the address the
    proxy forwards is the client: one locked-out user does not lock out another behind the proxy."""
    base = served(ASSISTANT_TRUSTED_PROXIES="127.0.0.1")
    for _ in range(5):
        assert _login(base, "wrong", "203.0.113.9") == 400
    assert _login(base, "pass", "203.0.113.9") == 429
    assert _login(base, "pass", "203.0.113.10") == 200


def test_trusted_proxies_setting_is_checked():
    assert Settings.from_env({"ASSISTANT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"}).proxy_list == [
        "127.0.0.1", "10.0.0.0/8", "::1"]
    assert Settings.from_env({}).proxy_list == []
    with pytest.raises(AssistantError, match="ASSISTANT_TRUSTED_PROXIES: 'nginx' is not an IP address"):
        Settings.from_env({"ASSISTANT_TRUSTED_PROXIES": "127.0.0.1,nginx"})
