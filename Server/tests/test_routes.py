"""#21 item 7: the 405 table derives from the registered routes, not a hand-kept list.

Every route the API documents (docs/openapi.yaml) and the console's two routes answer 405 to a
method they do not take, with `Allow` naming exactly the methods registered for them, in the
documented order (GET, HEAD, POST, PUT, PATCH, DELETE), and a JSON body with the error's code.
"""

import uuid
from pathlib import Path

import pytest
import yaml

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def documented_routes():
    spec = yaml.safe_load(OPENAPI.read_text())
    for path, item in spec["paths"].items():
        methods = [m.upper() for m in item if m.upper() in ORDER]
        yield path, methods
    # The console's routes are not API routes; they are registered the same way.
    yield "/", ["GET"]
    yield "/console/{file}", ["GET"]


ROUTES = list(documented_routes())


@pytest.mark.parametrize("pattern,methods", ROUTES, ids=[p for p, _ in ROUTES])
def test_every_registered_route_answers_405_with_its_methods(env, pattern, methods):
    path = pattern.replace("{guid}", str(uuid.uuid4())).replace("{file}", "app.js")
    allow = ", ".join(sorted(methods, key=ORDER.index))
    for other in [m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in methods][:2]:
        r = env.anonymous.request(other, path)
        assert r.status == 405, (other, path, r)
        assert r.header("Allow") == allow, (other, path, r.header("Allow"))
        body = r.json
        assert body["error"] == "method_not_allowed" and body["code"] == "invalid_input", body


def test_an_unknown_path_stays_404(env):
    r = env.anonymous.request("PUT", "/v1/no-such-route")
    assert r.status == 404 and r.json["error"] == "not_found"
