"""WSGI middleware (Flask, Django, any WSGI app), standard library only:

    app.wsgi_app = SigilWSGIMiddleware(app.wsgi_app, verifier, Permission("devices.list", "read"))

An accepted request reaches the app with the token's Claims in `environ["sigil.token"]`
(Flask: `request.environ["sigil.token"]`). A refusal is answered here (see sigil_verify.bearer).

WSGI servers join repeated headers into one `HTTP_AUTHORIZATION` value with a comma, which
is not a b64token: two Authorization headers are then 400 `malformed_authorization` rather
than `multiple_authorization_headers` (the same status and error).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .bearer import Challenge, authorize
from .core import Claims, Permission, Verifier

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

__all__ = ["SigilWSGIMiddleware", "sigil_token"]


class SigilWSGIMiddleware:
    """Lets a request through only if it carries a Sigil token that verifies and, when
    `permission` is given, grants it."""

    def __init__(self, app: WSGIApp, verifier: Verifier, permission: Optional[Permission] = None) -> None:
        self.app = app
        self.verifier = verifier
        self.permission = permission

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raw = environ.get("HTTP_AUTHORIZATION")
        values: List[str] = [] if raw is None else [str(raw)]
        result = authorize(self.verifier, values, self.permission)
        if isinstance(result, Challenge):
            body = result.body.encode("ascii")
            headers: List[Tuple[str, str]] = result.headers() + [("Content-Length", str(len(body)))]
            start_response(f"{result.status} {result.reason_phrase}", headers)
            return [body]
        environ["sigil.token"] = result
        return self.app(environ, start_response)


def sigil_token(environ: Environ) -> Optional[Claims]:
    """The claims the middleware put in an accepted request's environ."""
    found = environ.get("sigil.token")
    return found if isinstance(found, Claims) else None
