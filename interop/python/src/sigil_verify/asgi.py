"""ASGI middleware (Starlette, FastAPI, any ASGI 3 app): `pip install sigil-verify[asgi]`
brings Starlette for the tests and examples; the middleware itself needs nothing.

    app.add_middleware(SigilASGIMiddleware, verifier=verifier, permission=Permission("devices.list", "read"))

An accepted request reaches the app with the token's Claims in `scope["state"]["sigil_token"]`
(Starlette / FastAPI: `request.state.sigil_token`). A refusal is answered here (see
sigil_verify.bearer). A WebSocket handshake is checked the same way and refused with
`websocket.close` (code 1008, which servers answer with HTTP 403) so that a socket route is
never left open by accident; lifespan events pass through.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, MutableMapping, Optional

from .bearer import Challenge, authorize
from .core import Claims, Permission, Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["SigilASGIMiddleware", "sigil_token"]


class SigilASGIMiddleware:
    """Lets an HTTP request through only if it carries a Sigil token that verifies and, when
    `permission` is given, grants it."""

    def __init__(self, app: ASGIApp, verifier: Verifier, permission: Optional[Permission] = None) -> None:
        self.app = app
        self.verifier = verifier
        self.permission = permission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"authorization"]
        result = authorize(self.verifier, values, self.permission)
        if isinstance(result, Challenge):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _answer(result, send)
            return
        state: Dict[str, Any] = dict(scope.get("state") or {})
        state["sigil_token"] = result
        await self.app({**scope, "state": state}, receive, send)


async def _answer(challenge: Challenge, send: Send) -> None:
    body = challenge.body.encode("ascii")
    headers = [(k.lower().encode("ascii"), v.encode("ascii")) for k, v in challenge.headers()]
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": challenge.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def sigil_token(scope: Scope) -> Optional[Claims]:
    """The claims the middleware put in an accepted request's scope."""
    state = scope.get("state") or {}
    found = state.get("sigil_token")
    return found if isinstance(found, Claims) else None
