"""The ASGI middleware under Starlette and FastAPI (uvicorn) and the WSGI middleware under
Flask (werkzeug) and wsgiref, over real HTTP on 127.0.0.1, answering like SigilHummingbird."""

# No `from __future__ import annotations`: FastAPI reads the route's annotations at runtime.
import logging
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Tuple

import pytest
from conftest import AUDIENCE, KEY, Answer, free_socket, get, make_list, make_token, wait_until

import sigil_verify as sv
from sigil_verify import ed25519
from sigil_verify.asgi import SigilASGIMiddleware
from sigil_verify.wsgi import SigilWSGIMiddleware, sigil_token

PERMISSION = sv.Permission("devices.list", "write")


def new_verifier() -> Tuple[sv.Verifier, sv.RevocationStore]:
    store = sv.RevocationStore({"r1": ed25519.public_key(b"\x11" * 32)}, when_no_list="fail_closed")
    return sv.Verifier(AUDIENCE, {"k1": KEY}, revocations=store), store


def run_table(port: int, store: sv.RevocationStore, caplog: pytest.LogCaptureFixture, repeated_reason: str) -> None:
    """Every kind of answer, in one pass; the token never appears in an answer or a log."""
    caplog.set_level(logging.DEBUG)
    good, _ = make_token("all")
    read_only, _ = make_token("read-only")
    revoked, revoked_guid = make_token("all")
    sent: List[str] = [good, read_only, revoked]

    def bearer(token: str) -> List[Tuple[str, str]]:
        return [("Authorization", f"Bearer {token}")]

    def check(a: Answer, status: int, www: Any, body: Dict[str, str]) -> None:
        assert a.status == status, a
        assert a.headers.get("WWW-Authenticate") == www, a
        assert a.json() == body, a
        assert a.headers.get("Cache-Control") == "no-store"
        for t in sent:
            assert t not in a.body.decode() and t not in str(dict(a.headers))

    # No list yet and the policy fails closed: 503, no challenge.
    check(get(port, "/protected", bearer(good)), 503, None, {"error": "temporarily_unavailable", "reason": "revocations_stale"})
    store.load(make_list([(revoked_guid, 2)], sequence=1))

    check(get(port, "/protected"), 401, "Bearer", {"error": "missing_token"})
    check(get(port, "/protected", [("Authorization", "Basic dXNlcjpwYXNz")]), 401, "Bearer", {"error": "missing_token"})
    malformed = {"error": "invalid_request", "reason": "malformed_authorization"}
    for value in ("Bearer", "Bearer a b", "Bearer sgl_a,b", "bearer\tsgl_x"):
        a = get(port, "/protected", [("Authorization", value)])
        if value == "bearer\tsgl_x":  # the scheme is "bearer\tsgl_x": not Bearer at all
            check(a, 401, "Bearer", {"error": "missing_token"})
        else:
            check(a, 400, 'Bearer error="invalid_request"', malformed)
    two = get(port, "/protected", bearer(good) + bearer(good))
    check(two, 400, 'Bearer error="invalid_request"', {"error": "invalid_request", "reason": repeated_reason})
    for token, reason in (("sgl_nope", "malformed"), (good[:-2] + "AA", None), (revoked, "revoked")):
        a = get(port, "/protected", bearer(token))
        why = reason or a.json()["reason"]  # type: ignore[index]
        assert why in ("malformed", "bad_signature", "revoked")
        check(a, 401, f'Bearer error="invalid_token", error_description="{why}"', {"error": "invalid_token", "reason": why})
    check(
        get(port, "/protected", bearer(read_only)),
        403,
        'Bearer error="insufficient_scope", scope="devices.list"',
        {"error": "insufficient_scope", "reason": "scope_not_granted", "scope": "devices.list"},
    )
    ok = get(port, "/protected", [("authorization", f"BEARER   {good}")])
    assert ok.status == 200, ok
    assert ok.json() == {"guid": sv.parse_token(good).claims.guid}
    for t in sent:
        assert t not in caplog.text


# ---------------------------------------------------------------------------------------------
# ASGI: Starlette and FastAPI under uvicorn


@pytest.fixture
def uvicorn_serve() -> Iterator[Callable[[Any], int]]:
    uvicorn = pytest.importorskip("uvicorn")
    servers: List[Tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> int:
        sock = free_socket()
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread))
        assert wait_until(lambda: server.started, 10), "uvicorn did not start"
        port: int = sock.getsockname()[1]
        return port

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def test_asgi_middleware_with_starlette(uvicorn_serve: Callable[[Any], int], caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    verifier, store = new_verifier()

    async def protected(request: Request) -> JSONResponse:
        return JSONResponse({"guid": request.state.sigil_token.guid})

    app = Starlette(
        routes=[Route("/protected", protected)],
        middleware=[Middleware(SigilASGIMiddleware, verifier=verifier, permission=PERMISSION)],
    )
    run_table(uvicorn_serve(app), store, caplog, "multiple_authorization_headers")


def test_asgi_middleware_with_fastapi(uvicorn_serve: Callable[[Any], int], caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI, Request

    verifier, store = new_verifier()
    app = FastAPI()
    app.add_middleware(SigilASGIMiddleware, verifier=verifier, permission=PERMISSION)

    @app.get("/protected")
    async def protected(request: Request) -> Dict[str, str]:
        return {"guid": request.state.sigil_token.guid}

    run_table(uvicorn_serve(app), store, caplog, "multiple_authorization_headers")


def test_asgi_passes_lifespan_checks_websockets_and_keeps_state() -> None:
    """Lifespan goes straight through, a WebSocket handshake is checked like a request, and
    the app's own state survives next to the token."""
    import asyncio

    verifier, store = new_verifier()
    store.load(make_list([], sequence=1))
    seen: List[Dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    mw = SigilASGIMiddleware(app, verifier)
    good, _ = make_token()

    sent: List[Dict[str, Any]] = []

    async def send(message: Dict[str, Any]) -> None:
        sent.append(message)

    async def go() -> None:
        await mw({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
        scope = {"type": "http", "headers": [(b"authorization", f"Bearer {good}".encode())], "state": {"db": 1}}
        await mw(scope, None, None)  # type: ignore[arg-type]
        await mw({"type": "websocket", "headers": []}, None, send)  # type: ignore[arg-type]
        await mw({"type": "websocket", "headers": [(b"authorization", f"Bearer {good}".encode())]}, None, send)  # type: ignore[arg-type]

    asyncio.run(go())
    assert seen[0] == {"type": "lifespan"}
    assert seen[1]["state"]["db"] == 1 and seen[1]["state"]["sigil_token"].guid == sv.parse_token(good).claims.guid
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert len(seen) == 3 and seen[2]["type"] == "websocket"


# ---------------------------------------------------------------------------------------------
# WSGI: Flask under werkzeug, and a bare app under wsgiref


def test_wsgi_middleware_with_flask(caplog: pytest.LogCaptureFixture) -> None:
    flask = pytest.importorskip("flask")
    from werkzeug.serving import make_server

    verifier, store = new_verifier()
    app = flask.Flask("sigil-test")

    @app.get("/protected")
    def protected() -> Dict[str, str]:
        claims = sigil_token(flask.request.environ)
        assert claims is not None
        return {"guid": claims.guid}

    app.wsgi_app = SigilWSGIMiddleware(app.wsgi_app, verifier, PERMISSION)  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # werkzeug joins two Authorization headers with a comma: not one b64token.
        run_table(server.port, store, caplog, "malformed_authorization")
    finally:
        server.shutdown()
        thread.join(10)


def test_wsgi_middleware_with_wsgiref(caplog: pytest.LogCaptureFixture) -> None:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    def inner(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        claims = sigil_token(environ)
        assert claims is not None
        start_response("200 OK", [("Content-Type", "application/json")])
        return [('{"guid":"%s"}' % claims.guid).encode()]

    verifier, store = new_verifier()
    httpd = make_server("127.0.0.1", 0, SigilWSGIMiddleware(inner, verifier, PERMISSION), Server, Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        run_table(httpd.server_address[1], store, caplog, "malformed_authorization")
    finally:
        httpd.shutdown()
        thread.join(10)


def test_read_credentials_matches_bearer_credentials() -> None:
    rc = sv.read_credentials
    assert rc([]).kind == "absent"
    assert rc(["Basic x"]).kind == "absent"
    assert rc(["Bearerx y"]).kind == "absent"
    assert rc(["Bearer"]).kind == "malformed"
    assert rc(["Bearer "]).kind == "malformed"
    assert rc(["Bearer a=b"]).kind == "malformed"
    assert rc(["Bearer é"]).kind == "malformed"
    assert rc(["a", "b"]).kind == "repeated"
    c = rc(["bEaReR  abc-._~+/=="])
    assert (c.kind, c.token) == ("bearer", "abc-._~+/==")
    assert "abc" not in repr(c)
    start = time.monotonic()
    assert rc(["Bearer " + "a" * 100_000 + " "]).kind == "malformed"
    assert time.monotonic() - start < 1
